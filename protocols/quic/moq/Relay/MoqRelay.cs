using FastRelay.Protocols.Moq.Wire;
using System.Collections.Concurrent;
using FastRelay.Protocols.Moq.Relay.Auth;
using FastRelay.Protocols.Moq.Relay.Cache;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Protocols.Moq.Relay.Routing;
using FastRelay.Protocols.Moq.Relay.Tracks;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Moq.Relay;

/// <summary>
/// The MoQ relay's logic, independent of transports: every session (publisher, subscriber, upstream relay) reaches it
/// through <see cref="IRelayRequestHandler"/>. Routes SUBSCRIBE by namespace to one upstream subscription per track
/// (shared by all its subscribers, ended a linger after the last leaves), caches groups for FETCH and joining FETCH,
/// fans objects out to per-session bounded send queues, and checks AUTHORIZATION TOKENs. <see cref="RelayHost"/> runs
/// it on a UDP port; tests drive it directly with in-memory peers.
/// </summary>
public sealed partial class MoqRelay : IRelayRequestHandler
{
    private readonly RelayOptions _options;
    private readonly RelayLimits _limits;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<IRelayPeer, RelaySession> _sessions = new(ReferenceEqualityComparer.Instance);
    private readonly object _tracksLock = new();
    private readonly Dictionary<MoqFullTrackName, RelayTrack> _tracks = new();
    private readonly NamespaceRegistry _namespaces = new();
    private readonly RelayCounters _counters = new();

    public MoqRelay(RelayOptions options)
    {
        _options = options;
        _limits = options.Limits;
        _logger = options.LoggerFactory.CreateLogger<MoqRelay>();
        GlobalCache = new CacheBudget(_limits.CacheBytesTotal);
        if (options.Auth.IsOpen)
            _logger.LogWarning("MoQ relay runs OPEN: no authorization configured, anyone may publish and subscribe any namespace (configure --auth FILE or --auth-token)");
        else
            _logger.LogInformation("MoQ relay authorization: {Rules} namespace rule(s)", options.Auth.Rules.Count);
    }

    public RelayOptions Options => _options;

    /// <summary>The bound every track cache charges (with its publishing session's bound in between).</summary>
    public CacheBudget GlobalCache { get; }

    public RelayCounters Counters => _counters;

    public int SessionCount => _sessions.Count;

    public int TrackCount { get { lock (_tracksLock) return _tracks.Count; } }

    /// <summary>Published namespaces, namespace interests and trie nodes: all zero when no peer holds anything.</summary>
    public (int Published, int Interests, int Nodes) NamespaceState =>
        (_namespaces.PublishedCount, _namespaces.InterestCount, _namespaces.NodeCount);

    public RelayTrack? FindTrack(MoqFullTrackName name)
    {
        lock (_tracksLock) return _tracks.GetValueOrDefault(name);
    }

    public RelaySession? FindSession(IRelayPeer peer) => _sessions.GetValueOrDefault(peer);

    // ---- sessions ----

    public bool SessionStarted(IRelayPeer peer)
    {
        if (_sessions.Count >= _limits.MaxSessions)
        {
            Interlocked.Increment(ref _counters.SessionsRefused);
            _logger.LogWarning("{Peer} ({Kind} {Remote}) refused: {Max} sessions already", peer.Name, peer.Kind, peer.RemoteEndPoint, _limits.MaxSessions);
            return false;
        }
        var session = new RelaySession(peer, _limits, GlobalCache, _counters, _logger);
        if (!_sessions.TryAdd(peer, session))
            return true;
        Interlocked.Increment(ref _counters.SessionsAccepted);
        _logger.LogInformation("{Peer}: session from {Remote} over {Kind}", peer.Name, peer.RemoteEndPoint, peer.Kind);
        return true;
    }

