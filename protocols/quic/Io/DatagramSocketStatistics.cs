namespace FastRelay.Protocols.Quic.Io;

/// <summary>
/// What a <see cref="DatagramSocket"/> did so far: system calls made, and how many sent messages were GSO super-packets.
/// <paramref name="SegmentationOffload"/> is false once the kernel refused a segmented send (or never had it).
/// </summary>
public readonly record struct DatagramSocketStatistics(long SendCalls, long SegmentedMessages, long ReceiveCalls, bool SegmentationOffload,
    bool ReceiveCoalescing);
