namespace FastRelay.Protocols.Quic.Streams;

/// <summary>
/// Stream id layout (RFC 9000 §2.1): bit 0 = initiator (0 client, 1 server), bit 1 = direction (0 bidirectional,
/// 1 unidirectional), the rest = the index among streams of that type (ids of a type are opened in index order).
/// </summary>
public static class StreamId
{
    /// <summary>Largest index: ids are varints (2^62-1), so 2^60 streams per type (also the MAX_STREAMS limit).</summary>
    public const ulong MaxCount = 1UL << 60;

    public static bool IsClientInitiated(ulong id) => (id & 1) == 0;

    public static bool IsUnidirectional(ulong id) => (id & 2) != 0;

    public static ulong Create(ulong index, bool client, bool uni) => (index << 2) | (uni ? 2UL : 0) | (client ? 0UL : 1);

    public static ulong Index(ulong id) => id >> 2;
}