    public void SessionEnded(IRelayPeer peer)
    {
        if (!_sessions.TryRemove(peer, out var session)) return;
        NamespaceRegistration[] published;
        NamespaceInterest[] interests;
        lock (session.Lock)
        {
            session.Ended = true;
            published = session.PublishedNamespaces.ToArray();
            interests = session.Interests.ToArray();
        }
        foreach (var subscription in session.SubscriptionsSnapshot())
            subscription.Cancel();
        foreach (var registration in published)
            registration.Dispose();
        foreach (var interest in interests)
            interest.Dispose();
        // A source's Done completes once its pump forwarded everything the session delivered before it ended (the
        // objects and stream ends of a publisher that closed right after sending); WatchSource ends it then. Ending it
        // here at once would drop what the pump has not forwarded yet, so this only ends, after a bound, a source
        // whose Done never came, so no track keeps a source that can never send again.
        foreach (var track in AllTracks())
            foreach (var source in track.SourcesOwnedBy(session))
                _ = EndSourceOfEndedSessionAsync(track, source);
        _logger.LogInformation("{Peer}: session ended", peer.Name);
    }

    private RelayTrack[] AllTracks()
    {
        lock (_tracksLock) return _tracks.Values.ToArray();
    }

    private RelaySession? SessionOf(IRelayPeer peer) => _sessions.GetValueOrDefault(peer);

    private static RequestRefusal NotSetUp => new(MoqRequestErrorCode.InternalError, "session not set up");

    private RequestRefusal Refuse(RelaySession session, MoqRequestErrorCode code, string reason)
    {
        Interlocked.Increment(ref _counters.RequestsRefused);
        if (code == MoqRequestErrorCode.Unauthorized)
            _logger.LogWarning("{Peer}: refused: {Reason}", session.Peer.Name, reason);
        else
            _logger.LogDebug("{Peer}: refused ({Code:x}): {Reason}", session.Peer.Name, code, reason);
        return new RequestRefusal(code, reason);
    }

    // ---- publishers ----

    public ValueTask<RelayOutcome<IRelayRegistration>> PublishNamespaceAsync(IRelayPeer peer, NamespaceRequest request, CancellationToken cancellationToken)
    {
        if (SessionOf(peer) is not { } session) return ValueTask.FromResult<RelayOutcome<IRelayRegistration>>(NotSetUp);
        if (!_options.Auth.IsAllowed(RelayAction.Publish, request.Namespace, request.AuthorizationTokens))
            return Result(Refuse(session, MoqRequestErrorCode.Unauthorized, $"not authorized to publish {request.Namespace}"));
        NamespaceRegistration registration;
        lock (session.Lock)
        {
            if (session.Ended) return Result(NotSetUp);
            if (session.PublishedNamespaces.Count >= _limits.MaxPublishedNamespacesPerSession)
                return Result(Refuse(session, MoqRequestErrorCode.ExcessiveLoad, "too many published namespaces"));
            registration = new NamespaceRegistration(request.Namespace, session, Withdraw);
            session.PublishedNamespaces.Add(registration);
        }
        foreach (var interest in _namespaces.Publish(registration))
            if (_options.Auth.IsAllowed(RelayAction.Subscribe, request.Namespace, interest.Tokens))
                Notify(interest, l => l.OnNamespace(request.Namespace));
        _logger.LogInformation("{Peer}: publishes namespace {Namespace}", peer.Name, request.Namespace);
        return Result<IRelayRegistration>(registration);
    }

    private void Withdraw(NamespaceRegistration registration)
    {
        lock (registration.Session.Lock)
            registration.Session.PublishedNamespaces.Remove(registration);
        foreach (var interest in _namespaces.Withdraw(registration))
            if (_options.Auth.IsAllowed(RelayAction.Subscribe, registration.Namespace, interest.Tokens))
                Notify(interest, l => l.OnNamespaceDone(registration.Namespace));
        _logger.LogInformation("{Peer}: namespace {Namespace} withdrawn", registration.Session.Peer.Name, registration.Namespace);
    }

    private void Notify(NamespaceInterest interest, Action<INamespaceListener> send)
    {
        try
        {
            send(interest.Listener);
        }
        catch (Exception e)
        {
            _logger.LogDebug("{Peer}: namespace notification failed: {Error}", interest.Session.Peer.Name, e.Message);
        }
    }

