namespace FastRelay.Cli.Bench;

/// <summary>The four ways a stream can cross the relay namespace.</summary>
public enum BenchPath
{
    /// <summary>What the kernel itself can do: IP forwarding to one subscriber; for fan-out a clone-only TC program.</summary>
    Floor,

    /// <summary>FastRelay's generated TC programs.</summary>
    FastPath,

    /// <summary>FastRelay's userspace relay (same wire behaviour).</summary>
    Userspace,

    /// <summary>A minimal C fan-out relay with recvmmsg/sendmmsg: what a careful engineer would write instead.</summary>
    CRelay,
}

public sealed record BenchOptions
{
    public IReadOnlyList<int> FanOuts { get; init; } = [1, 4, 16, 64];
    public IReadOnlyList<BenchPath> Paths { get; init; } = [BenchPath.Floor, BenchPath.FastPath, BenchPath.Userspace, BenchPath.CRelay];
    public int RatePps { get; init; } = 2000;
    public int PacketSize { get; init; } = 256;
    public double DurationSeconds { get; init; } = 5;
    public double WarmupSeconds { get; init; } = 0.5;
    public int Repetitions { get; init; } = 3;

    /// <summary>Search the highest loss-free rate per path and fan-out (slow; off in --quick).</summary>
    public bool RateSweep { get; init; } = true;

    /// <summary>Busy-polling receivers need a core each; on a 2-core machine they would starve the relay, so they
    /// only busy-poll when there are at least 4 cores (the report states which).</summary>
    public bool BusyPoll { get; init; } = Environment.ProcessorCount >= 4;

    public string? JsonFile { get; init; }
    public string? OutDir { get; init; }
    public Action<string>? Progress { get; init; }

    /// <summary>The smoke run: one minute at most.</summary>
    public static BenchOptions Quick(BenchOptions o) => o with
    {
        FanOuts = o.FanOuts.Take(2).ToList(),
        DurationSeconds = 1.5,
        WarmupSeconds = 0.3,
        Repetitions = 1,
        RateSweep = false,
    };
}
