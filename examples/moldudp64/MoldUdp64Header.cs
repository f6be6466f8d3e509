using System;
using FastRelay.Descriptors;

namespace FastRelay.Examples.MoldUdp64;

/// <summary>A Nasdaq MoldUDP64 downstream packet (MoldUDP64 Protocol Specification 1.00): session (10 ASCII bytes),
/// sequence number of the first message (u64 BE), message count (u16 BE; 0 = heartbeat, 0xFFFF = end of session),
/// then that many message blocks (u16 BE length + message, e.g. ITCH 5.0).</summary>
[FastRelayProtocol("moldudp64", UdpPort = 26477, MaxSubscribers = 16, MaxChannels = 4)]
public sealed record MoldUdp64Header
{
    /// <summary>Session bytes 0..1, outside the channel key: ASCII, so their top bits are clear.</summary>
    [Match(0, Mask = 0x8080, Value = 0)]
    public ushort SessionHead { get; init; }

    /// <summary>Session bytes 2..9 are the channel: a channel key holds at most 8 bytes (docs/descriptor-gaps.md).</summary>
    [Channel(2)]
    public ulong SessionTail { get; init; }

    /// <summary>Advances by the message count, not by one: passed through (receivers gap-detect on it), never renumbered,
    /// and no KernelCachePackets (its slots, sequence mod N, would collide).</summary>
    [PacketNumber(10, Translate = false)]
    public ulong SequenceNumber { get; init; }

    [MessageCount(18)]
    public ushort MessageCount { get; init; }

    [Payload(20)]
    public ReadOnlyMemory<byte> MessageBlocks { get; init; }
}
