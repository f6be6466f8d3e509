using Xunit;
using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;
using static FastRelay.Tests.Quic.Recovery.RecoveryTestHelpers;

namespace FastRelay.Tests.Quic.Recovery;

public class ReceivedPacketTrackerTests
{
    private static AckRange[] RangesOf(ReceivedPacketTracker t) => t.Ranges.ToArray();

    [Fact]
    public void DetectsDuplicates()
    {
        var t = new ReceivedPacketTracker(PacketNumberSpace.ApplicationData);
        Assert.Null(t.LargestReceived);
        Assert.False(t.IsDuplicate(5));
        t.OnPacketReceived(5, true, 0);
        Assert.True(t.IsDuplicate(5));
        Assert.False(t.IsDuplicate(4));
        Assert.False(t.IsDuplicate(6));
        t.OnPacketReceived(5, true, 10); // a duplicate is ignored
        Assert.Equal([new AckRange(5, 5)], RangesOf(t));
        Assert.Equal(5UL, t.LargestReceived);
    }

    [Fact]
    public void MergesRanges()
    {
        var t = new ReceivedPacketTracker(PacketNumberSpace.ApplicationData);
        t.OnPacketReceived(1, false, 0);
        t.OnPacketReceived(3, false, 0);
        Assert.Equal([new AckRange(3, 3), new AckRange(1, 1)], RangesOf(t));
        t.OnPacketReceived(2, false, 0);
        Assert.Equal([new AckRange(1, 3)], RangesOf(t));
        t.OnPacketReceived(7, false, 0);
        t.OnPacketReceived(5, false, 0);
        Assert.Equal([new AckRange(7, 7), new AckRange(5, 5), new AckRange(1, 3)], RangesOf(t));
        t.OnPacketReceived(6, false, 0);
        Assert.Equal([new AckRange(5, 7), new AckRange(1, 3)], RangesOf(t));
        t.OnPacketReceived(4, false, 0);
        Assert.Equal([new AckRange(1, 7)], RangesOf(t));
        t.OnPacketReceived(0, false, 0);
        t.OnPacketReceived(8, false, 0);
        Assert.Equal([new AckRange(0, 8)], RangesOf(t));
        Assert.Equal(8UL, t.LargestReceived);
    }

    [Fact]
    public void WrittenAckDecodesToExactlyTheReceivedSet()
    {
        var random = new Random(9002);
        var buffer = new byte[4096];
        for (int round = 0; round < 200; round++)
        {
            var t = new ReceivedPacketTracker(PacketNumberSpace.ApplicationData, maxRanges: 1000);
            var expected = new SortedSet<ulong>();
            ulong start = (ulong)random.Next(0, 3) == 0 ? 0 : (ulong)random.NextInt64(0, 1L << 40);
            int n = random.Next(1, 300);
            for (int i = 0; i < n; i++)
            {
                ulong pn = start + (ulong)random.Next(0, 400);
                Assert.Equal(expected.Contains(pn), t.IsDuplicate(pn));
                t.OnPacketReceived(pn, random.Next(2) == 0, 1_000 + i);
                expected.Add(pn);
            }
            int written = t.WriteAckFrame(buffer, 1_000 + n, 3);
            Assert.True(written > 0);
            var (frame, numbers) = Decode(buffer.AsSpan(0, written));
            Assert.Equal(expected, numbers);
            Assert.Equal(expected.Max, frame.LargestAcknowledged);
            Assert.Equal(expected.Max, t.LargestReceived);
        }
    }

    [Fact]
    public void AckDelayIsTimeSinceLargestScaledByExponent()
    {
        var t = new ReceivedPacketTracker(PacketNumberSpace.ApplicationData);
        t.OnPacketReceived(10, true, 1_000);
        t.OnPacketReceived(3, true, 5_000); // not the largest: does not move the reference time
        var buffer = new byte[64];
        int written = t.WriteAckFrame(buffer, 9_000, 3);
        var (frame, numbers) = Decode(buffer.AsSpan(0, written));
        Assert.Equal(1_000UL, frame.AckDelay); // 8 000 µs >> 3
        Assert.Equal(new SortedSet<ulong> { 3, 10 }, numbers);
    }

    [Fact]
    public void TooSmallBufferWritesNothingAndKeepsState()
    {
        var t = new ReceivedPacketTracker(PacketNumberSpace.ApplicationData);
        for (ulong pn = 0; pn < 20; pn += 2) t.OnPacketReceived(pn, true, 0);
        var full = new byte[256];
        int needed = t.WriteAckFrame(full, 0, 3);
        t.OnPacketReceived(30, true, 0);
        Assert.True(t.AckPending);
        needed = Math.Max(needed, 1);
        Assert.Equal(0, t.WriteAckFrame(new byte[needed - 1], 0, 3));
        Assert.True(t.AckPending);
        Assert.True(t.WriteAckFrame(full, 0, 3) > 0);
        Assert.False(t.AckPending);
        Assert.Equal(0, new ReceivedPacketTracker(PacketNumberSpace.Initial).WriteAckFrame(full, 0, 3));
    }

