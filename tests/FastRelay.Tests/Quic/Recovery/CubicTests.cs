using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Tests.Quic.Connection;
using Xunit;

namespace FastRelay.Tests.Quic.Recovery;

public class CubicTests
{
    private const int Mds = 1200;

    private static SentPacket Packet(long timeSent, int size = Mds) =>
        new() { PacketNumber = 0, Space = PacketNumberSpace.ApplicationData, TimeSent = timeSent, Size = size, AckEliciting = true, InFlight = true };

    private static RttEstimator Rtt(long rtt)
    {
        var estimator = new RttEstimator();
        estimator.Update(rtt, 0, handshakeConfirmed: true, maxAckDelay: 0);
        return estimator;
    }

    /// <summary>Slow start up to <paramref name="windowSegments"/>, then one loss.</summary>
    private static CubicCongestionController AfterLossAt(int windowSegments, RttEstimator rtt, long now)
    {
        var cc = new CubicCongestionController(Mds, rtt);
        while (cc.CongestionWindow < windowSegments * (long)Mds)
        {
            var p = Packet(now - 1);
            cc.OnPacketSent(p);
            cc.OnPacketAcked(p, now);
        }
        var lost = Packet(now - 1);
        cc.OnPacketSent(lost);
        cc.OnPacketsLost(lost, Mds, now);
        return cc;
    }

    /// <summary>One round trip of ACK clocking: a full window sent at <paramref name="now"/>, all of it acknowledged one RTT later.</summary>
    private static void OneRound(CubicCongestionController cc, long now, long rtt)
    {
        long window = cc.CongestionWindow;
        var sent = new List<SentPacket>();
        for (long b = 0; b + Mds <= window; b += Mds)
        {
            var p = Packet(now);
            cc.OnPacketSent(p);
            sent.Add(p);
        }
        foreach (var p in sent) cc.OnPacketAcked(p, now + rtt);
    }

    [Fact]
    public void LossReducesToSeventyPercentAndRemembersTheWindow()
    {
        var cc = AfterLossAt(100, Rtt(100_000), 10_000_000);
        Assert.Equal(100 * Mds, cc.WindowBeforeReduction, tolerance: Mds);
        Assert.InRange(cc.CongestionWindow, 0.69 * 100 * Mds, 0.71 * 100 * Mds);
        Assert.Equal(cc.CongestionWindow, cc.SlowStartThreshold);
        // K = cbrt(W_max·(1−β)/C) in segments: cbrt(100·0.3/0.4) = 4.217 s.
        Assert.InRange(cc.TimeToWindowBeforeReduction, 4_150_000, 4_280_000);
    }

    [Fact]
    public void OneReductionPerRecoveryPeriod()
    {
        var cc = AfterLossAt(100, Rtt(100_000), 10_000_000);
        long afterFirst = cc.CongestionWindow;
        var sentBefore = Packet(9_000_000);
        cc.OnPacketSent(sentBefore);
        cc.OnPacketsLost(sentBefore, Mds, 10_050_000);
        Assert.Equal(afterFirst, cc.CongestionWindow);
        var sentAfter = Packet(10_060_000);
        cc.OnPacketSent(sentAfter);
        cc.OnPacketsLost(sentAfter, Mds, 10_200_000);
        Assert.True(cc.CongestionWindow < afterFirst);
    }

    [Fact]
    public void FastConvergenceLowersTheRememberedWindowWhenLossesComeEarlier()
    {
        var cc = AfterLossAt(100, Rtt(100_000), 10_000_000);
        long window = cc.CongestionWindow; // 70 segments, below W_max = 100
        var p = Packet(10_500_000);
        cc.OnPacketSent(p);
        cc.OnPacketsLost(p, Mds, 10_600_000);
        Assert.Equal(window * (1 + CubicCongestionController.Beta) / 2, cc.WindowBeforeReduction, tolerance: Mds);
    }

