using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Cache;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Moq.Relay.Tracks;

public enum TrackState { Pending, Live, Ended }

/// <summary>
/// One track at the relay: its one upstream source (the relay's SUBSCRIBE to a publisher, or a publisher's PUBLISH;
/// a second PUBLISH of the same track joins as another source and duplicates are dropped by location), its cache, and
/// its downstream subscribers. Every object is cached once and handed to each subscriber's send queue, which never
/// waits, under this track's lock (so subscribing, which reads Largest and joins, is atomic with respect to objects).
/// </summary>
public sealed class RelayTrack : IUpstreamTrackSink
{
    private readonly List<DownstreamSubscription> _subscribers = [];
    private readonly List<(IUpstreamSubscription Source, RelaySession? Owner)> _sources = [];
    private readonly TaskCompletionSource<RequestRefusal?> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger;

    private readonly RelayCounters _relayWide;

    internal RelayTrack(MoqFullTrackName name, TrackCache cache, bool pushed, RelayCounters relayWide, ILogger logger)
    {
        _relayWide = relayWide;
        Name = name;
        Cache = cache;
        IsPushed = pushed;
        _logger = logger;
    }

    public MoqFullTrackName Name { get; }
    public TrackCache Cache { get; }

    /// <summary>The publisher PUBLISHed it (rather than the relay subscribing): it lives as long as the publisher sends.</summary>
    public bool IsPushed { get; }

    internal object Lock { get; } = new();

    public TrackState State { get; private set; } = TrackState.Pending;
    public UpstreamTrackInfo Info { get; private set; } = new();
    public MoqLocation? Largest { get; private set; }

    /// <summary>The session the track's source belongs to (null: the upstream relay), for the status view.</summary>
    public string? SourceName { get; private set; }

    /// <summary>Where the track comes from, and the tokens to use there: a FETCH for what the cache lacks goes there.</summary>
    internal (IRelayPeer Peer, IReadOnlyList<AuthToken> Tokens)? Origin { get; private set; }

    /// <summary>Subscribers waiting for the upstream SUBSCRIBE_OK; guarded by the relay's track table lock.</summary>
    internal int PendingSubscribers;

    /// <summary>When the last subscriber left (the linger clock), else null; guarded by the relay's track table lock.</summary>
    internal long? IdleSince;

    public long ObjectsIn;
    public long BytesIn;
    public long Duplicates;
    public long DatagramsDropped;

    internal Task<RequestRefusal?> Ready => _ready.Task;

    public int SubscriberCount
    {
        get { lock (Lock) return _subscribers.Count; }
    }

    public IReadOnlyList<DownstreamSubscription> SubscribersSnapshot()
    {
        lock (Lock) return _subscribers.ToArray();
    }

    /// <summary>The Start Location a filter means now (draft-19 §"Location Filters").</summary>
    internal static MoqLocation StartOf(MoqLocationFilter? filter, MoqLocation? largest) => filter?.Type switch
    {
        MoqFilterType.LargestObject => largest is { } l ? new(l.Group, l.Object + 1) : default,
        MoqFilterType.NextGroupStart => largest is { } l ? new(l.Group + 1, 0) : default,
        MoqFilterType.AbsoluteStart or MoqFilterType.AbsoluteRange => filter.Start,
        _ => default,
    };

    /// <summary>The source answered: objects flow from now on.</summary>
    internal void SetLive(IUpstreamSubscription source, RelaySession? owner, UpstreamTrackInfo info, (IRelayPeer, IReadOnlyList<AuthToken>)? origin = null)
    {
        lock (Lock)
        {
            if (State == TrackState.Ended)
            {
                source.Cancel();
                return;
            }
            _sources.Add((source, owner));
            if (State == TrackState.Pending)
            {
                Info = info;
                Origin = origin;
                SourceName = owner?.Peer.Name ?? "upstream";
                if (info.Largest is { } l)
                {
                    Largest = Max(Largest, l);
                    // This relay never received what the source had before it answered; FETCH must not claim it.
                    Cache.MarkUnknownThrough(l);
                }
                State = TrackState.Live;
            }
        }
        _ready.TrySetResult(null);
    }

    internal void Fail(RequestRefusal refusal)
    {
        lock (Lock)
        {
            if (State == TrackState.Pending)
                State = TrackState.Ended;
        }
        _ready.TrySetResult(refusal);
    }

    internal bool HasSourceOwnedBy(RelaySession session)
    {
        lock (Lock) return _sources.Any(s => s.Owner == session);
    }

