using System.Text.Json;
using System.Text.Json.Serialization;
using FastRelay.Cli.Bench.Moq.Floor;

namespace FastRelay.Cli.Bench.Moq;

/// <summary>One fan-out's figures over the measured window. Rates are achieved, never requested.</summary>
public sealed record MoqBenchPoint
{
    public required int FanOut { get; init; }
    public required int SubscribersConnected { get; init; }
    /// <summary>Objects the publisher sent in the window, per second.</summary>
    public required double PublishedObjectsPerSecond { get; init; }
    public required double MeanObjectBytes { get; init; }
    /// <summary>Objects sent in the window × subscribers: what should have been delivered.</summary>
    public required long Expected { get; init; }
    public required long Delivered { get; init; }
    public required long Lost { get; init; }
    public required long Duplicates { get; init; }
    public required long IntegrityFailures { get; init; }
    public required long DeliveredBytes { get; init; }
    /// <summary>Delivered payload bytes per second, all subscribers together (Mbit/s).</summary>
    public required double EgressMegabitsPerSecond { get; init; }
    public required long LatencyP50Us { get; init; }
    public required long LatencyP90Us { get; init; }
    public required long LatencyP99Us { get; init; }
    public required long LatencyMaxUs { get; init; }
    /// <summary>Relay CPU over the window, ns, and as a share of one CPU.</summary>
    public required long RelayCpuNanoseconds { get; init; }
    public required double RelayCpuPercent { get; init; }
    public double? RelayCpuNanosecondsPerObject { get; init; }
    /// <summary>Relay CPU per delivered payload byte.</summary>
    public double? RelayCpuNanosecondsPerByte { get; init; }
    public double? RelayCyclesPerByte { get; init; }
    /// <summary>Fast path: stream bytes the kernel forwarded over the window, and their share of the delivered payload bytes.</summary>
    public long? KernelForwardedBytes { get; init; }
    public long? KernelForwardedPackets { get; init; }
    public double? KernelShare { get; init; }
    /// <summary>Fast path with encrypted subscribers: copies the kernel sealed over the window (its fr_quic_crypto_stats),
    /// and copies it refused because the 16-byte tag would take them past the device MTU (the relay's stack sent those).
    /// Null where the relay's object has no seal (or its counters could not be read).</summary>
    public long? KernelSealedCopies { get; init; }
    public long? KernelSealTooBig { get; init; }
    /// <summary>Copies dropped after taking a number because sealing failed (no keys, malformed, kernel crypto error).</summary>
    public long? KernelSealFailed { get; init; }
    /// <summary>Fast path: kernel time of the upstream ingress program (clones and their rewrite included) per packet the
    /// kernel forwarded, and the relay's CPU per delivered copy with that kernel time added (softirq time no relay thread
    /// is charged for). Null where bpf_stats could not be turned on.</summary>
    public double? KernelNanosecondsPerPacket { get; init; }
    public double? RelayCpuWithKernelNanosecondsPerObject { get; init; }
    /// <summary>Syscalls the relay process made over the window; per delivered object copy; per packet the kernel forwarded.</summary>
    public long? RelaySyscalls { get; init; }
    public double? RelaySyscallsPerObject { get; init; }
    public double? RelaySyscallsPerKernelPacket { get; init; }
    /// <summary>The relay's most frequent syscalls over the window.</summary>
    public IReadOnlyList<FastRelay.Cli.Bench.Native.SyscallCount>? RelayTopSyscalls { get; init; }
}

/// <summary>One step of the rate sweep.</summary>
public sealed record MoqBenchSweepStep(double RequestedObjectsPerSecond, double PublishedObjectsPerSecond, double DeliveredObjectsPerSecondPerSubscriber,
    long Lost, long LatencyP99Us, double RelayCpuPercent);

public sealed record MoqBenchMethod(
    string Relay,
    double ObjectsPerSecond,
    long BitrateBitsPerSecond,
    int GopFrames,
    double KeyFrameRatio,
    double WarmupSeconds,
    double DurationSeconds,
    string Transport,
    string Latency,
    string Cpu,
    string Syscalls,
    double? CpuMhz,
    string? CpuMhzSource);

public sealed record MoqBenchReport(
    DateTimeOffset Started,
    string Machine,
    MoqBenchMethod Method,
    IReadOnlyList<MoqBenchPoint> Points,
    IReadOnlyList<MoqBenchSweepStep> Sweep,
    double? MaxLossFreeObjectsPerSecond,
    string Anchor)
{
    /// <summary>The kernel floor measured after this run, in its lab (null when skipped: see <see cref="FloorSkipped"/>).</summary>
    public MoqFloorReport? Floor { get; init; }

    /// <summary>Why there is no floor (--no-floor, or no lab could be brought up).</summary>
    public string? FloorSkipped { get; init; }

    public const string MoqDevAnchor = "moq-dev relay: about 12.8-14.8 CPU cycles per egress byte (100 publishers x 8 subscribers, 3 Gbit/s)";

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}
