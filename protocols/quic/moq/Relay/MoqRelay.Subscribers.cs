using FastRelay.Protocols.Moq.Wire.Data;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Auth;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Protocols.Moq.Relay.Routing;
using FastRelay.Protocols.Moq.Relay.Tracks;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Moq.Relay;

public sealed partial class MoqRelay
{
    /// <summary>A downstream SUBSCRIBE was accepted (raised on the request's thread: handlers must not block).</summary>
    public event Action<IRelayPeer, RelayTrack>? SubscriptionAccepted;

    public async ValueTask<RelayOutcome<SubscribeAccepted>> SubscribeAsync(IRelayPeer peer, SubscribeRequest request, IDownstreamTrackPort port, CancellationToken cancellationToken)
    {
        if (SessionOf(peer) is not { } session) return NotSetUp;
        var name = request.Track;
        if (!_options.Auth.IsAllowed(RelayAction.Subscribe, name.Namespace, request.AuthorizationTokens))
            return Refuse(session, MoqRequestErrorCode.Unauthorized, $"not authorized to subscribe {name}");
        if (session.SubscriptionCount >= _limits.MaxSubscriptionsPerSession)
            return Refuse(session, MoqRequestErrorCode.ExcessiveLoad, "too many subscriptions");
        if (!EnterRequest(session))
            return Refuse(session, MoqRequestErrorCode.ExcessiveLoad, "too many requests in flight");
        RelayTrack? track = null;
        try
        {
            track = AcquireTrack(name, out var refusal);
            if (track is null) return Refuse(session, refusal!.Code, refusal.Reason);
            var failed = await WaitReadyAsync(track, cancellationToken).ConfigureAwait(false);
            if (failed is not null) return Refuse(session, failed.Code, failed.Reason);
            // §"Location Filters": a range whose End Group was entirely published (a later group started) is refused.
            if (request.Filter?.EndGroup is { } endGroup && track.Largest is { } largest && largest.Group > endGroup)
                return Refuse(session, MoqRequestErrorCode.InvalidRange, "the end group was already published");
            var subscription = track.AddSubscriber(session, port, request);
            if (subscription is null)
                return Refuse(session, MoqRequestErrorCode.DoesNotExist, "track ended");
            if (!session.TryAdd(subscription, _limits.MaxSubscriptionsPerSession))
            {
                subscription.Cancel();
                return Refuse(session, MoqRequestErrorCode.ExcessiveLoad, "too many subscriptions");
            }
            Interlocked.Increment(ref _counters.SubscriptionsAccepted);
            _logger.LogInformation("{Peer}: subscribed {Track} (priority {Priority}, start {Start})", peer.Name, name, request.SubscriberPriority, subscription.Start);
            SubscriptionAccepted?.Invoke(peer, track);
            return new SubscribeAccepted(subscription, track.Info with { Largest = track.Largest });
        }
        finally
        {
            if (track is not null) ReleaseTrack(track);
            ExitRequest(session);
        }
    }

    private bool EnterRequest(RelaySession session)
    {
        if (Interlocked.Increment(ref session.RequestsInFlight) <= _limits.MaxRequestsInFlightPerSession) return true;
        Interlocked.Decrement(ref session.RequestsInFlight);
        return false;
    }

    private static void ExitRequest(RelaySession session) => Interlocked.Decrement(ref session.RequestsInFlight);

    /// <summary>The track's entry (creating it and its upstream subscription if needed), held pending until released.</summary>
    private RelayTrack? AcquireTrack(MoqFullTrackName name, out RequestRefusal? refusal)
    {
        refusal = null;
        bool created = false;
        RelayTrack? track;
        lock (_tracksLock)
        {
            if (!_tracks.TryGetValue(name, out track) || track.State == TrackState.Ended)
            {
                if (_tracks.Count >= _limits.MaxTracks)
                {
                    refusal = new RequestRefusal(MoqRequestErrorCode.ExcessiveLoad, "too many tracks");
                    return null;
                }
                var publisher = _namespaces.PublishersFor(name.Namespace).FirstOrDefault();
                track = NewTrack(name, publisher?.Session.CacheBudget ?? GlobalCache, pushed: false);
                _tracks[name] = track;
                created = true;
            }
            track.PendingSubscribers++;
            track.IdleSince = null;
        }
        if (created)
            _ = SubscribeUpstreamAsync(track);
        return track;
    }

    private void ReleaseTrack(RelayTrack track)
    {
        lock (_tracksLock)
            track.PendingSubscribers--;
        SubscriberLeft(track);
    }