    internal IUpstreamSubscription[] SourcesOwnedBy(RelaySession session)
    {
        lock (Lock) return _sources.Where(s => s.Owner == session).Select(s => s.Source).ToArray();
    }

    /// <summary>
    /// Joins a subscriber: its Start Location comes from its filter and this track's Largest at this instant, and the
    /// same Largest is its Joining Location, so a joining FETCH from the cache meets the subscription exactly.
    /// </summary>
    internal DownstreamSubscription? AddSubscriber(RelaySession session, IDownstreamTrackPort port, SubscribeRequest request)
    {
        lock (Lock)
        {
            if (State != TrackState.Live) return null;
            var order = request.GroupOrder ?? Info.DefaultGroupOrder;
            var start = StartOf(request.Filter, Largest);
            var subscription = new DownstreamSubscription(this, session, port, request, order, start, Largest);
            _subscribers.Add(subscription);
            return subscription;
        }
    }

    internal void RemoveSubscriber(DownstreamSubscription subscription)
    {
        lock (Lock)
            _subscribers.Remove(subscription);
        OnSubscriberLeft?.Invoke(this);
    }

    /// <summary>Set by the relay: the linger clock starts when the last subscriber leaves.</summary>
    internal Action<RelayTrack>? OnSubscriberLeft;

    /// <summary>Claims the fast path keeps at most; past it the oldest goes (its subscribers then get that subgroup from
    /// userspace too, if it is still to come: duplicates on two streams, never a hole).</summary>
    internal const int MaxFastPathClaims = 256;

    private readonly List<(ulong Group, ulong? Subgroup, DownstreamSubscription[] Subscriptions)> _fastPathClaims = [];

    /// <summary>
    /// The kernel fast path serves subgroup (<paramref name="group"/>, <paramref name="subgroup"/>; null: whichever
    /// subgroup of the group comes next) to <paramref name="subscriptions"/>: the relay's delivery skips them for it.
    /// Called when the upstream stream's header is read, before any of its objects reach <see cref="Deliver"/>. Claims
    /// for the same subgroup add up (the delivery takes one claim per subgroup: the kernel's subscribers and those the
    /// fast path skipped under congestion must both be in it).
    /// </summary>
    public void ClaimForFastPath(ulong group, ulong? subgroup, DownstreamSubscription[] subscriptions)
    {
        lock (Lock)
        {
            var index = _fastPathClaims.FindIndex(c => c.Group == group && c.Subgroup == subgroup);
            if (index >= 0)
            {
                var merged = _fastPathClaims[index];
                _fastPathClaims[index] = merged with { Subscriptions = [.. merged.Subscriptions.Union(subscriptions, ReferenceEqualityComparer.Instance).Cast<DownstreamSubscription>()] };
                return;
            }
            if (_fastPathClaims.Count >= MaxFastPathClaims) _fastPathClaims.RemoveAt(0);
            _fastPathClaims.Add((group, subgroup, subscriptions));
        }
    }

    private HashSet<DownstreamSubscription>? TakeFastPathClaim(ulong group, ulong subgroup)
    {
        var index = _fastPathClaims.FindIndex(c => c.Group == group && c.Subgroup == subgroup);
        if (index < 0) index = _fastPathClaims.FindIndex(c => c.Group == group && c.Subgroup is null);
        if (index < 0) return null;
        var claim = _fastPathClaims[index];
        _fastPathClaims.RemoveAt(index);
        return new HashSet<DownstreamSubscription>(claim.Subscriptions, ReferenceEqualityComparer.Instance);
    }

    public IUpstreamSubgroupSink OpenSubgroup() => new UpstreamSubgroupFanout(this);

    internal void Deliver(UpstreamSubgroupFanout from, in RelayObject obj)
    {
        List<DownstreamSubscription>? rangeEnded = null;
        lock (Lock)
        {
            if (State == TrackState.Ended) return;
            if (!Admit(obj)) return;
            if (!from.FastPathChecked)
            {
                // Only at the subgroup's first object: a claim made later belongs to a later stream.
                from.FastPathChecked = true;
                if (_fastPathClaims.Count > 0) from.FastPath = TakeFastPathClaim(obj.Group, obj.Subgroup);
            }
            foreach (var subscription in _subscribers)
            {
                if (subscription.IsPastEndGroup(obj.Group)) (rangeEnded ??= []).Add(subscription);
                if (!subscription.Passes(obj)) continue;
                if (from.FastPath is { } kernel && kernel.Contains(subscription)) continue; // the kernel carries it
                subscription.NoteGroup(obj.Group);
                var queue = subscription.Session.SendQueue;
                if (!from.Outgoing.TryGetValue(subscription, out var og))
                {
                    og = queue.Open(subscription, obj);
                    from.Outgoing.Add(subscription, og);
                }
                queue.Enqueue(og, obj);
            }
        }
        EndRanges(rangeEnded);
    }

