namespace FastRelay.Protocols.Moq.Wire.Data;

/// <summary>
/// Serializes the objects of one subgroup stream after its header: Object ID Delta from the previous object, optional
/// properties (always present, maybe empty, when the header has the PROPERTIES bit), length, status or payload.
/// </summary>
public sealed class MoqSubgroupObjectWriter
{
    private readonly MoqSubgroupHeader _header;
    private ulong? _previousObjectId;

    public MoqSubgroupObjectWriter(MoqSubgroupHeader header) => _header = header;

    public ulong? LastObjectId => _previousObjectId;

    /// <summary>Writes one object's fields (not the payload bytes when <paramref name="includePayload"/> is false).</summary>
    public void Write(MoqWriter writer, ulong objectId, ReadOnlySpan<byte> payload, MoqObjectStatus status = MoqObjectStatus.Normal,
        IReadOnlyList<MoqKeyValuePair>? properties = null, bool includePayload = true)
    {
        if (_previousObjectId is { } previous && objectId <= previous) throw new ArgumentException("object IDs must increase within a subgroup", nameof(objectId));
        if (status != MoqObjectStatus.Normal && (payload.Length > 0 || properties is { Count: > 0 }))
            throw new ArgumentException("only Normal objects carry a payload or properties");
        if (!_header.HasProperties && properties is { Count: > 0 }) throw new ArgumentException("the header has no PROPERTIES bit");
        writer.WriteVarint(_previousObjectId is { } p ? objectId - p - 1 : objectId);
        if (_header.HasProperties) MoqObjectProperties.Write(writer, properties ?? Array.Empty<MoqKeyValuePair>());
        writer.WriteVarint((ulong)payload.Length);
        if (payload.Length == 0) writer.WriteVarint((ulong)status);
        else if (includePayload) writer.WriteBytes(payload);
        _previousObjectId = objectId;
    }
}
