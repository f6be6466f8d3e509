using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Model;

namespace FastRelay.Protocols.Moq.Relay.Delivery;

/// <summary>
/// Where one downstream subgroup stands in the draft's scheduling order (draft-19 §"Scheduling Algorithm"): subscriber
/// priority, then publisher priority, then the subscription's group order, then the lowest Subgroup ID. Lower ranks go
/// first; under congestion the highest rank is dropped first. Compared exactly here; <see cref="ToSendPriority"/> packs
/// it into the transport's int for IMoqStream.SendPriority.
/// </summary>
public readonly record struct DeliveryRank(byte SubscriberPriority, byte PublisherPriority, MoqGroupOrder Order, ulong Group, ulong Subgroup)
    : IComparable<DeliveryRank>
{
    /// <summary>Groups earlier in the subscription's order get smaller keys.</summary>
    private ulong GroupKey => Order == MoqGroupOrder.Descending ? ulong.MaxValue - Group : Group;

    public int CompareTo(DeliveryRank other)
    {
        int c = SubscriberPriority.CompareTo(other.SubscriberPriority);
        if (c != 0) return c;
        c = PublisherPriority.CompareTo(other.PublisherPriority);
        if (c != 0) return c;
        c = GroupKey.CompareTo(other.GroupKey);
        if (c != 0) return c;
        return Subgroup.CompareTo(other.Subgroup);
    }

    /// <summary>Group distance from the anchor that still orders groups; beyond it groups share a value.</summary>
    public const int GroupSpan = 0x7FFF;

    /// <summary>
    /// Packs the rank into a non-negative int, lower first: subscriber priority (bits 23-30), publisher priority
    /// (15-22), group position relative to <paramref name="groupAnchor"/> (0-14; Ascending: later groups higher,
    /// Descending: later groups lower). Subgroup IDs of one group share a value (the transport round-robins them).
    /// The anchor is the subscription's, moved forward as groups advance (<see cref="NeedsNewAnchor"/>).
    /// </summary>
    public int ToSendPriority(ulong groupAnchor)
    {
        ulong distance = Group <= groupAnchor ? 0 : Math.Min(Group - groupAnchor, GroupSpan);
        int group = Order == MoqGroupOrder.Descending ? GroupSpan - (int)distance : (int)distance;
        return (SubscriberPriority << 23) | (PublisherPriority << 15) | group;
    }

    /// <summary>True when <paramref name="group"/> is so far past the anchor that packed values would start to tie.</summary>
    public static bool NeedsNewAnchor(ulong group, ulong groupAnchor) => group > groupAnchor && group - groupAnchor > GroupSpan / 2;
}
