using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using FastRelay.Protocols.Moq.Wire.Messages;

namespace FastRelay.Protocols.Moq.Publisher;

/// <summary>
/// The publisher's side of one established subscription (a SUBSCRIBE we accepted, or our PUBLISH the peer accepted):
/// open subgroup streams and send datagrams for the track, then <see cref="FinishAsync"/> with PUBLISH_DONE.
/// <see cref="SubscriberParameters"/> follows the subscriber's REQUEST_UPDATEs.
/// </summary>
public sealed class MoqTrackPublication
{
    private readonly object _lock = new();
    private readonly TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _finishedSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _streamCount;
    private bool _finished;

    internal MoqTrackPublication(MoqSession session, MoqRequestStream stream, ulong requestId, MoqFullTrackName track, ulong trackAlias,
        MoqMessageParameters subscriberParameters, byte publisherPriority, MoqGroupOrder groupOrder)
    {
        Session = session;
        Stream = stream;
        RequestId = requestId;
        Track = track;
        TrackAlias = trackAlias;
        SubscriberParameters = subscriberParameters;
        PublisherPriority = publisherPriority;
        GroupOrder = groupOrder;
    }

    public MoqSession Session { get; }
    internal MoqRequestStream Stream { get; }
    public ulong RequestId { get; }
    public MoqFullTrackName Track { get; }
    public ulong TrackAlias { get; }

    /// <summary>The subscriber's current parameters (filter, priority, forward, timeouts), updated by REQUEST_UPDATE.</summary>
    public MoqMessageParameters SubscriberParameters { get; private set; }

    /// <summary>Publisher priority written into subgroup headers and datagrams unless overridden per subgroup.</summary>
    public byte PublisherPriority { get; set; }

    /// <summary>Group order used to prioritize groups against each other (subscriber's GROUP_ORDER, else ours).</summary>
    public MoqGroupOrder GroupOrder { get; private set; }

    public byte SubscriberPriority => SubscriberParameters.SubscriberPriority ?? 128;

    /// <summary>Forwarding State: when false the subscriber wants no objects for now (FORWARD 0).</summary>
    public bool Forward => SubscriberParameters.Forward ?? true;

    /// <summary>The subscriber's filter (null = everything).</summary>
    public MoqLocationFilter? Filter => SubscriberParameters.LocationFilter;

    /// <summary>SUBGROUP_DELIVERY_TIMEOUT: a subgroup write that takes longer resets the stream with DELIVERY_TIMEOUT.</summary>
    public TimeSpan? SubgroupDeliveryTimeout => SubscriberParameters.SubgroupDeliveryTimeoutMs is { } ms and > 0 ? TimeSpan.FromMilliseconds(ms) : null;

    /// <summary>Completes when the subscriber cancelled (unsubscribed) or the session ended.</summary>
    public Task Cancelled => _cancelled.Task;

    /// <summary>Raised after a REQUEST_UPDATE was applied (and answered with REQUEST_OK).</summary>
    public event Action<MoqTrackPublication, MoqMessageParameters>? Updated;

    /// <summary>
    /// Opens a subgroup stream and writes its header. Subgroup 0 is encoded implicitly; the stream's send priority
    /// combines subscriber priority, publisher priority and group order (§"Priorities").
    /// <paramref name="firstObject"/> is the header's FIRST_OBJECT bit: the stream starts with the first object ever
    /// published in the subgroup. An original publisher opening a new subgroup MUST set it (§"Subgroups"), hence the
    /// default; a relay forwarding a subgroup from its middle clears it. Peers rely on it: @moq/net drops a stream
    /// without it as one that starts partway through a group.
    /// </summary>
    public Task<MoqSubgroupStream> OpenSubgroupAsync(ulong groupId, ulong subgroupId = 0, bool endOfGroup = false, byte? publisherPriority = null,
        bool withProperties = false, CancellationToken cancellationToken = default, bool firstObject = true)
    {
        lock (_lock)
        {
            if (_finished) throw new InvalidOperationException("the publication is finished");
            _streamCount++;
        }
        var header = new MoqSubgroupHeader(TrackAlias, groupId, subgroupId == 0 ? MoqSubgroupIdMode.Zero : MoqSubgroupIdMode.Explicit, subgroupId,
            publisherPriority ?? PublisherPriority, withProperties, endOfGroup, firstObject);
        return MoqSubgroupStream.OpenAsync(this, header, StreamPriority(groupId, publisherPriority ?? PublisherPriority), cancellationToken);
    }

