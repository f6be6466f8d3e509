using FastRelay.Descriptors;

namespace FastRelay.Protocols.Quic;

/// <summary>
/// The thesis layout of a fast-path eligible QUIC 1-RTT packet (disable_1rtt_encryption negotiated, so header and
/// payload are readable): a short header with an 8-byte destination connection id whose first byte is the
/// priority and whose next four bytes name the channel (track), a 4-byte packet number, and exactly one STREAM
/// frame whose stream id is a varint forced to 8 bytes.
/// <code>
///  0        1         2 .. 5     6 .. 8    9 .. 12        13           14 .. 21
/// +--------+---------+----------+---------+--------------+------------+-----------------+----
/// |0 1 S R R K P P| prio | channel | random | packet number | 0b00001OLF | stream id (8B) | ...
/// +--------+---------+----------+---------+--------------+------------+-----------------+----
/// </code>
/// </summary>
[FastRelayProtocol("quic_moq", UdpPort = 4433, MaxSubscribers = 64, MaxChannels = 64, PriorityDrop = true)]
public sealed partial record QuicMoqHeader
{
    /// <summary>Short header, fixed bit set, reserved bits clear, 4-byte packet number (RFC 9000 §17.3.1).</summary>
    [Match(0, Mask = 0xDB, Value = 0x43, Scope = MatchScope.Connection)]
    public byte FirstByte { get; init; }

    /// <summary>Destination connection id, replaced by the subscriber's own on every copy.</summary>
    [ConnectionId(1, 8)]
    public ReadOnlyMemory<byte> DestinationConnectionId { get; init; }

    /// <summary>The first connection id byte is the priority (the relay issues one connection id per priority).</summary>
    [Priority(1, Bits = 8, Order = UrgencyOrder.LowerIsMoreUrgent)]
    public byte Priority { get; init; }

    /// <summary>Bytes 2..5 of the connection id name the track this upstream connection carries.</summary>
    [Channel(2, Width = 4)]
    public uint Track { get; init; }

    [PacketNumber(9, Translate = true)]
    public uint PacketNumber { get; init; }

    /// <summary>One STREAM frame (types 0x08..0x0f) right after the packet number.</summary>
    [Match(13, Mask = 0xF8, Value = 0x08)]
    public byte FrameType { get; init; }

    [StreamId(14, Width = 8, Encoding = StreamIdEncoding.QuicVarint, Translate = true)]
    public ulong StreamId { get; init; }
}
