using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Delivery;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;

namespace FastRelay.Protocols.Moq.Relay.Tracks;

/// <summary>
/// One subscriber's SUBSCRIBE on one track at this relay: its filter, priorities and forward state, and the counters the
/// status view shows. Filter and priority fields change only under the track's lock (REQUEST_UPDATE), where objects
/// are matched against them too.
/// </summary>
public sealed class DownstreamSubscription : IRelaySubscription
{
    private readonly CancellationTokenSource _cancellation = new();
    private ulong _finishCode = ulong.MaxValue;
    private int _finished;
    private int _cancelled;
    private int _rangeEnded;
    private bool _anchored;

    internal DownstreamSubscription(RelayTrack track, RelaySession session, IDownstreamTrackPort port, SubscribeRequest request,
        MoqGroupOrder order, MoqLocation start, MoqLocation? joining)
    {
        Track = track;
        Session = session;
        Port = port;
        SubscriberPriority = request.SubscriberPriority;
        Order = order;
        Forward = request.Forward;
        Start = start;
        EndGroup = request.Filter?.EndGroup;
        RangeFilters = MoqRangeFilterSet.From(request.RangeFilters);
        JoiningLocation = request.Forward ? joining : null;
    }

    public RelayTrack Track { get; }
    internal RelaySession Session { get; }
    internal IDownstreamTrackPort Port { get; }
    internal CancellationToken Cancellation => _cancellation.Token;

    public byte SubscriberPriority { get; private set; }
    public MoqGroupOrder Order { get; }
    public bool Forward { get; private set; }
    public MoqLocation Start { get; private set; }
    public ulong? EndGroup { get; private set; }

    /// <summary>Subgroup / object ID / priority / object property ranges an object must also pass.</summary>
    public MoqRangeFilterSet RangeFilters { get; private set; }

    /// <summary>The Largest Location sent in SUBSCRIBE_OK (forward 1): a joining FETCH ends there.</summary>
    public MoqLocation? JoiningLocation { get; private set; }

    /// <summary>Base group of the packed send priorities (<see cref="DeliveryRank.ToSendPriority"/>).</summary>
    internal ulong GroupAnchor { get; private set; }

    /// <summary>Downstream subgroup streams not yet ended; guarded by the session's send queue lock.</summary>
    internal int OpenSubgroups;

    public long ObjectsSent;
    public long BytesSent;
    public long ObjectsDropped;
    public long DatagramsSent;

    public bool IsCancelled => Volatile.Read(ref _cancelled) != 0;

    /// <summary>
    /// Does <paramref name="obj"/> pass Forward and the Location filter (Start, End Group inclusive)? Nothing passes once
    /// the subscription finished (PUBLISH_DONE sent). Under the track lock.
    /// </summary>
    internal bool Passes(in RelayObject obj) =>
        Forward && Volatile.Read(ref _finished) == 0 && obj.Location >= Start && (EndGroup is not { } end || obj.Group <= end) &&
        RangeFilters.Passes(obj.Subgroup, obj.ObjectId, obj.PublisherPriority, obj.Properties);

    /// <summary>An object of <paramref name="group"/> means the End Group is over (the first time only). Under the track lock.</summary>
    internal bool IsPastEndGroup(ulong group) => EndGroup is { } end && group > end && Volatile.Read(ref _rangeEnded) == 0;

    /// <summary>
    /// The track passed this subscription's End Group (a later group started): PUBLISH_DONE SUBSCRIPTION_ENDED once its
    /// open subgroup streams ended (objects of the end group still arriving on them are forwarded), then it leaves the
    /// track (draft-19 §"Location Filters", §"PUBLISH_DONE").
    /// </summary>
    internal void EndOfRange()
    {
        if (IsCancelled || Interlocked.Exchange(ref _rangeEnded, 1) != 0) return;
        if (Interlocked.CompareExchange(ref _finishCode, (ulong)MoqPublishDoneCode.SubscriptionEnded, ulong.MaxValue) != ulong.MaxValue) return;
        if (Volatile.Read(ref OpenSubgroups) == 0)
            FinishNow();
    }

    /// <summary>Keeps the send-priority anchor near the live groups; under the track lock.</summary>
    internal void NoteGroup(ulong group)
    {
        if (!_anchored)
        {
            _anchored = true;
            GroupAnchor = group;
        }
        else if (DeliveryRank.NeedsNewAnchor(group, GroupAnchor))
        {
            GroupAnchor = group - 1;
            Session.SendQueue.Rerank(this);
        }
    }

    public RequestRefusal? Update(SubscriptionUpdate update)
    {
        lock (Track.Lock)
        {
            if (update.Filter is { } filter)
            {
                var largest = Track.Largest;
                Start = RelayTrack.StartOf(filter, largest);
                EndGroup = filter.EndGroup;
            }
            if (update.RangeFilters.Count > 0)
                RangeFilters = RangeFilters.Update(update.RangeFilters);
            if (update.Forward is { } forward)
            {
                if (forward && !Forward)
                    JoiningLocation = Track.Largest;
                Forward = forward;
            }
            if (update.SubscriberPriority is { } priority && priority != SubscriberPriority)
            {
                SubscriberPriority = priority;
                Session.SendQueue.Rerank(this);
            }
        }
        return null;
    }

    /// <summary>The subscriber unsubscribed or its session closed: reset its streams, leave the track. No PUBLISH_DONE.</summary>
    public void Cancel()
    {
        if (Interlocked.Exchange(ref _cancelled, 1) != 0) return;
        Track.RemoveSubscriber(this);
        Session.SendQueue.ResetAll(this, MoqStreamResetCode.Cancelled);
        Session.Forget(this);
        _cancellation.Cancel();
    }

    /// <summary>The track ended upstream: PUBLISH_DONE once the open subgroup streams have ended.</summary>
    internal void EndWith(MoqPublishDoneCode code)
    {
        if (IsCancelled) return;
        Interlocked.Exchange(ref _finishCode, (ulong)code);
        if (Volatile.Read(ref OpenSubgroups) == 0)
            FinishNow();
    }

    internal void AfterSubgroupClosed()
    {
        if (Volatile.Read(ref _finishCode) != ulong.MaxValue && Volatile.Read(ref OpenSubgroups) == 0)
            FinishNow();
    }

    private void FinishNow()
    {
        if (Interlocked.Exchange(ref _finished, 1) != 0 || IsCancelled) return;
        Session.Forget(this);
        var code = (MoqPublishDoneCode)_finishCode;
        try
        {
            Port.Finish(code, code switch
            {
                MoqPublishDoneCode.TrackEnded => "track ended",
                MoqPublishDoneCode.SubscriptionEnded => "end group reached",
                _ => "publisher done",
            });
        }
        catch (Exception)
        {
            // The downstream session is gone: nobody to tell.
        }
        // A range that ended leaves a track that goes on (other subscribers may stay; the linger clock may start).
        if (code == MoqPublishDoneCode.SubscriptionEnded)
            Track.RemoveSubscriber(this);
    }
}