    private async Task<RequestRefusal?> WaitReadyAsync(RelayTrack track, CancellationToken cancellationToken)
    {
        try
        {
            return await track.Ready.WaitAsync(_options.UpstreamSubscribeTimeout, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return new RequestRefusal(MoqRequestErrorCode.Timeout, "no answer from upstream in time");
        }
    }

    /// <summary>
    /// One SUBSCRIBE upstream for the track: to the publisher of the longest matching namespace (others in turn if it
    /// refuses), else to the upstream relay. The relay's own values, not a subscriber's: Largest Object, forward 1.
    /// </summary>
    private async Task SubscribeUpstreamAsync(RelayTrack track)
    {
        var name = track.Name;
        RequestRefusal last = new(MoqRequestErrorCode.DoesNotExist, $"no publisher for {name.Namespace}");
        try
        {
            var candidates = _namespaces.PublishersFor(name.Namespace)
                .Select(r => (Peer: r.Session.Peer, Owner: (RelaySession?)r.Session, Tokens: (IReadOnlyList<AuthToken>)[]))
                .ToList();
            if (candidates.Count == 0 && _options.Upstream is { } upstream)
            {
                var peer = await upstream.GetPeerAsync(CancellationToken.None).ConfigureAwait(false);
                candidates.Add((peer, SessionOf(peer), _options.UpstreamTokens));
            }
            foreach (var (peer, owner, tokens) in candidates)
            {
                var result = await peer.SubscribeAsync(new UpstreamSubscribeRequest(name, tokens), track, CancellationToken.None).ConfigureAwait(false);
                if (result.IsSuccess)
                {
                    Interlocked.Increment(ref _counters.UpstreamSubscriptions);
                    track.SetLive(result.Subscription!, owner, result.Info ?? new UpstreamTrackInfo(), (peer, tokens));
                    WatchSource(track, result.Subscription!);
                    _logger.LogInformation("{Track}: subscribed upstream at {Peer} (largest {Largest})", name, peer.Name, result.Info?.Largest);
                    return;
                }
                last = new RequestRefusal(result.ErrorCode, result.Reason ?? "refused upstream");
                _logger.LogInformation("{Track}: upstream {Peer} refused ({Code:x}): {Reason}", name, peer.Name, result.ErrorCode, result.Reason);
            }
        }
        catch (Exception e)
        {
            last = new RequestRefusal(MoqRequestErrorCode.InternalError, "upstream unavailable: " + e.Message);
            _logger.LogWarning("{Track}: upstream subscribe failed: {Error}", name, e.Message);
        }
        track.Fail(last);
        RemoveTrack(track);
    }

    /// <summary>Starts the linger clock when the last subscriber left a track the relay subscribed to.</summary>
    private void SubscriberLeft(RelayTrack track)
    {
        if (track.IsPushed) return;
        lock (_tracksLock)
        {
            if (track.PendingSubscribers == 0 && track.SubscriberCount == 0 && track.IdleSince is null)
                track.IdleSince = _options.TimeProvider.GetTimestamp();
        }
    }

    /// <summary>
    /// Unsubscribes upstream from tracks whose last subscriber left at least <see cref="RelayOptions.UpstreamLinger"/>
    /// ago. <see cref="RelayHost"/> calls it on a timer; tests call it directly.
    /// </summary>
    public int SweepIdleTracks()
    {
        var expired = new List<RelayTrack>();
        long now = _options.TimeProvider.GetTimestamp();
        lock (_tracksLock)
        {
            foreach (var track in _tracks.Values)
            {
                if (track.IdleSince is not { } since || track.PendingSubscribers > 0) continue;
                if (_options.TimeProvider.GetElapsedTime(since, now) < _options.UpstreamLinger) continue;
                if (track.SubscriberCount > 0)
                {
                    track.IdleSince = null;
                    continue;
                }
                expired.Add(track);
            }
        }
        foreach (var track in expired)
        {
            _logger.LogInformation("{Track}: no subscribers for {Linger}: unsubscribing upstream", track.Name, _options.UpstreamLinger);
            RemoveTrack(track);
        }
        return expired.Count;
    }

    public async ValueTask<RelayOutcome<FetchAccepted>> FetchAsync(IRelayPeer peer, FetchRequest request, CancellationToken cancellationToken)
    {
        if (SessionOf(peer) is not { } session) return NotSetUp;
        RelayTrack? track;
        MoqLocation start, end;
        if (request.Joining is { } joining)
        {
            if (joining is not DownstreamSubscription subscription || subscription.Session != session || subscription.IsCancelled)
                return Refuse(session, MoqRequestErrorCode.InvalidJoiningRequestId, "no such subscription");
            if (subscription.JoiningLocation is not { } at)
                return Refuse(session, MoqRequestErrorCode.InvalidRange, subscription.Forward ? "no objects yet" : "subscription is not forwarding");
            track = subscription.Track;
            start = request.JoiningIsRelative
                ? new MoqLocation(at.Group - Math.Min(request.JoiningStart, at.Group), 0)
                : new MoqLocation(request.JoiningStart, 0);
            end = at;
            if (start > end)
                return Refuse(session, MoqRequestErrorCode.InvalidRange, "joining start is after the joining location");
        }
        else
        {
            if (request.Track is not { } name)
                return Refuse(session, MoqRequestErrorCode.InvalidRange, "FETCH names no track");
            if (!_options.Auth.IsAllowed(RelayAction.Subscribe, name.Namespace, request.AuthorizationTokens))
                return Refuse(session, MoqRequestErrorCode.Unauthorized, $"not authorized to fetch {name}");
            track = FindTrack(name);
            if (track is null || track.State != TrackState.Live)
                return Refuse(session, MoqRequestErrorCode.DoesNotExist, "track not available here");
            start = request.Start;
            // End is exclusive on the wire; Object 0 means the whole of End.Group.
            end = request.End.Object == 0 ? new MoqLocation(request.End.Group, ulong.MaxValue) : new MoqLocation(request.End.Group, request.End.Object - 1);
            if (end < start)
                return Refuse(session, MoqRequestErrorCode.InvalidRange, "end before start");
        }
        if (track.Largest is not { } largest || start > largest)
            return Refuse(session, MoqRequestErrorCode.InvalidRange, "nothing published in that range yet");
        bool capped = end >= largest;
        if (capped) end = largest;
        bool descending = request.GroupOrder == MoqGroupOrder.Descending;
        var objects = track.Cache.Range(start, end, descending, out bool complete);
        if (!complete && track.Origin is { } origin)
        {
            // Part of the range is not held here (evicted, or before this relay subscribed): ask where the track comes from.
            var fetched = await origin.Peer.FetchAsync(track.Name, start, end, origin.Tokens, _limits.CacheBytesPerTrack, cancellationToken).ConfigureAwait(false);
            if (fetched.Refusal is null && fetched.Complete)
            {
                objects = descending ? fetched.Objects.OrderByDescending(o => o.Group).ThenBy(o => o.ObjectId).ToList() : fetched.Objects.ToList();
                complete = true;
                Interlocked.Increment(ref _counters.UpstreamFetches);
            }
        }
        objects.RemoveAll(o => o.Status != MoqObjectStatus.Normal);
        var endOnWire = capped || request.Joining is not null ? new MoqLocation(end.Group, end.Object + 1) : request.End;
        Interlocked.Increment(ref _counters.FetchesServed);
        Interlocked.Add(ref _counters.FetchObjects, objects.Count);
        return new FetchAccepted(endOnWire, false, objects, track.Info with { Largest = track.Largest }) { Incomplete = !complete };
    }

    public ValueTask<RelayOutcome<UpstreamTrackInfo>> TrackStatusAsync(IRelayPeer peer, SubscribeRequest request, CancellationToken cancellationToken)
    {
        if (SessionOf(peer) is not { } session) return Result<UpstreamTrackInfo>(NotSetUp);
        var name = request.Track;
        if (!_options.Auth.IsAllowed(RelayAction.Subscribe, name.Namespace, request.AuthorizationTokens))
            return Result<UpstreamTrackInfo>(Refuse(session, MoqRequestErrorCode.Unauthorized, $"not authorized for {name}"));
        if (FindTrack(name) is { State: TrackState.Live } track)
            return Result<UpstreamTrackInfo>(track.Info with { Largest = track.Largest });
        if (_namespaces.HasPublisherFor(name.Namespace))
            return Result<UpstreamTrackInfo>(new UpstreamTrackInfo());
        return Result<UpstreamTrackInfo>(Refuse(session, MoqRequestErrorCode.DoesNotExist, "track not available here"));
    }

    public ValueTask<RelayOutcome<IRelayRegistration>> SubscribeNamespaceAsync(IRelayPeer peer, NamespaceRequest request, INamespaceListener listener, CancellationToken cancellationToken)
    {
        if (SessionOf(peer) is not { } session) return Result(NotSetUp);
        var prefix = request.Namespace;
        if (!_options.Auth.MayDiscover(prefix, request.AuthorizationTokens))
            return Result(Refuse(session, MoqRequestErrorCode.Unauthorized, $"not authorized to discover {prefix}"));
        NamespaceInterest interest;
        lock (session.Lock)
        {
            if (session.Ended) return Result(NotSetUp);
            if (session.Interests.Count >= _limits.MaxNamespaceInterestsPerSession)
                return Result(Refuse(session, MoqRequestErrorCode.ExcessiveLoad, "too many namespace subscriptions"));
            if (session.Interests.Any(i => RelayNames.Overlap(i.Prefix, prefix)))
                return Result(Refuse(session, MoqRequestErrorCode.PrefixOverlap, "overlaps another namespace subscription"));
            interest = new NamespaceInterest(prefix, session, listener, request.AuthorizationTokens, WithdrawInterest);
            session.Interests.Add(interest);
        }
        var existing = _namespaces.AddInterest(interest, _limits.MaxNamespacesPerInterest);
        if (existing.Count > _limits.MaxNamespacesPerInterest)
        {
            interest.Dispose();
            return Result(Refuse(session, MoqRequestErrorCode.NamespaceTooLarge, "prefix matches too many namespaces"));
        }
        foreach (var ns in existing)
            if (_options.Auth.IsAllowed(RelayAction.Subscribe, ns, request.AuthorizationTokens))
                Notify(interest, l => l.OnNamespace(ns));
        return Result<IRelayRegistration>(interest);
    }

    private void WithdrawInterest(NamespaceInterest interest)
    {
        lock (interest.Session.Lock)
            interest.Session.Interests.Remove(interest);
        _namespaces.RemoveInterest(interest);
    }
}
