using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Delivery;
using FastRelay.Protocols.Moq.Relay.Model;
using Xunit;

namespace FastRelay.Tests.Moq.Relay;

public class DeliveryRankTests
{
    private static DeliveryRank R(byte sub, byte pub, ulong group, ulong subgroup = 0, MoqGroupOrder order = MoqGroupOrder.Ascending) =>
        new(sub, pub, order, group, subgroup);

    [Fact]
    public void SubscriberPriorityThenPublisherPriorityThenGroupOrderThenSubgroup()
    {
        // draft-19 §"Scheduling Algorithm", in order of precedence; lower ranks are sent first.
        var ordered = new[]
        {
            R(0, 255, 99, 9),
            R(1, 0, 99, 9),
            R(1, 1, 3, 9),
            R(1, 1, 4, 0),
            R(1, 1, 4, 1),
        };
        for (int i = 0; i + 1 < ordered.Length; i++)
        {
            Assert.True(ordered[i].CompareTo(ordered[i + 1]) < 0, $"{ordered[i]} before {ordered[i + 1]}");
            Assert.True(ordered[i].ToSendPriority(0) <= ordered[i + 1].ToSendPriority(0));
        }
        var shuffled = ordered.Reverse().ToList();
        shuffled.Sort();
        Assert.Equal(ordered, shuffled);
    }

    [Fact]
    public void DescendingGroupOrderSendsNewerGroupsFirst()
    {
        var older = R(5, 5, 10, order: MoqGroupOrder.Descending);
        var newer = R(5, 5, 11, order: MoqGroupOrder.Descending);
        Assert.True(newer.CompareTo(older) < 0);
        Assert.True(newer.ToSendPriority(10) < older.ToSendPriority(10));
        var ascOlder = R(5, 5, 10);
        var ascNewer = R(5, 5, 11);
        Assert.True(ascOlder.ToSendPriority(10) < ascNewer.ToSendPriority(10));
    }

    [Fact]
    public void PackedPrioritiesAreNonNegativeAndKeepPriorityClassesApart()
    {
        var worst = R(255, 255, ulong.MaxValue, ulong.MaxValue);
        Assert.InRange(worst.ToSendPriority(0), 0, int.MaxValue);
        // However far the group is from the anchor, it never crosses into another publisher priority class.
        Assert.True(R(1, 1, 1_000_000).ToSendPriority(0) < R(1, 2, 0).ToSendPriority(0));
        Assert.True(DeliveryRank.NeedsNewAnchor(DeliveryRank.GroupSpan, 0));
        Assert.False(DeliveryRank.NeedsNewAnchor(10, 0));
    }
}
