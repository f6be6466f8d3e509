using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Cache;
using FastRelay.Protocols.Moq.Relay.Delivery;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Protocols.Moq.Relay.Routing;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Moq.Relay.Tracks;

/// <summary>
/// What the relay holds for one set-up session: created at <see cref="IRelayRequestHandler.SessionStarted"/> (nothing
/// before), dropped at <see cref="IRelayRequestHandler.SessionEnded"/>. Everything a peer can make the relay hold is
/// listed here and counted against the per-session limits.
/// </summary>
public sealed class RelaySession
{
    private readonly HashSet<DownstreamSubscription> _subscriptions = new(ReferenceEqualityComparer.Instance);

    internal RelaySession(IRelayPeer peer, RelayLimits limits, CacheBudget globalCache, RelayCounters relayWide, ILogger logger)
    {
        Peer = peer;
        SendQueue = new SessionSendQueue(limits.SendQueueBytesPerSession, peer.Name, relayWide, logger);
        CacheBudget = new CacheBudget(limits.CacheBytesPerSession, globalCache);
        StartedAt = DateTimeOffset.UtcNow;
    }

    public IRelayPeer Peer { get; }
    internal SessionSendQueue SendQueue { get; }

    /// <summary>The caches of tracks this session publishes share this bound (and the global one above it).</summary>
    internal CacheBudget CacheBudget { get; }

    public DateTimeOffset StartedAt { get; }

    internal object Lock { get; } = new();

    /// <summary>PUBLISH_NAMESPACE registrations; guarded by <see cref="Lock"/>.</summary>
    internal List<NamespaceRegistration> PublishedNamespaces { get; } = [];

    /// <summary>SUBSCRIBE_NAMESPACE registrations; guarded by <see cref="Lock"/>.</summary>
    internal List<NamespaceInterest> Interests { get; } = [];

    /// <summary>Tracks this session PUBLISHed; guarded by <see cref="Lock"/>.</summary>
    internal HashSet<RelayTrack> PushedTracks { get; } = new(ReferenceEqualityComparer.Instance);

    /// <summary>Requests (SUBSCRIBE, FETCH, TRACK_STATUS) being answered now.</summary>
    internal int RequestsInFlight;

    internal bool Ended { get; set; }

    /// <summary>Bytes queued for this session and not yet accepted by its transport (bounded by the limit).</summary>
    public long SendQueueBytes => SendQueue.QueuedBytes;
    public int OpenSubgroups => SendQueue.OpenSubgroups;
    public long ObjectsSent => Interlocked.Read(ref SendQueue.ObjectsSent);
    public long BytesSent => Interlocked.Read(ref SendQueue.BytesSent);
    public long ObjectsDropped => Interlocked.Read(ref SendQueue.ObjectsDropped);
    public long SubgroupsDropped => Interlocked.Read(ref SendQueue.SubgroupsDropped);

    public int SubscriptionCount
    {
        get { lock (Lock) return _subscriptions.Count; }
    }

    public DownstreamSubscription[] SubscriptionsSnapshot()
    {
        lock (Lock) return _subscriptions.ToArray();
    }

    internal bool TryAdd(DownstreamSubscription subscription, int limit)
    {
        lock (Lock)
        {
            if (Ended || _subscriptions.Count >= limit) return false;
            _subscriptions.Add(subscription);
            return true;
        }
    }

    internal void Forget(DownstreamSubscription subscription)
    {
        lock (Lock) _subscriptions.Remove(subscription);
    }
}
