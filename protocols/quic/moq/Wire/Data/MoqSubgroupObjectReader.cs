namespace FastRelay.Protocols.Moq.Wire.Data;

/// <summary>
/// Reads the objects that follow a SUBGROUP_HEADER, from bytes that arrive in pieces: Object ID Delta, [Properties],
/// Payload Length, [Object Status when the length is 0], [Payload]. State (the previous Object ID) only advances when a
/// whole object is returned, so the caller can retry the same bytes with more appended. Lengths are checked against
/// <see cref="MoqDataLimits"/> before the caller is told to wait for them.
/// </summary>
public sealed class MoqSubgroupObjectReader
{
    private readonly MoqSubgroupHeader _header;
    private readonly MoqDataLimits _limits;
    private readonly byte _defaultPriority;
    private ulong? _previousObjectId;
    private ulong? _subgroupId;

    /// <param name="defaultPriority">The subscription's publisher priority, for headers with DEFAULT_PRIORITY.</param>
    public MoqSubgroupObjectReader(MoqSubgroupHeader header, byte defaultPriority = 128, MoqDataLimits? limits = null)
    {
        _header = header;
        _limits = limits ?? MoqDataLimits.Default;
        _defaultPriority = defaultPriority;
        _subgroupId = header.SubgroupIdMode switch
        {
            MoqSubgroupIdMode.Zero => 0,
            MoqSubgroupIdMode.Explicit => header.SubgroupId,
            _ => null, // the first object's ID
        };
    }

    public MoqSubgroupHeader Header => _header;

    /// <summary>The Subgroup ID, once known (mode FirstObjectId learns it from the first object).</summary>
    public ulong? SubgroupId => _subgroupId;

    /// <summary>The last Object ID read, if any (to check the end of a group on FIN).</summary>
    public ulong? LastObjectId => _previousObjectId;

    /// <summary>
    /// Tries to read one object from the start of <paramref name="source"/>. On Complete, <paramref name="consumed"/>
    /// bytes make up the object and its payload slices <paramref name="source"/>. On NeedMoreData,
    /// <paramref name="needed"/> is a lower bound on the total bytes required (the payload is already included once its
    /// length is known).
    /// </summary>
    public MoqParseStatus TryRead(ReadOnlyMemory<byte> source, out MoqObject obj, out int consumed, out int needed, out MoqError error)
    {
        obj = null!;
        consumed = 0;
        needed = source.Length + 1;
        error = MoqError.None;
        var span = source.Span;
        int at = 0;
        if (!MoqVarint.TryRead(span, out ulong delta, out int n)) return MoqParseStatus.NeedMoreData;
        at += n;
        ulong objectId;
        if (_previousObjectId is { } previous)
        {
            if (delta > ulong.MaxValue - previous || delta + previous == ulong.MaxValue) { error = MoqError.Protocol("object ID overflows"); return MoqParseStatus.Malformed; }
            objectId = previous + delta + 1;
        }
        else objectId = delta;

        IReadOnlyList<MoqKeyValuePair> properties = Array.Empty<MoqKeyValuePair>();
        if (_header.HasProperties)
        {
            var status0 = MoqObjectProperties.TryRead(source, ref at, _limits, out var list, out error);
            if (status0 != MoqParseStatus.Complete) return status0;
            properties = list;
        }
        if (!MoqVarint.TryRead(span[at..], out ulong payloadLength, out n)) return MoqParseStatus.NeedMoreData;
        at += n;
        if (payloadLength > (ulong)_limits.MaxObjectPayload) { error = MoqError.Protocol("object payload over the local limit"); return MoqParseStatus.TooLarge; }
        var status = MoqObjectStatus.Normal;
        if (payloadLength == 0)
        {
            if (!MoqVarint.TryRead(span[at..], out ulong rawStatus, out n)) return MoqParseStatus.NeedMoreData;
            at += n;
            if (!TryStatus(rawStatus, out status, out error)) return MoqParseStatus.Malformed;
            if (status != MoqObjectStatus.Normal && properties.Count > 0) { error = MoqError.Protocol("properties on an object that is not Normal"); return MoqParseStatus.Malformed; }
        }
        if ((ulong)(span.Length - at) < payloadLength)
        {
            needed = at + (int)payloadLength;
            return MoqParseStatus.NeedMoreData;
        }
        var payload = source.Slice(at, (int)payloadLength);
        at += (int)payloadLength;

        _subgroupId ??= objectId;
        _previousObjectId = objectId;
        obj = new MoqObject
        {
            GroupId = _header.GroupId,
            SubgroupId = _subgroupId,
            ObjectId = objectId,
            PublisherPriority = _header.PublisherPriority ?? _defaultPriority,
            Status = status,
            Properties = properties,
            Payload = payload,
        };
        consumed = at;
        needed = at;
        return MoqParseStatus.Complete;
    }

    internal static bool TryStatus(ulong raw, out MoqObjectStatus status, out MoqError error)
    {
        status = (MoqObjectStatus)raw;
        error = MoqError.None;
        if (raw is 0 or 3 or 4) return true;
        error = MoqError.Protocol("unknown object status");
        return false;
    }
}
