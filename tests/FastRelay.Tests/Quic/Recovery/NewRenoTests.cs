using Xunit;
using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Tests.Quic.Recovery;

public class NewRenoTests
{
    private static SentPacket Packet(long timeSent, int size = 1200, bool inFlight = true) =>
        new() { PacketNumber = 0, Space = PacketNumberSpace.ApplicationData, TimeSent = timeSent, Size = size, AckEliciting = true, InFlight = inFlight };

    [Fact]
    public void InitialAndMinimumWindows()
    {
        var cc = new NewRenoCongestionController(1200);
        Assert.Equal(12_000, cc.CongestionWindow);
        Assert.Equal(2_400, cc.MinimumWindow);
        Assert.Equal(14_720, new NewRenoCongestionController(1500).InitialWindow);
        Assert.Equal(long.MaxValue, cc.SlowStartThreshold);
        Assert.Throws<ArgumentOutOfRangeException>(() => new NewRenoCongestionController(1000));
    }

    [Fact]
    public void BytesInFlightAndCanSend()
    {
        var cc = new NewRenoCongestionController(1200);
        for (int i = 0; i < 10; i++)
        {
            Assert.True(cc.CanSend(1200));
            cc.OnPacketSent(Packet(0));
        }
        Assert.Equal(12_000, cc.BytesInFlight);
        Assert.False(cc.CanSend(1));
        cc.OnPacketSent(Packet(0, 50, inFlight: false)); // ACK-only: not counted
        Assert.Equal(12_000, cc.BytesInFlight);
        cc.RemoveFromBytesInFlight(Packet(0));
        Assert.Equal(10_800, cc.BytesInFlight);
        Assert.True(cc.CanSend(1200));
        Assert.False(cc.CanSend(1201));
    }

    [Fact]
    public void SlowStartGrowsByAckedBytes()
    {
        var cc = new NewRenoCongestionController(1200);
        var p = Packet(10);
        cc.OnPacketSent(p);
        cc.OnPacketAcked(p, 100);
        Assert.Equal(13_200, cc.CongestionWindow);
        Assert.Equal(0, cc.BytesInFlight);
        cc.OnPacketAcked(Packet(20, 500), 100);
        Assert.Equal(13_700, cc.CongestionWindow);
        Assert.True(cc.InSlowStart);
    }

    [Fact]
    public void ApplicationLimitedAcksDoNotGrowTheWindow()
    {
        var cc = new NewRenoCongestionController(1200) { ApplicationLimited = true };
        cc.OnPacketSent(Packet(10));
        cc.OnPacketAcked(Packet(10), 100);
        Assert.Equal(12_000, cc.CongestionWindow);
        Assert.Equal(0, cc.BytesInFlight);
    }

    [Fact]
    public void RecoveryPeriodReducesOncePerRound()
    {
        var cc = new NewRenoCongestionController(1200);
        for (int i = 0; i < 6; i++) cc.OnPacketSent(Packet(10));
        cc.OnPacketsLost(Packet(10), 2400, now: 1_000);
        Assert.Equal(6_000, cc.CongestionWindow);
        Assert.Equal(6_000, cc.SlowStartThreshold);
        Assert.Equal(4_800, cc.BytesInFlight);

        // Another loss of a packet sent before the recovery period started: same event, no second halving.
        cc.OnPacketsLost(Packet(999), 1200, now: 2_000);
        Assert.Equal(6_000, cc.CongestionWindow);
        Assert.Equal(3_600, cc.BytesInFlight);
        // Acks of packets sent before recovery began do not grow the window.
        cc.OnPacketAcked(Packet(500), 2_100);
        Assert.Equal(6_000, cc.CongestionWindow);

        // A packet sent after the period started and then lost is a new event.
        cc.OnPacketsLost(Packet(1_001), 1200, now: 3_000);
        Assert.Equal(3_000, cc.CongestionWindow);
        cc.OnPacketsLost(Packet(3_001), 0, now: 4_000);
        Assert.Equal(2_400, cc.CongestionWindow); // never below the minimum window
        Assert.Equal(1_500, cc.SlowStartThreshold);
    }

    [Fact]
    public void CongestionAvoidanceAddsOneDatagramPerWindow()
    {
        var cc = new NewRenoCongestionController(1200);
        cc.OnPacketsLost(Packet(0), 0, now: 100);
        Assert.Equal(6_000, cc.CongestionWindow);
        Assert.False(cc.InSlowStart);
        for (int i = 0; i < 4; i++)
        {
            cc.OnPacketAcked(Packet(200), 300);
            Assert.Equal(6_000, cc.CongestionWindow); // 4 800 of 6 000 bytes acknowledged
        }
        cc.OnPacketAcked(Packet(200), 300);
        Assert.Equal(7_200, cc.CongestionWindow);
        // The next increase needs a full 7 200 bytes (6 packets).
        for (int i = 0; i < 5; i++) cc.OnPacketAcked(Packet(200), 300);
        Assert.Equal(7_200, cc.CongestionWindow);
        cc.OnPacketAcked(Packet(200), 300);
        Assert.Equal(8_400, cc.CongestionWindow);
    }

    [Fact]
    public void PersistentCongestionCollapsesToMinimumAndEndsRecovery()
    {
        var cc = new NewRenoCongestionController(1200);
        cc.OnPacketsLost(Packet(50), 0, now: 100);
        cc.OnPersistentCongestion();
        Assert.Equal(2_400, cc.CongestionWindow);
        Assert.Equal(6_000, cc.SlowStartThreshold);
        // Recovery is over: even a packet sent before the loss grows the window again (slow start below ssthresh).
        cc.OnPacketAcked(Packet(60), 200);
        Assert.Equal(3_600, cc.CongestionWindow);
    }

    [Fact]
    public void PacingSpacesPacketsAtOnePointTwentyFiveWindowsPerRtt()
    {
        var rtt = new RttEstimator();
        var cc = new NewRenoCongestionController(1200, rtt);
        // No RTT sample yet: no pacing.
        Assert.Equal(5, cc.NextSendTime(1200, 5));
        rtt.Update(100_000, 0, false, 25_000);

        // Rate = 1.25 · 12 000 B / 100 ms = 0.15 B/µs → one 1 200-byte packet per 8 ms once the 12 000-byte burst is used.
        long now = 0;
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(now, cc.NextSendTime(1200, now));
            cc.OnPacketSent(Packet(now));
        }
        for (int i = 0; i < 5; i++)
        {
            long next = cc.NextSendTime(1200, now);
            Assert.InRange(next - now, 7_999, 8_001);
            Assert.True(cc.NextSendTime(1200, next - 10) > next - 10); // still early 10 µs before
            now = next;
            cc.OnPacketSent(Packet(now));
        }
        // A pause refills the bucket, but only up to the initial window (burst limit).
        now += 10_000_000;
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(now, cc.NextSendTime(1200, now));
            cc.OnPacketSent(Packet(now));
        }
        Assert.True(cc.NextSendTime(1200, now) > now);
        // ACK-only packets are not paced and use no credit.
        long before = cc.NextSendTime(1200, now);
        cc.OnPacketSent(Packet(now, 100, inFlight: false));
        Assert.Equal(before, cc.NextSendTime(1200, now));
    }
}
