using System.Net;
using FastRelay.Protocols.CustomUdp.Clients;
using FastRelay.Protocols.CustomUdp.Wire;
using Xunit;

namespace FastRelay.Tests.CustomUdp;

/// <summary>The pieces of the clients: gap tracking and NACK scheduling, the delay histogram, option parsing.</summary>
public sealed class ClientPartsTests
{
    private const long Ms = 1_000_000;

    [Fact]
    public void A_gap_is_nacked_after_the_reorder_delay_again_when_unrepaired_then_given_up()
    {
        var tracker = new SequenceTracker(reorderDelayNs: 5 * Ms, retryIntervalNs: 20 * Ms, maxNackAttempts: 2);
        var ranges = new NackRange[8];
        Assert.Equal(SequenceOutcome.New, tracker.OnReceived(0, 0));
        Assert.Equal(SequenceOutcome.New, tracker.OnReceived(4, 1 * Ms)); // 1, 2, 3 missing
        Assert.Equal(3, tracker.GapsDetected);
        Assert.Equal(1u, tracker.NextExpected);

        Assert.Equal(0, tracker.CollectNacks(5 * Ms, ranges));               // still within the reorder delay
        Assert.Equal(SequenceOutcome.FilledGap, tracker.OnReceived(2, 5 * Ms)); // one arrived late
        Assert.Equal(2, tracker.CollectNacks(6 * Ms, ranges));
        Assert.Equal(new NackRange(1, 1), ranges[0]);
        Assert.Equal(new NackRange(3, 1), ranges[1]);

        Assert.Equal(0, tracker.CollectNacks(10 * Ms, ranges));              // waiting for the repair
        Assert.Equal(SequenceOutcome.FilledGap, tracker.OnReceived(1, 12 * Ms)); // repaired
        Assert.Equal(3u, tracker.NextExpected);
        Assert.Equal(1, tracker.CollectNacks(26 * Ms, ranges));              // 3 again
        Assert.Equal(new NackRange(3, 1), ranges[0]);
        Assert.Equal(0, tracker.CollectNacks(30 * Ms, ranges));
        Assert.Equal(0, tracker.CollectNacks(46 * Ms, ranges));              // attempts exhausted: given up
        Assert.Equal(1, tracker.Unrepaired);
        Assert.Equal(5u, tracker.NextExpected);
        Assert.False(tracker.HasGaps);
        Assert.Equal(SequenceOutcome.Duplicate, tracker.OnReceived(4, 47 * Ms));
        Assert.Equal(3, tracker.NackedSequences);
        // Its repair comes after all (the relay was slow): the packet is not lost after all, only late.
        Assert.Equal(SequenceOutcome.FilledLate, tracker.OnReceived(3, 60 * Ms));
        Assert.Equal((0L, 1L), (tracker.Unrepaired, tracker.FilledLate));
        Assert.Equal(SequenceOutcome.Duplicate, tracker.OnReceived(3, 61 * Ms)); // the answer to its second NACK
        Assert.Equal(5u, tracker.NextExpected);
    }

    [Fact]
    public void Runs_of_missing_sequences_coalesce_into_ranges_and_loss_of_the_first_packets_is_seen()
    {
        var tracker = new SequenceTracker(0, 10 * Ms, 3);
        var ranges = new NackRange[8];
        tracker.OnReceived(3, 0);   // the first packet after subscribing is 3: 0..2 were lost
        tracker.OnReceived(10, 0);
        Assert.Equal(2, tracker.CollectNacks(1, ranges));
        Assert.Equal(new NackRange(0, 3), ranges[0]);
        Assert.Equal(new NackRange(4, 6), ranges[1]);
    }

    [Fact]
    public void Sequences_wrap_at_2_to_the_32()
    {
        var tracker = new SequenceTracker(0, 10 * Ms, 3);
        var ranges = new NackRange[8];
        tracker.OnReceived(uint.MaxValue - 1, 0); // far from 0: starts there
        Assert.Equal(SequenceOutcome.New, tracker.OnReceived(1, 0)); // MAX and 0 missing
        Assert.Equal(1, tracker.CollectNacks(1, ranges));
        Assert.Equal(new NackRange(uint.MaxValue, 2), ranges[0]);
        Assert.Equal(SequenceOutcome.FilledGap, tracker.OnReceived(0, 2));
        Assert.Equal(SequenceOutcome.FilledGap, tracker.OnReceived(uint.MaxValue, 2));
        Assert.Equal(2u, tracker.NextExpected);
    }

