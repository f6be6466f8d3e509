namespace FastRelay.Cli.Bench;

/// <summary>What one step of the rate sweep achieved: the rate the sender really kept up (not the rate asked) and the copies
/// per second that reached subscribers. At fan-out 64 a requested 256,000 pps would be 16 million copies a second, more than
/// two CPUs can make; only what was sent and delivered may be reported.</summary>
public sealed record BenchSweepStep(int RequestedPps, double AchievedPps, double CopiesPerSecond, double LossFraction)
{
    /// <summary>Loss the sweep tolerates (receivers that start mid-burst see a few gaps at the edges).</summary>
    public const double MaxLossFraction = 0.001;

    /// <summary>Below this share of the rate asked, the sender (or the machine) did not achieve the step.</summary>
    public const double MinAchievedShare = 0.9;

    public bool IsClean => LossFraction <= MaxLossFraction && AchievedPps >= RequestedPps * MinAchievedShare;
}

/// <summary>The rate sweep's rules, apart from the lab that runs it so they can be tested: judge one step from what the
/// sender and the measured receivers reported, and pick the highest clean step.</summary>
public static class RateSweep
{
    /// <summary>The step of a sweep at <paramref name="requestedPps"/>. <paramref name="sentRatePps"/> is the sender's own
    /// achieved rate; loss is the worst of the measured receivers (the first and the last subscriber); copies per second
    /// are the achieved rate times the fan-out, less that loss (the unmeasured subscribers are assumed no worse).</summary>
    public static BenchSweepStep Judge(int requestedPps, int fanOut, long sent, double sentRatePps, IEnumerable<ReceiverMeasurement> measured)
    {
        var lost = measured.Select(m => m.Lost).DefaultIfEmpty(sent).Max();
        var lossFraction = sent > 0 ? Math.Min(1.0, (double)lost / sent) : 1.0;
        return new BenchSweepStep(requestedPps, Math.Round(sentRatePps, 1), Math.Round(sentRatePps * fanOut * (1 - lossFraction), 1), lossFraction);
    }

    /// <summary>The highest clean step before the first unclean one (the sweep stops there), or null.</summary>
    public static BenchSweepStep? HighestClean(IEnumerable<BenchSweepStep> steps) => steps.TakeWhile(s => s.IsClean).LastOrDefault();
}
