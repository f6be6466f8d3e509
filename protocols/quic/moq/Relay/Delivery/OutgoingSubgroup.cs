using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Protocols.Moq.Relay.Tracks;

namespace FastRelay.Protocols.Moq.Relay.Delivery;

/// <summary>How a downstream subgroup stream is to end once its queue is written.</summary>
internal enum SubgroupEnd : byte { None, Finish, Reset }

/// <summary>
/// One downstream SUBGROUP stream of one subscription, fed by one upstream subgroup stream: the objects not yet handed
/// to the transport, and the writer once the stream is open. Guarded by its <see cref="SessionSendQueue"/>'s lock.
/// </summary>
internal sealed class OutgoingSubgroup
{
    public OutgoingSubgroup(DownstreamSubscription subscription, ulong group, ulong subgroup, byte publisherPriority)
    {
        Subscription = subscription;
        Group = group;
        Subgroup = subgroup;
        PublisherPriority = publisherPriority;
        Rank = new DeliveryRank(subscription.SubscriberPriority, publisherPriority, subscription.Order, group, subgroup);
    }

    public DownstreamSubscription Subscription { get; }
    public ulong Group { get; }
    public ulong Subgroup { get; }
    public byte PublisherPriority { get; }
    public DeliveryRank Rank { get; set; }

    public Queue<RelayObject> Queue { get; } = new();
    public long QueuedBytes { get; set; }

    public IDownstreamSubgroupWriter? Writer { get; set; }

    /// <summary>A drain task is running for this subgroup (at most one, so objects go out in order).</summary>
    public bool Draining { get; set; }

    public SubgroupEnd End { get; set; }
    public MoqStreamResetCode ResetCode { get; set; }

    /// <summary>Dropped under congestion or cancelled: nothing more is sent; the stream, if opened, was reset.</summary>
    public bool Dropped { get; set; }

    /// <summary>Ended (finished, reset or dropped) and no longer counted as the subscription's open stream.</summary>
    public bool Closed { get; set; }
}