    /// <summary>
    /// A later group than a subscriber's End Group started: its range is over. Outside the track lock, since finishing
    /// sends PUBLISH_DONE and leaves the track.
    /// </summary>
    private static void EndRanges(List<DownstreamSubscription>? ended)
    {
        if (ended is null) return;
        foreach (var subscription in ended)
            subscription.EndOfRange();
    }

    internal void CloseSubgroup(UpstreamSubgroupFanout from, bool finished, MoqStreamResetCode resetCode = MoqStreamResetCode.Cancelled)
    {
        lock (Lock)
        {
            foreach (var (subscription, og) in from.Outgoing)
                subscription.Session.SendQueue.Close(og, finished, resetCode);
            from.Outgoing.Clear();
        }
    }

    public void OnDatagram(in RelayObject obj)
    {
        List<DownstreamSubscription>? rangeEnded = null;
        lock (Lock)
        {
            if (State == TrackState.Ended) return;
            if (!Admit(obj)) return;
            foreach (var subscription in _subscribers)
            {
                if (subscription.IsPastEndGroup(obj.Group)) (rangeEnded ??= []).Add(subscription);
                if (!subscription.Passes(obj)) continue;
                if (subscription.Port.TrySendDatagram(obj))
                {
                    Interlocked.Increment(ref subscription.DatagramsSent);
                    Interlocked.Increment(ref subscription.ObjectsSent);
                    Interlocked.Increment(ref _relayWide.ObjectsOut);
                    Interlocked.Add(ref subscription.BytesSent, obj.Payload.Length);
                }
                else
                {
                    DatagramsDropped++;
                    Interlocked.Increment(ref subscription.ObjectsDropped);
                    Interlocked.Increment(ref _relayWide.ObjectsDropped);
                }
            }
        }
        EndRanges(rangeEnded);
    }

    /// <summary>Caches the object and decides whether it is new (a duplicate from a second source is not forwarded).</summary>
    private bool Admit(in RelayObject obj)
    {
        switch (Cache.Add(obj))
        {
            case CacheAddResult.Duplicate:
                Duplicates++;
                return false;
            case CacheAddResult.Conflict:
                Duplicates++;
                _logger.LogWarning("{Track}: object {Location} arrived again with different contents; the second copy is dropped",
                    Name, obj.Location);
                return false;
        }
        ObjectsIn++;
        Interlocked.Increment(ref _relayWide.ObjectsIn);
        BytesIn += obj.Payload.Length;
        Largest = Max(Largest, obj.Location);
        return true;
    }

    private static MoqLocation Max(MoqLocation? a, MoqLocation b) => a is { } x && x > b ? x : b;

    /// <summary>A source ended (PUBLISH_DONE or its session closed). Returns true when it was the last: the track ended.</summary>
    internal bool SourceEnded(IUpstreamSubscription source, MoqPublishDoneCode code)
    {
        DownstreamSubscription[] subscribers;
        lock (Lock)
        {
            int index = _sources.FindIndex(s => s.Source == source);
            if (index < 0) return false;
            _sources.RemoveAt(index);
            if (_sources.Count > 0) return false;
            State = TrackState.Ended;
            subscribers = _subscribers.ToArray();
            _subscribers.Clear();
        }
        foreach (var subscription in subscribers)
            subscription.EndWith(code);
        return true;
    }

    /// <summary>Ends the track from the relay's side (linger expired, relay stopping): unsubscribes upstream.</summary>
    internal void Close(MoqPublishDoneCode code)
    {
        (IUpstreamSubscription Source, RelaySession? Owner)[] sources;
        DownstreamSubscription[] subscribers;
        lock (Lock)
        {
            State = TrackState.Ended;
            sources = _sources.ToArray();
            _sources.Clear();
            subscribers = _subscribers.ToArray();
            _subscribers.Clear();
        }
        _ready.TrySetResult(new RequestRefusal(MoqRequestErrorCode.DoesNotExist, "track closed"));
        foreach (var (source, _) in sources)
            source.Cancel();
        foreach (var subscription in subscribers)
            subscription.EndWith(code);
        Cache.Dispose();
    }
}