    public ValueTask<RelayOutcome<IUpstreamTrackSink>> PublishAsync(IRelayPeer peer, PublishRequest request, CancellationToken cancellationToken)
    {
        if (SessionOf(peer) is not { } session) return Result<IUpstreamTrackSink>(NotSetUp);
        var name = request.Track;
        if (!_options.Auth.IsAllowed(RelayAction.Publish, name.Namespace, request.AuthorizationTokens))
            return Result<IUpstreamTrackSink>(Refuse(session, MoqRequestErrorCode.Unauthorized, $"not authorized to publish {name}"));
        lock (session.Lock)
        {
            if (session.PushedTracks.Count >= _limits.MaxPublishedTracksPerSession)
                return Result<IUpstreamTrackSink>(Refuse(session, MoqRequestErrorCode.ExcessiveLoad, "too many published tracks"));
        }
        RelayTrack track;
        bool created = false;
        lock (_tracksLock)
        {
            if (!_tracks.TryGetValue(name, out track!) || track.State == TrackState.Ended)
            {
                if (_tracks.Count >= _limits.MaxTracks)
                    return Result<IUpstreamTrackSink>(Refuse(session, MoqRequestErrorCode.ExcessiveLoad, "too many tracks"));
                track = NewTrack(name, session.CacheBudget, pushed: true);
                _tracks[name] = track;
                created = true;
            }
        }
        lock (session.Lock) session.PushedTracks.Add(track);
        track.SetLive(request.Subscription, session, request.Info);
        WatchSource(track, request.Subscription);
        _logger.LogInformation("{Peer}: publishes track {Track}{Extra}", peer.Name, name, created ? "" : " (a further source of a known track)");
        return Result<IUpstreamTrackSink>(track);
    }

    private RelayTrack NewTrack(MoqFullTrackName name, CacheBudget budget, bool pushed)
    {
        var track = new RelayTrack(name, new TrackCache(_limits.CacheBytesPerTrack, budget), pushed, _counters, _logger)
        {
            OnSubscriberLeft = SubscriberLeft,
        };
        Interlocked.Increment(ref _counters.TracksOpened);
        return track;
    }

    private void WatchSource(RelayTrack track, IUpstreamSubscription source)
    {
        _ = source.Done.ContinueWith(t =>
            EndSource(track, source, t.IsCompletedSuccessfully ? t.Result : MoqPublishDoneCode.InternalError),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>How long a source of a session that ended may take to forward what it still holds.</summary>
    internal static readonly TimeSpan EndedSessionSourceWait = TimeSpan.FromSeconds(5);

    private async Task EndSourceOfEndedSessionAsync(RelayTrack track, IUpstreamSubscription source)
    {
        try { await source.Done.WaitAsync(EndedSessionSourceWait).ConfigureAwait(false); }
        catch (TimeoutException) { }
        catch (Exception) { /* a faulted Done: the source is over all the same */ }
        EndSource(track, source, MoqPublishDoneCode.TrackEnded);
    }

    private void EndSource(RelayTrack track, IUpstreamSubscription source, MoqPublishDoneCode code)
    {
        if (!track.SourceEnded(source, code)) return;
        RemoveTrack(track);
        _logger.LogInformation("{Track}: ended upstream (status {Code:x})", track.Name, code);
    }

    private void RemoveTrack(RelayTrack track)
    {
        lock (_tracksLock)
        {
            if (_tracks.TryGetValue(track.Name, out var current) && current == track)
                _tracks.Remove(track.Name);
        }
        foreach (var session in _sessions.Values)
            lock (session.Lock) session.PushedTracks.Remove(track);
        track.Close(MoqPublishDoneCode.TrackEnded);
    }

    private static ValueTask<RelayOutcome<T>> Result<T>(RelayOutcome<T> outcome) where T : class => ValueTask.FromResult(outcome);
    private static ValueTask<RelayOutcome<IRelayRegistration>> Result(RequestRefusal refusal) => ValueTask.FromResult<RelayOutcome<IRelayRegistration>>(refusal);
}
