using FastRelay.Descriptors;

namespace FastRelay.Protocols.CustomUdp;

/// <summary>
/// The custom-UDP wire header: a compact gaming / market-data style datagram (docs: protocols/custom-udp/README.md).
/// <code>
///  0      1      2      3      4      5      6      7      8 .. 15         16 ..
/// +------+------+------+------+------+------+------+------+--------------+---------
/// | ver/ | prio | channel     | sequence                  | timestamp    | payload
/// | type |      | (BE u16)    | (BE u32)                  | (BE u64, ns) |
/// +------+------+------+------+------+------+------+------+--------------+---------
/// </code>
/// Byte 0: version in the high nibble (1), bit 3 set for DATA (fast path), bits 0..2 reserved.
/// Byte 1: priority in bits 0..2 (0 = most urgent), bits 3..7 application flags.
/// </summary>
[FastRelayProtocol("custom_udp", UdpPort = 7400, MaxSubscribers = 64, MaxChannels = 16, PriorityDrop = true, KernelCachePackets = 1024)]
public sealed partial record CustomUdpHeader
{
    /// <summary>Version 1 DATA packets (bit 3) are fast-path eligible and are the numbered ones: a DATA packet the relay's
    /// userspace sends to a subscriber is numbered by the kernel too. CONTROL packets (bit 3 clear) are never touched.</summary>
    [Match(0, Mask = 0xF8, Value = 0x18, Scope = MatchScope.Connection)]
    public byte VersionAndType { get; init; }

    [Priority(1, FirstBit = 0, Bits = 3, Order = UrgencyOrder.LowerIsMoreUrgent)]
    public byte PriorityAndFlags { get; init; }

    [Channel(2)]
    public ushort Channel { get; init; }

    /// <summary>Renumbered per subscriber: each subscriber sees a gapless sequence of what it was sent.</summary>
    [PacketNumber(4, Translate = true)]
    public uint Sequence { get; init; }

    [Payload(16)]
    public ReadOnlyMemory<byte> Payload { get; init; }
}
