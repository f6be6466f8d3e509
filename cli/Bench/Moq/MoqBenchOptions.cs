namespace FastRelay.Cli.Bench.Moq;

/// <summary>What `fastrelay bench --profile moq` measures and for how long.</summary>
public sealed record MoqBenchOptions
{
    public IReadOnlyList<int> FanOuts { get; init; } = [1, 4, 16, 64];

    /// <summary>The measured track: objects (frames) per second and payload bit rate, video-like (a key object 4× a
    /// delta, a group every half second).</summary>
    public double ObjectsPerSecond { get; init; } = 100;
    public long BitrateBitsPerSecond { get; init; } = 2_000_000;
    public int GopFrames { get; init; } = 50;
    public double KeyFrameRatio { get; init; } = 4;

    /// <summary>Objects sent before the measured window (connections settle, the relay's JIT is done).</summary>
    public double WarmupSeconds { get; init; } = 1;
    public double DurationSeconds { get; init; } = 5;
    /// <summary>Before the first fan-out, one unmeasured pass at fan-out 1 of a warm-up and this long, so a relay process
    /// that just started is not measured paying its start-up costs (0: none).</summary>
    public double RelayWarmupSeconds { get; init; } = 2;
    /// <summary>How long subscribers keep reading after the window, so objects sent at its end still count.</summary>
    public double DrainSeconds { get; init; } = 1;

    /// <summary>Search the highest loss-free object rate (skipped in --quick).</summary>
    public bool RateSweep { get; init; } = true;
    public int SweepFanOut { get; init; } = 4;
    /// <summary>Object size of the sweep (constant, so the rate is objects, not bytes).</summary>
    public int SweepObjectBytes { get; init; } = 1200;
    public IReadOnlyList<double> SweepRates { get; init; } = [250, 500, 1000, 2000, 4000, 8000, 16000];
    public double SweepStepSeconds { get; init; } = 2;

    /// <summary>Extra arguments for `fastrelay moq relay` (after --port).</summary>
    public IReadOnlyList<string> RelayArguments { get; init; } = [];
    /// <summary>Pin the relay to this CPU (null: let the scheduler place it).</summary>
    public int? RelayCpu { get; init; }

    /// <summary>After the relay run(s), the kernel floor at every fan-out (needs a lab: root, clang).</summary>
    public bool KernelFloor { get; init; } = true;

    /// <summary>Name prefix of the bench's lab (namespaces, veths, bpffs); null: fr + 4 random hex digits.</summary>
    public string? LabPrefix { get; init; }

    public string? JsonFile { get; init; }
    public Action<string>? Progress { get; init; }

    /// <summary>The smoke run: fan-outs 1 and 4, short windows, no sweep (well under a minute).</summary>
    public static MoqBenchOptions Quick(MoqBenchOptions o) => o with
    {
        FanOuts = o.FanOuts.Take(2).ToList(),
        WarmupSeconds = 0.5,
        DurationSeconds = 2,
        DrainSeconds = 0.5,
        RelayWarmupSeconds = 1,
        RateSweep = false,
    };
}
