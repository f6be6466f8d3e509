using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;

namespace FastRelay.Protocols.Moq.Relay.Model;

/// <summary>
/// One object as the relay forwards and caches it. A struct, so queues and the cache hold it without an allocation per
/// object; the payload and properties are slices of the buffer the upstream read allocated once, shared by the cache and
/// every subscriber (never copied per subscriber, never modified: the relay treats them as opaque).
/// </summary>
public readonly struct RelayObject
{
    public RelayObject(ulong group, ulong subgroup, ulong objectId, byte publisherPriority, ReadOnlyMemory<byte> payload,
        MoqObjectStatus status = MoqObjectStatus.Normal, IReadOnlyList<MoqKeyValuePair>? properties = null, bool isDatagram = false)
    {
        Group = group;
        Subgroup = subgroup;
        ObjectId = objectId;
        PublisherPriority = publisherPriority;
        Payload = payload;
        Status = status;
        Properties = properties ?? [];
        IsDatagram = isDatagram;
    }

    public ulong Group { get; }
    public ulong Subgroup { get; }
    public ulong ObjectId { get; }
    public byte PublisherPriority { get; }
    public MoqObjectStatus Status { get; }
    /// <summary>Object Forwarding Preference Datagram (else Subgroup). Forwarded the way it arrived.</summary>
    public bool IsDatagram { get; }
    /// <summary>The Object Properties as received; the relay passes them on (the list is shared, never modified).</summary>
    public IReadOnlyList<MoqKeyValuePair> Properties { get; }
    public ReadOnlyMemory<byte> Payload { get; }

    public MoqLocation Location => new(Group, ObjectId);

    /// <summary>What the object costs in a cache or a queue: its bytes plus a fixed charge for the bookkeeping.</summary>
    public long ChargedBytes => Payload.Length + OverheadBytes + (Properties.Count == 0 ? 0 : PropertiesBytes());

    private long PropertiesBytes()
    {
        long bytes = 0;
        foreach (var p in Properties) bytes += 24 + p.BytesValue.Length;
        return bytes;
    }

    /// <summary>The struct itself and its slot in a list or queue, charged so that a flood of empty objects is bounded too.</summary>
    public const int OverheadBytes = 64;

    /// <summary>Same location and the fields a duplicate must not change (draft-19 §"Caching Relays").</summary>
    public bool SameAs(in RelayObject other) =>
        Group == other.Group && ObjectId == other.ObjectId && Subgroup == other.Subgroup &&
        PublisherPriority == other.PublisherPriority && Status == other.Status && IsDatagram == other.IsDatagram &&
        Payload.Span.SequenceEqual(other.Payload.Span);
}