    /// <summary>Sends one object as an OBJECT_DATAGRAM; false when it does not fit or datagrams are unavailable.</summary>
    public bool TrySendDatagram(MoqObject obj, bool endOfGroup = false)
    {
        var w = new MoqWriter(32 + obj.Payload.Length);
        MoqObjectDatagram.Write(w, TrackAlias, obj, endOfGroup);
        return w.Length <= Session.Transport.MaxDatagramPayload && Session.Transport.TrySendDatagram(w.WrittenSpan);
    }

    /// <summary>
    /// A subgroup stream of this subscription that was opened on the connection outside <see cref="OpenSubgroupAsync"/>
    /// (a relay's kernel fast path opens its subscribers' streams itself): counted in PUBLISH_DONE's Stream Count, which
    /// the subscriber waits for before it takes the subscription as complete. Uncounted, a stream still on its way when
    /// PUBLISH_DONE arrived was dropped with all its objects (a whole last group, seen under load in the fast-path lab
    /// tests). False when PUBLISH_DONE was already sent.
    /// </summary>
    public bool CountStreamOpenedElsewhere()
    {
        lock (_lock)
        {
            if (_finished) return false;
            _streamCount++;
            return true;
        }
    }

    /// <summary>
    /// PUBLISH_DONE with the number of streams opened, then FIN. Close or reset all subgroup streams first (the draft
    /// requires PUBLISH_DONE to come after the last stream was opened).
    /// </summary>
    public async Task FinishAsync(MoqPublishDoneCode status = MoqPublishDoneCode.TrackEnded, string reason = "")
    {
        int count;
        lock (_lock)
        {
            if (_finished) return;
            _finished = true;
            count = _streamCount;
        }
        Session.ForgetPublication(this);
        _finishedSignal.TrySetResult();
        try { await Stream.WriteAsync(new MoqPublishDone(status, (ulong)count, reason), fin: true).ConfigureAwait(false); }
        catch (Exception) when (Cancelled.IsCompleted) { /* the subscriber is gone already */ }
    }

    /// <summary>
    /// Completes when the subscriber acknowledged everything sent on the request stream (after <see cref="FinishAsync"/>:
    /// PUBLISH_DONE and its FIN); faults if that stream was reset or the session closed first.
    /// </summary>
    public Task Delivered => Stream.Stream.WritesAcknowledged;

    /// <summary>Lower sends first: subscriber priority, then publisher priority, then group (per group order).</summary>
    internal int StreamPriority(ulong groupId, byte publisherPriority)
    {
        int group = (int)(groupId & 0x7FFF);
        if (GroupOrder == MoqGroupOrder.Descending) group = 0x7FFF - group;
        return SubscriberPriority << 23 | publisherPriority << 15 | group;
    }

    internal void ApplyUpdate(MoqMessageParameters update)
    {
        var p = SubscriberParameters;
        var merged = new MoqMessageParameters
        {
            AuthorizationTokens = update.AuthorizationTokens.Count > 0 ? update.AuthorizationTokens : p.AuthorizationTokens,
            ObjectDeliveryTimeoutMs = update.ObjectDeliveryTimeoutMs ?? p.ObjectDeliveryTimeoutMs,
            SubgroupDeliveryTimeoutMs = update.SubgroupDeliveryTimeoutMs ?? p.SubgroupDeliveryTimeoutMs,
            RendezvousTimeoutMs = p.RendezvousTimeoutMs,
            Forward = update.Forward ?? p.Forward,
            SubscriberPriority = update.SubscriberPriority ?? p.SubscriberPriority,
            LocationFilter = update.LocationFilter ?? p.LocationFilter,
            GroupOrder = p.GroupOrder,
            RangeFilters = update.RangeFilters.Count > 0 ? update.RangeFilters.Where(f => !f.IsRemoval).ToList() : p.RangeFilters,
            NewGroupRequest = update.NewGroupRequest ?? p.NewGroupRequest,
        };
        SubscriberParameters = merged;
        Updated?.Invoke(this, update);
    }

    internal void OnCancelled() => _cancelled.TrySetResult();

    /// <summary>Completes once PUBLISH_DONE was sent or the subscriber cancelled: nothing more will happen on the request.</summary>
    internal Task Ended => Task.WhenAny(_cancelled.Task, _finishedSignal.Task);
}
