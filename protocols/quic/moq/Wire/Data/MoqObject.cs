namespace FastRelay.Protocols.Moq.Wire.Data;

/// <summary>
/// One received or to-be-sent object: where it is (group, subgroup, object), its publisher priority, status,
/// properties and payload. For parsed objects <see cref="Payload"/> and the property values may slice the receive
/// buffer they came from: copy them (or finish with them) before that buffer is reused.
/// </summary>
public sealed record MoqObject
{
    public ulong GroupId { get; init; }
    /// <summary>Null for an object that travels as a datagram (it has no subgroup).</summary>
    public ulong? SubgroupId { get; init; }
    public ulong ObjectId { get; init; }
    public byte PublisherPriority { get; init; }
    public MoqObjectStatus Status { get; init; }
    public IReadOnlyList<MoqKeyValuePair> Properties { get; init; } = Array.Empty<MoqKeyValuePair>();
    public ReadOnlyMemory<byte> Payload { get; init; }

    /// <summary>For a received object: when the receiving session had all of it (its last byte read, before it was
    /// queued for the application), as a <see cref="System.Diagnostics.Stopwatch"/> timestamp; 0 for objects not
    /// received. Not part of equality.</summary>
    public long ReceivedTimestamp { get; init; }

    public MoqLocation Location => new(GroupId, ObjectId);

    public bool Equals(MoqObject? other) =>
        other is not null && GroupId == other.GroupId && SubgroupId == other.SubgroupId && ObjectId == other.ObjectId &&
        PublisherPriority == other.PublisherPriority && Status == other.Status &&
        Properties.SequenceEqual(other.Properties) && Payload.Span.SequenceEqual(other.Payload.Span);

    public override int GetHashCode() => HashCode.Combine(GroupId, SubgroupId, ObjectId, Status, Payload.Length);
}
