using FastRelay.Cli.Bench;
using Xunit;

namespace FastRelay.Tests.Bench;

/// <summary>The rate sweep reports what was sent and delivered, never what was asked (issue 11: a recorded 256,000 pps at
/// fan-out 64 would be more copies per second than two CPUs can make).</summary>
public class RateSweepTests
{
    private static ReceiverMeasurement Received(long received, long lost) => new(received, lost, 0, 10, 12, 20, 30, 40, 11, 1);

    [Fact]
    public void A_step_reports_the_senders_achieved_rate_and_the_copies_delivered()
    {
        var step = RateSweep.Judge(requestedPps: 8000, fanOut: 4, sent: 39_000, sentRatePps: 7_800, [Received(39_000, 0), Received(38_990, 10)]);
        Assert.Equal(7_800, step.AchievedPps);
        Assert.Equal(Math.Round(7_800 * 4 * (1 - 10.0 / 39_000), 1), step.CopiesPerSecond);
        Assert.True(step.IsClean);
    }

    [Fact]
    public void A_step_the_sender_could_not_keep_up_is_not_clean_even_without_loss()
    {
        var step = RateSweep.Judge(requestedPps: 256_000, fanOut: 64, sent: 500_000, sentRatePps: 100_000, [Received(500_000, 0), Received(500_000, 0)]);
        Assert.False(step.IsClean);
        Assert.Equal(100_000 * 64, step.CopiesPerSecond);
    }

    [Fact]
    public void Loss_at_either_measured_subscriber_makes_a_step_unclean()
    {
        Assert.False(RateSweep.Judge(4000, 2, 20_000, 4000, [Received(20_000, 0), Received(19_900, 100)]).IsClean);
        Assert.False(RateSweep.Judge(4000, 1, 0, 0, []).IsClean); // nothing sent, nothing measured: not a clean step
    }

    [Fact]
    public void The_highest_clean_step_is_the_last_one_before_the_first_unclean_step()
    {
        var steps = new[]
        {
            new BenchSweepStep(2000, 2000, 8000, 0), new BenchSweepStep(4000, 3990, 15960, 0),
            new BenchSweepStep(8000, 5000, 20000, 0),      // not achieved: the sweep stops here
            new BenchSweepStep(16000, 16000, 64000, 0),    // would be clean, but comes after the stop
        };
        Assert.Equal(3990, RateSweep.HighestClean(steps)!.AchievedPps);
        Assert.Null(RateSweep.HighestClean([new BenchSweepStep(2000, 2000, 2000, 0.01)]));
    }
}
