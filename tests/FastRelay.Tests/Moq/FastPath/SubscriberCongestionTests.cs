using FastRelay.Protocols.Moq.Relay.FastPath;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Recovery;
using Xunit;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>The policy that turns a subscriber connection's backlog into its drop threshold and subgroup admissions.</summary>
public class SubscriberCongestionTests
{
    private const byte Key = 2, Delta = 3, Top = 4;   // urgency levels of publisher priorities 64, 96, 128

    private static QuicPathStatistics Path(long window, long inFlight, long unsent) =>
        new(CongestionControlAlgorithm.NewReno, window, inFlight, 1000, 1000, 500, true, 0, unsent);

    [Theory]
    [InlineData(0, 0)]
    [InlineData(31, 0)]
    [InlineData(64, 2)]
    [InlineData(96, 3)]
    [InlineData(255, 7)]
    public void A_publisher_priority_maps_to_one_of_eight_urgency_levels(byte priority, byte urgency) =>
        Assert.Equal(urgency, SubscriberCongestion.UrgencyOf(priority));

    [Fact]
    public void Each_half_window_of_backlog_sheds_one_more_level_least_urgent_first_but_never_the_most_urgent()
    {
        var c = new SubscriberCongestion();
        foreach (var u in new[] { Key, Delta, Top })
            Assert.True(c.Admits(u, group: 0, subgroup: u));
        Assert.Equal((uint)SubscriberCongestion.Levels, c.Update(Path(40_000, 0, unsent: 0)));
        Assert.Equal((uint)SubscriberCongestion.Levels, c.Update(Path(40_000, 0, unsent: 20_000)));   // seen once: not yet
        Assert.Equal(4u, c.Update(Path(40_000, 0, unsent: 20_000)));   // persisted: Top shed
        Assert.False(c.Admits(Top, 1, Top));
        Assert.True(c.Admits(Delta, 1, Delta));
        Assert.Equal(4u, c.Update(Path(40_000, 0, unsent: 40_000)));   // what persisted is still 20,000
        Assert.Equal(3u, c.Update(Path(40_000, 0, unsent: 40_000)));   // Delta shed too
        Assert.False(c.Admits(Delta, 2, Delta));
        // However deep the backlog, the key level (the most urgent seen) is kept.
        Assert.Equal(3u, c.Update(Path(40_000, 0, unsent: 10_000_000)));
        Assert.Equal(3u, c.Update(Path(40_000, 0, unsent: 10_000_000)));
        Assert.True(c.Admits(Key, 3, Key));
        Assert.Equal(2, c.SkippedSubgroups);
        // The backlog drained: every level starts again.
        Assert.Equal((uint)SubscriberCongestion.Levels, c.Update(Path(40_000, 0, 0)));
        Assert.True(c.Admits(Top, 4, Top));
    }

    /// <summary>
    /// Issue 11: the 5 %-loss subscriber's window had shrunk to two packets, so one 6,760-byte object waiting for it was
    /// more than two half windows of backlog for the few round trips it took to send. A refresh that met that instant
    /// skipped the next subgroup (29 objects); the backlog had drained before the following refresh.
    /// </summary>
    [Fact]
    public void One_object_waiting_for_a_small_window_sheds_nothing_a_backlog_that_persists_to_the_next_refresh_does()
    {
        var c = new SubscriberCongestion();
        Assert.True(c.Admits(Key, 0, 0));
        Assert.True(c.Admits(Delta, 0, 1));
        const long twoPackets = 2_904, oneObject = 6_760;
        Assert.Equal((uint)SubscriberCongestion.Levels, c.Update(Path(twoPackets, twoPackets, unsent: oneObject)));
        Assert.True(c.Admits(Delta, 1, 1));
        Assert.Equal((uint)SubscriberCongestion.Levels, c.Update(Path(twoPackets, 0, unsent: 0)));    // drained
        Assert.Equal((uint)SubscriberCongestion.Levels, c.Update(Path(twoPackets, twoPackets, unsent: oneObject)));
        Assert.True(c.Admits(Delta, 2, 1));
        // Still there at the next refresh: the connection does not keep up, Delta is shed.
        Assert.Equal(3u, c.Update(Path(twoPackets, twoPackets, unsent: 2 * oneObject)));
        Assert.False(c.Admits(Delta, 3, 1));
        Assert.True(c.Admits(Key, 3, 0));
        Assert.Equal(1, c.SkippedSubgroups);
    }

    [Fact]
    public void A_subgroup_asked_about_twice_gets_the_same_answer_and_counts_once()
    {
        var c = new SubscriberCongestion();
        Assert.True(c.Admits(Key, 0, 0));
        Assert.True(c.Admits(Delta, 0, 1));
        c.Update(Path(10_000, 0, unsent: 100_000));
        c.Update(Path(10_000, 0, unsent: 100_000));
        Assert.False(c.Admits(Delta, 1, 1));
        c.Update(Path(10_000, 0, unsent: 0));     // congestion cleared between the header and the first bytes
        Assert.False(c.Admits(Delta, 1, 1));         // still skipped: it must not reach the subscriber after all
        Assert.True(c.Admits(Delta, 2, 1));
        Assert.Equal(1, c.SkippedSubgroups);
    }
}
