namespace FastRelay.Cli.Bench.Moq.Floor;

/// <summary>One fan-out of the kernel floor over its measured window (same warm-up, window and track as the relay runs).
/// Rates are achieved, never requested.</summary>
public sealed record MoqFloorPoint
{
    public required int FanOut { get; init; }
    public required double PublishedObjectsPerSecond { get; init; }
    public required double MeanObjectBytes { get; init; }
    /// <summary>Datagrams per object sent in the window (the fast-path packets our publisher would send).</summary>
    public required double DatagramsPerObject { get; init; }
    /// <summary>Objects sent in the window × receivers.</summary>
    public required long Expected { get; init; }
    /// <summary>Objects whose every datagram reached a receiver, over all receivers.</summary>
    public required long Delivered { get; init; }
    public required long Lost { get; init; }
    public required long Duplicates { get; init; }
    public required long LatencyP50Us { get; init; }
    public required long LatencyP90Us { get; init; }
    public required long LatencyP99Us { get; init; }
    public required long LatencyMaxUs { get; init; }
    /// <summary>Kernel time of the floor's TC ingress program over the window (its egress rewrite runs inside it), its
    /// runs, and the copies it made (datagrams sent between the two readings × fan-out). Zero time where bpf_stats could
    /// not be turned on, and then no per-copy figures.</summary>
    public required long KernelRunTimeNs { get; init; }
    public required long KernelRuns { get; init; }
    public required long KernelCopies { get; init; }
    /// <summary>TC ns per copy sent (the fast-path row's "TC ns/packet").</summary>
    public double? KernelNanosecondsPerPacket { get; init; }
    /// <summary>TC ns per delivered object copy: the floor's whole "relay CPU", as it has no relay process.</summary>
    public double? KernelNanosecondsPerObject { get; init; }
}

/// <summary>The kernel-floor run of `bench --profile moq`: how it was taken, and one point per fan-out.</summary>
public sealed record MoqFloorReport(string Method, IReadOnlyList<MoqFloorPoint> Points)
{
    public const string Notes =
        "kernel floor: bpf-templates/bench/clone_floor.bpf.c on the relay's upstream ingress clones each datagram to every receiver " +
        "(the fast path's technique with no QUIC state: no renumbering, no stream mapping, no events, no budget); no relay process, " +
        "so its relay CPU is the TC time only; receivers are UDP sockets without a QUIC stack, so its latency is the wire's and the kernel's";

    public MoqFloorPoint? At(int fanOut) => Points.FirstOrDefault(p => p.FanOut == fanOut);

    /// <summary>What a relay adds above the floor at one fan-out: its p50 minus the floor's (null without a floor point).</summary>
    public long? AddedP50Us(MoqBenchPoint relay) => At(relay.FanOut) is { } f ? relay.LatencyP50Us - f.LatencyP50Us : null;
}
