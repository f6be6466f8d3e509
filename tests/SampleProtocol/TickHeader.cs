using System;
using FastRelay.Descriptors;

namespace SampleProtocol;

/// <summary>
/// A market-data tick header unlike either bundled profile: a little-endian magic, a 4-byte connection id, a
/// little-endian 32-bit channel, a big-endian 16-bit stream id and a little-endian 64-bit sequence at an odd offset.
/// <code>
///  0..1 magic (LE 0xFEED) | 2 type | 3 flags+prio(bits 4..6, higher = urgent) | 4..7 cid | 8..11 channel (LE)
///  12..13 stream (BE) | 14 reserved | 15..22 sequence (LE) | 23 reserved | 24.. payload
/// </code>
/// </summary>
[FastRelayProtocol("tick_feed", UdpPort = 9100, MaxSubscribers = 8, MaxChannels = 4, PriorityDrop = true)]
public sealed record TickHeader
{
    [Match(0, ByteOrder = ByteOrder.LittleEndian, Value = 0xFEED, Scope = MatchScope.Connection)]
    public ushort Magic { get; init; }

    /// <summary>Type 1 = tick (fast path); anything else goes to userspace only.</summary>
    [Match(2, Value = 0x01)]
    public byte Type { get; init; }

    [Priority(3, FirstBit = 4, Bits = 3, Order = UrgencyOrder.HigherIsMoreUrgent)]
    public byte Flags { get; init; }

    [ConnectionId(4, 4)]
    public byte[] ConnectionId { get; init; } = [];

    [Channel(8, ByteOrder = ByteOrder.LittleEndian)]
    public uint Instrument { get; init; }

    [StreamId(12, Translate = true)]
    public ushort Stream { get; init; }

    [PacketNumber(15, ByteOrder = ByteOrder.LittleEndian)]
    public ulong Sequence { get; init; }

    [Payload(24)]
    public ReadOnlyMemory<byte> Payload { get; init; }
}