    [Fact]
    public void RangeCapDropsOldestRanges()
    {
        var t = new ReceivedPacketTracker(PacketNumberSpace.ApplicationData, maxRanges: 3);
        foreach (ulong pn in new ulong[] { 0, 2, 4, 6 }) t.OnPacketReceived(pn, false, 0);
        Assert.Equal([new AckRange(6, 6), new AckRange(4, 4), new AckRange(2, 2)], RangesOf(t));
        Assert.True(t.IsDuplicate(0)); // the dropped range: below the tracked window, treated as duplicate
        Assert.False(t.IsDuplicate(1)); // never seen and above the dropped range
        Assert.False(t.IsDuplicate(3));
        t.OnPacketReceived(3, false, 0);
        Assert.Equal([new AckRange(6, 6), new AckRange(2, 4)], RangesOf(t));
        t.OnPacketReceived(8, false, 0);
        t.OnPacketReceived(10, false, 0); // 4 ranges → (2..4) is dropped
        Assert.Equal([new AckRange(10, 10), new AckRange(8, 8), new AckRange(6, 6)], RangesOf(t));
        Assert.True(t.IsDuplicate(4)); // everything up to the dropped range counts as seen
        Assert.False(t.IsDuplicate(5));
        // A new number below every range while at the cap is itself the oldest: not tracked, and a duplicate after.
        var u = new ReceivedPacketTracker(PacketNumberSpace.ApplicationData, maxRanges: 2);
        u.OnPacketReceived(20, false, 0);
        u.OnPacketReceived(10, false, 0);
        u.OnPacketReceived(5, false, 0);
        Assert.Equal([new AckRange(20, 20), new AckRange(10, 10)], RangesOf(u));
        Assert.True(u.IsDuplicate(5));
    }

    [Fact]
    public void ImmediateAckTriggers()
    {
        const long mad = 25_000;
        var buffer = new byte[256];
        var t = new ReceivedPacketTracker(PacketNumberSpace.ApplicationData);
        Assert.Equal(long.MaxValue, t.AckDeadline(mad));
        t.OnPacketReceived(0, ackEliciting: false, 100);
        Assert.False(t.AckPending); // non-ack-eliciting alone never asks for an ACK
        Assert.Equal(long.MaxValue, t.AckDeadline(mad));
        t.OnPacketReceived(1, true, 200);
        Assert.Equal(200 + mad, t.AckDeadline(mad)); // delayed
        t.OnPacketReceived(2, true, 300);
        Assert.Equal(long.MinValue, t.AckDeadline(mad)); // second ack-eliciting packet
        Assert.True(t.WriteAckFrame(buffer, 400, 3) > 0);
        Assert.Equal(long.MaxValue, t.AckDeadline(mad));

        t.OnPacketReceived(3, true, 500);
        Assert.Equal(500 + mad, t.AckDeadline(mad)); // in order: delayed
        t.WriteAckFrame(buffer, 600, 3);
        t.OnPacketReceived(6, true, 700); // 4 and 5 missing
        Assert.Equal(long.MinValue, t.AckDeadline(mad));
        t.WriteAckFrame(buffer, 800, 3);
        t.OnPacketReceived(4, true, 900); // below the largest ack-eliciting: fills a gap
        Assert.Equal(long.MinValue, t.AckDeadline(mad));
        t.WriteAckFrame(buffer, 1_000, 3);
        t.OnPacketReceived(5, false, 1_100);
        t.OnPacketReceived(7, true, 1_200); // contiguous with 6 (via 5, non-ack-eliciting)
        Assert.Equal(1_200 + mad, t.AckDeadline(mad));

        foreach (var space in new[] { PacketNumberSpace.Initial, PacketNumberSpace.Handshake })
        {
            var h = new ReceivedPacketTracker(space);
            h.OnPacketReceived(0, true, 100);
            Assert.Equal(long.MinValue, h.AckDeadline(mad));
        }
    }

    [Fact]
    public void AckOfAckPrunesReportedRanges()
    {
        var t = new ReceivedPacketTracker(PacketNumberSpace.ApplicationData);
        for (ulong pn = 0; pn < 10; pn++) t.OnPacketReceived(pn, true, 0);
        for (ulong pn = 20; pn < 30; pn++) t.OnPacketReceived(pn, true, 0);
        t.OnAckOfAckReceived(24);
        Assert.Equal([new AckRange(25, 29)], RangesOf(t));
        Assert.True(t.IsDuplicate(12)); // never received, but at or below the pruned point
        Assert.True(t.IsDuplicate(24));
        Assert.False(t.IsDuplicate(30));
        var buffer = new byte[64];
        var (_, numbers) = Decode(buffer.AsSpan(0, t.WriteAckFrame(buffer, 0, 3)));
        Assert.Equal(new SortedSet<ulong> { 25, 26, 27, 28, 29 }, numbers);
        t.OnAckOfAckReceived(10); // older: no effect
        Assert.Equal([new AckRange(25, 29)], RangesOf(t));
        t.OnPacketReceived(31, true, 0);
        t.OnAckOfAckReceived(31);
        Assert.Empty(RangesOf(t));
        Assert.False(t.AckPending);
        Assert.Equal(31UL, t.LargestReceived);
        Assert.Equal(0, t.WriteAckFrame(buffer, 0, 3));
    }
}