    [Fact]
    public void RegrowthIsConcaveUpToTheOldWindowAtKThenConvex()
    {
        const long rtt = 100_000;
        long now = 10_000_000;
        var cc = AfterLossAt(400, Rtt(rtt), now);
        long k = cc.TimeToWindowBeforeReduction; // cbrt(400·0.3/0.4) = 6.69 s
        var windows = new List<(long T, long W)>();
        for (long t = 0; t < 2 * k; t += rtt)
        {
            OneRound(cc, now + t, rtt);
            windows.Add((t + rtt, cc.CongestionWindow));
        }
        // Back at W_max (400 segments) K after the loss, and not before: halfway there in time it is still below.
        long At(long t) => windows.First(w => w.T >= t).W;
        Assert.InRange(At(k), 0.99 * 400 * Mds, 1.01 * 400 * Mds);
        Assert.InRange(At(k / 2), 0.90 * 400 * Mds, 0.98 * 400 * Mds);
        // Concave before K: growth per round shrinks; convex after K: it grows.
        long Growth(long around) { var i = windows.FindIndex(w => w.T >= around); return windows[i + 1].W - windows[i].W; }
        Assert.True(Growth(k / 4) > Growth(3 * k / 4), $"not concave: {Growth(k / 4)} <= {Growth(3 * k / 4)}");
        Assert.True(Growth(7 * k / 4) > Growth(5 * k / 4), $"not convex: {Growth(7 * k / 4)} <= {Growth(5 * k / 4)}");
        // At 2K the curve is at W_max + C·K³ = 520 segments; Reno after the same loss would be at 200 + 134.
        Assert.True(windows[^1].W > 480L * Mds, $"window at 2K: {windows[^1].W / Mds} segments");
    }

    [Fact]
    public void RenoFriendlyRegionWinsOnShortRttsAndSmallWindows()
    {
        // 1 ms RTT, 20 segments: the cubic curve barely moves in 100 rounds (0.1 s), Reno's estimate does.
        const long rtt = 1_000;
        long now = 10_000_000;
        var cc = AfterLossAt(20, Rtt(rtt), now);
        long start = cc.CongestionWindow;
        for (int round = 0; round < 100; round++) OneRound(cc, now + round * rtt, rtt);
        // α_cubic ≈ 0.53 segments per round until cwnd_prior, then 1: at least 40 segments more after 100 rounds.
        Assert.True(cc.CongestionWindow - start >= 40L * Mds, $"grew {(cc.CongestionWindow - start) / Mds} segments in 100 rounds");
    }

    [Fact]
    public void PersistentCongestionCollapsesToTheMinimumWindow()
    {
        var cc = AfterLossAt(100, Rtt(100_000), 10_000_000);
        cc.OnPersistentCongestion();
        Assert.Equal(cc.MinimumWindow, cc.CongestionWindow);
        OneRound(cc, 20_000_000, 100_000);
        Assert.True(cc.CongestionWindow > cc.MinimumWindow);
    }

    [Fact]
    public void ANewPathStartsOverInSlowStart()
    {
        var cc = AfterLossAt(100, Rtt(100_000), 10_000_000);
        cc.ResetForNewPath();
        Assert.Equal(cc.InitialWindow, cc.CongestionWindow);
        Assert.True(cc.InSlowStart);
        Assert.Equal(0, cc.WindowBeforeReduction);
    }

    [Fact]
    public void ApplicationLimitedAcksDoNotGrowTheWindow()
    {
        var cc = AfterLossAt(100, Rtt(100_000), 10_000_000);
        cc.ApplicationLimited = true;
        long before = cc.CongestionWindow;
        OneRound(cc, 12_000_000, 100_000);
        Assert.Equal(before, cc.CongestionWindow);
    }

    [Fact]
    public void ConnectionsTransferUnderLossWithCubic()
    {
        var random = new Random(7);
        using var pair = new CorePair(c => c.CongestionControl = CongestionControlAlgorithm.Cubic,
            s => s.CongestionControl = CongestionControlAlgorithm.Cubic)
        { Lose = (_, index) => index > 2 && random.NextDouble() < 0.05 };
        Assert.True(pair.Handshake());
        Assert.IsType<CubicCongestionController>(pair.Client.CongestionControl);
        var payload = new byte[1 << 20];
        random.NextBytes(payload);
        var (_, received) = pair.Transfer(payload);
        Assert.Equal(payload, received);
        // The sender saw losses and reduced at least once: its remembered window is set.
        Assert.True(((CubicCongestionController)pair.Client.CongestionControl).WindowBeforeReduction > 0);
    }
}
