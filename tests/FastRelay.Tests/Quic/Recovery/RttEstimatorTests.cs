using Xunit;
using FastRelay.Protocols.Quic.Recovery;

namespace FastRelay.Tests.Quic.Recovery;

public class RttEstimatorTests
{
    [Fact]
    public void InitialValuesFollowKInitialRtt()
    {
        var rtt = new RttEstimator();
        Assert.False(rtt.HasSample);
        Assert.Equal(333_000, rtt.SmoothedRtt);
        Assert.Equal(166_500, rtt.RttVar);
        Assert.Equal(0, rtt.MinRtt);
        // PTO = 333 ms + 4·166.5 ms = 999 ms; + max_ack_delay when asked.
        Assert.Equal(999_000, rtt.ProbeTimeout(false, 25_000));
        Assert.Equal(1_024_000, rtt.ProbeTimeout(true, 25_000));
    }

    [Fact]
    public void FirstSampleSetsEverythingAndIgnoresAckDelay()
    {
        var rtt = new RttEstimator();
        rtt.Update(100_000, ackDelay: 40_000, handshakeConfirmed: true, maxAckDelay: 25_000);
        Assert.True(rtt.HasSample);
        Assert.Equal(100_000, rtt.LatestRtt);
        Assert.Equal(100_000, rtt.MinRtt);
        Assert.Equal(100_000, rtt.SmoothedRtt);
        Assert.Equal(50_000, rtt.RttVar);
    }

    [Fact]
    public void SmoothingUsesExactRfcWeights()
    {
        var rtt = new RttEstimator();
        rtt.Update(100_000, 0, false, 25_000);
        rtt.Update(120_000, 10_000, false, 25_000);
        // adjusted = 120 - 10 = 110 ms; rttvar = 3/4·50 + 1/4·|100-110| = 40 ms; srtt = 7/8·100 + 1/8·110 = 101.25 ms.
        Assert.Equal(100_000, rtt.MinRtt);
        Assert.Equal(40_000, rtt.RttVar);
        Assert.Equal(101_250, rtt.SmoothedRtt);
        Assert.Equal(120_000, rtt.LatestRtt);
    }

    [Fact]
    public void AckDelayIsClampedToMaxAckDelayOnlyAfterConfirmation()
    {
        var confirmed = new RttEstimator();
        confirmed.Update(100_000, 0, true, 25_000);
        confirmed.Update(150_000, 50_000, true, 25_000);
        // ack_delay 50 ms clamped to 25 ms: adjusted 125 ms.
        Assert.Equal((3 * 50_000 + 25_000) / 4, confirmed.RttVar);
        Assert.Equal((7 * 100_000 + 125_000) / 8, confirmed.SmoothedRtt);

        var unconfirmed = new RttEstimator();
        unconfirmed.Update(100_000, 0, false, 25_000);
        unconfirmed.Update(150_000, 50_000, false, 25_000);
        // Before confirmation the full 50 ms is subtracted: adjusted 100 ms.
        Assert.Equal(37_500, unconfirmed.RttVar);
        Assert.Equal(100_000, unconfirmed.SmoothedRtt);
    }

    [Fact]
    public void AckDelayIsNotSubtractedBelowMinRtt()
    {
        var rtt = new RttEstimator();
        rtt.Update(100_000, 0, false, 25_000);
        rtt.Update(105_000, 20_000, false, 25_000);
        // 105 - 20 = 85 < min_rtt 100: the raw 105 ms is used.
        Assert.Equal(38_750, rtt.RttVar);
        Assert.Equal(100_625, rtt.SmoothedRtt);
        rtt.Update(80_000, 0, false, 25_000);
        Assert.Equal(80_000, rtt.MinRtt);
    }

    [Fact]
    public void ProbeTimeoutUsesGranularityFloor()
    {
        var rtt = new RttEstimator();
        rtt.Update(200, 0, false, 0);
        // 4·rttvar = 400 µs < kGranularity 1 ms.
        Assert.Equal(1_200, rtt.ProbeTimeout(false, 25_000));
        Assert.Equal(26_200, rtt.ProbeTimeout(true, 25_000));
    }
}