    [Fact]
    public void The_tracker_does_not_allocate_per_packet()
    {
        var tracker = new SequenceTracker(Ms, Ms, 2);
        var ranges = new NackRange[CustomUdpWire.MaxNackRanges];
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (uint s = 0; s < 200_000; s++)
        {
            if (s % 7 != 3) tracker.OnReceived(s, s * 1000L);
            tracker.CollectNacks(s * 1000L, ranges);
        }
        // Less than a byte per packet: nothing is allocated per packet. (The JIT's own tier-up work can allocate a few
        // kB on this thread in an optimised build, so "exactly 0" would test the runtime, not the tracker.)
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 200_000, $"{allocated} bytes allocated for 200000 packets");
        Assert.True(tracker.Unrepaired > 0);
    }

    [Fact]
    public void Histogram_percentiles_are_within_one_percent()
    {
        var histogram = new DelayHistogram();
        for (ulong v = 1; v <= 100_000; v++) histogram.Record(v * 100); // 100 ns .. 10 ms
        Assert.InRange(histogram.ValueAt(0.5), 5_000_000 * 0.99, 5_000_000 * 1.01);
        Assert.InRange(histogram.ValueAt(0.99), 9_900_000 * 0.99, 9_900_000 * 1.01);
        Assert.Equal(10_000_000ul, histogram.ValueAt(1));
        var stats = histogram.Stats();
        Assert.Equal(100_000, stats.Count);
        Assert.Equal(0.1, stats.MinUs);
        Assert.Equal(10_000, stats.MaxUs);
        Assert.InRange(stats.P999Us, 9_990 * 0.99, 10_000);

        var before = GC.GetAllocatedBytesForCurrentThread();
        histogram.Record(123);
        histogram.Record(ulong.MaxValue);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Priority_patterns()
    {
        var urgent = PriorityPattern.Parse("0/10");
        var first = Enumerable.Range(0, 20).Select(i => urgent.For((ulong)i)).ToArray();
        Assert.Equal(new byte[] { 0, 1, 2, 3, 4, 5, 6, 7, 1, 2, 0, 3, 4, 5, 6, 7, 1, 2, 3, 4 }, first);
        Assert.Equal(new byte[] { 3, 3 }, new[] { PriorityPattern.Parse("3").For(0), PriorityPattern.Parse("3").For(9) });
        var cycle = PriorityPattern.Parse("0, 7,2");
        Assert.Equal(new byte[] { 0, 7, 2, 0 }, Enumerable.Range(0, 4).Select(i => cycle.For((ulong)i)));
        foreach (var bad in new[] { "8", "1/10", "0/0", "", "a", "0,,9" })
            Assert.Throws<FormatException>(() => PriorityPattern.Parse(bad));
    }

    [Fact]
    public void Relay_addresses()
    {
        Assert.Equal(IPEndPoint.Parse("10.0.0.1:7400"), RelayAddress.Parse("10.0.0.1"));
        Assert.Equal(IPEndPoint.Parse("10.0.0.1:9000"), RelayAddress.Parse("10.0.0.1:9000"));
        Assert.Equal(IPEndPoint.Parse("[fd00::1]:9000"), RelayAddress.Parse("[fd00::1]:9000"));
        Assert.Equal(IPEndPoint.Parse("[fd00::1]:7400"), RelayAddress.Parse("fd00::1"));
        Assert.Equal(IPEndPoint.Parse("[fd00::1]:7400"), RelayAddress.Parse("[fd00::1]"));
        Assert.Equal(7401, RelayAddress.Parse("localhost:7401").Port);
        Assert.Throws<FormatException>(() => RelayAddress.Parse("10.0.0.1:70000"));
        Assert.Throws<FormatException>(() => RelayAddress.Parse("host:x"));
    }
}
