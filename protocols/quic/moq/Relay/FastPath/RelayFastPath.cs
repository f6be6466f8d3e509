using System.Collections.Concurrent;
using System.Net;
using System.Runtime.CompilerServices;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Protocols.Moq.Relay.Sessions;
using FastRelay.Protocols.Moq.Relay.Status;
using FastRelay.Protocols.Moq.Relay.Tracks;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Wire.Data;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Http3.WebTransport;
using FastRelay.Relay;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Moq.Relay.FastPath;

/// <summary>What <see cref="RelayHost"/> needs to run the QUIC kernel fast path: where the generated quic_moq object
/// is and where it attaches (the relay's UDP port is the host's own).</summary>
public sealed record RelayFastPathOptions(string ObjectPath, IReadOnlyList<string>? Interfaces = null, string BpfFsRoot = FastRelay.Bpf.BpfFs.DefaultRoot,
    string Instance = "moq")
{
    /// <summary>What each fast-path subscriber connection is asked of its ACKs (null: RFC 9000's default, an ACK per two packets).</summary>
    public FastPathAckFrequency? AckFrequency { get; init; } = FastPathAckFrequency.Default;
}

/// <summary>
/// Wires the fast-path parts into a running <see cref="MoqRelay"/>: every raw-QUIC session whose connection negotiated
/// disable_1rtt_encryption (with an 8-byte connection id) gets a <see cref="FastPathUpstreamTap"/> (it may publish) and
/// may be put on the fast path as a subscriber; an encrypted session (raw QUIC or a browser's WebTransport session) may
/// be a subscriber on a sealed slot. For each upstream subgroup stream the route comes from the relay's own
/// state: the publisher session's subscription by track alias → the relay's track → its subscribers on such
/// connections (activated on first use; one track per subscriber connection, the kernel's limit) whose filter takes
/// the whole subgroup. Those (subgroup, subscriber) pairs are claimed on the track, so the relay's own delivery skips
/// exactly them and keeps serving everyone else (filtered, other-track subscribers, connections the kernel cannot write for).
/// </summary>
public sealed class RelayFastPath : IDisposable
{
    /// <summary>
    /// The largest UDP payload a fast-path relay asks its peers to send it (QUIC max_udp_payload_size): our stack's
    /// default datagram (1452 bytes, Ethernet over IPv6) less the AEAD tag, so a kernel copy sealed for an encrypted
    /// subscriber, which grows by up to 16 bytes, still fits a 1500-byte MTU on either family. Without it every
    /// full-size copy over IPv6 was too big to seal and went back to the relay's stack (9 % kernel share for a browser).
    /// </summary>
    public const int MaxReceiveUdpPayloadSize = 1452 - 16;

    private readonly MoqKernelPlane _plane;
    private readonly MoqRelay _relay;
    private readonly IPEndPoint _local;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<IRelayPeer, Peer> _peers = new(ReferenceEqualityComparer.Instance);
    private readonly ConditionalWeakTable<RelayTrack, StrongBox<uint>> _channels = new();
    private readonly object _activationLock = new();
    private FastPathAckFrequency? _ackFrequency;
    private uint _nextChannel;
    private long _retiredKernelBytes;
    // The figures of subscriber connections that left the fast path, newest last (bounded: a status view, not a log).
    private readonly Queue<MoqFastPathSubscriberStatus> _retired = new();
    private const int RetiredKept = 64;
    private long _tappedStreams;

    private RelayFastPath(MoqKernelPlane plane, MoqRelay relay, IPEndPoint local, ILogger log)
    {
        _plane = plane;
        _relay = relay;
        _local = local;
        _log = log;
        _relay.SubscriptionAccepted += OnSubscriptionAccepted;
    }

    /// <summary>
    /// A fast-path-capable connection subscribed: its kernel slot is activated now, off the request's thread, instead
    /// of when the track's next subgroup stream starts. Activation resolves the subscriber's route and neighbour (up to
    /// a few hundred ms for a new peer); done lazily, it made the first group's key object miss its mapping and reach
    /// the subscriber late through userspace.
    /// </summary>
    private void OnSubscriptionAccepted(IRelayPeer peer, RelayTrack track)
    {
        if (!_peers.TryGetValue(peer, out var state) || track.State != TrackState.Live) return;
        var channel = ChannelOf(track);
        _ = Task.Run(() => Bind(state, channel));
    }

    private uint ChannelOf(RelayTrack track) => _channels.GetValue(track, _ => new StrongBox<uint>(Interlocked.Increment(ref _nextChannel))).Value;

    /// <summary>Loads and attaches the programs for the relay listening on <paramref name="local"/>.</summary>
    public static RelayFastPath Start(RelayFastPathOptions options, MoqRelay relay, IPEndPoint local, ILogger log)
    {
        var plane = MoqKernelPlane.Start(new FastPathHostOptions(FastRelay.Protocols.Quic.QuicMoqHeaderFastPath.Protocol, options.ObjectPath,
            options.Instance, options.Interfaces, options.BpfFsRoot), (ushort)local.Port, log);
        return new RelayFastPath(plane, relay, local, log) { _ackFrequency = options.AckFrequency };
    }

    public MoqKernelPlane Plane => _plane;

    /// <summary>
    /// A session is being set up over <paramref name="connection"/>: returns the subgroup tap to give it, or null when the
    /// connection cannot be an upstream of the fast path (encrypted 1-RTT, other connection id length). An encrypted
    /// connection is still registered as a possible subscriber when the kernel can seal for it: its copies leave sealed
    /// with its keys (docs/quic-encrypted-fast-path.md); as a publisher it gets no tap (opening in the kernel is not wired).
    /// <paramref name="upstreamLink"/>: our own link to an upstream relay, never a subscriber of ours.
    /// </summary>
    public IMoqSubgroupTap? Attach(IRelayPeer peer, QuicConnection connection, bool upstreamLink = false)
    {
        if (!FastPathSubscriberConnection.CanUse(connection))
        {
            if (!upstreamLink && FastPathSubscriberConnection.CanSeal(connection) && _plane.CanSeal) _peers[peer] = new Peer(connection);
            return null;
        }
        var state = new Peer(connection);
        _peers[peer] = state;
        return new FastPathUpstreamTap(_plane, connection.InitialLocalConnectionId, header => Route(state, header), _log,
            (header, tapped) => Claim(state, header, tapped));
    }

    /// <summary>
    /// A browser's (WebTransport) session is being set up: its connection is registered as a possible subscriber when the
    /// kernel can write for it (a sealed slot for full 1-RTT protection, a clear one for 0xBAAD), its subgroup streams
    /// then opened as WebTransport streams of <paramref name="session"/>. Never an upstream: a WebTransport publisher's
    /// streams carry the WebTransport header, which the subgroup tap does not parse, so its tracks are served by userspace.
    /// A slot is per connection: a second session on the same HTTP/3 connection stays in userspace (two slots for one
    /// connection would number its packets from two counters).
    /// </summary>
    public void AttachWebTransport(IRelayPeer peer, WebTransportSession session)
    {
        var connection = session.Connection;
        if (!FastPathSubscriberConnection.CanUse(connection) && !(FastPathSubscriberConnection.CanSeal(connection) && _plane.CanSeal))
        {
            _log.LogDebug("fast path: WebTransport subscriber {Remote} stays on userspace (connection id of {Length} bytes)",
                connection.RemoteEndPoint, connection.DestinationConnectionId.Length);
            return;
        }
        lock (_activationLock) // two sessions of one connection arriving at once must not both register
        {
            if (_peers.Values.Any(p => ReferenceEquals(p.Connection, connection)))
                _log.LogDebug("fast path: another WebTransport session on {Remote}'s connection stays on userspace", connection.RemoteEndPoint);
            else
                _peers[peer] = new Peer(connection, FastPathStreamOpener.WebTransport(session));
        }
    }

    /// <summary>The session is set up: its subscriptions (by alias) route its subgroup streams.</summary>
    public void SessionStarted(IRelayPeer peer, MoqSession session)
    {
        if (_peers.TryGetValue(peer, out var state)) state.Session = session;
    }

    /// <summary>The session ended: its slot and mappings go.</summary>
    public void SessionEnded(IRelayPeer peer)
    {
        if (!_peers.TryRemove(peer, out var state)) return;
        lock (state)
        {
            state.Ended = true;
            if (state.Binding is { } binding)
            {
                state.Binding = null;
                try
                {
                    var figures = Figures(peer, binding, live: false);
                    Interlocked.Add(ref _retiredKernelBytes, figures.KernelBytes);
                    lock (_retired)
                    {
                        _retired.Enqueue(figures);
                        if (_retired.Count > RetiredKept) _retired.Dequeue();
                    }
                    binding.Dispose();
                }
                catch (ObjectDisposedException)
                {
                    // The relay is stopping and the plane went first: its slots went with it.
                }
            }
        }
    }

    /// <summary>What the status view shows: slots in use, subgroup streams tapped, object bytes the kernel forwarded.</summary>
    public MoqFastPathStatus Snapshot()
    {
        long live = 0, slots = 0;
        var subscribers = new List<MoqFastPathSubscriberStatus>();
        lock (_retired) subscribers.AddRange(_retired);
        foreach (var (peer, state) in _peers)
            lock (state)
                if (state.Binding is { } b)
                {
                    slots++;
                    var figures = Figures(peer, b, live: true);
                    live += figures.KernelBytes;
                    subscribers.Add(figures);
                }
        var c = _plane.Counters;
        var k = _plane.KernelStats();
        var (runTimeNs, runs) = _plane.UpstreamProgramRunTime();
        var seal = _plane.SealStats() is { } q ? new MoqSealStatus((long)q.Sealed, (long)q.TooBig, (long)(q.NoKeys + q.Malformed + q.CryptoError)) : null;
        return new MoqFastPathStatus((int)slots, Interlocked.Read(ref _tappedStreams), live + Interlocked.Read(ref _retiredKernelBytes),
            c.Forwarded, c.NotForwarded, (long)k.UpstreamMatched, (long)k.UpstreamNoChannel, (long)k.Clones, (long)k.EgressRewritten,
            (long)k.EgressDroppedNoStream, (long)k.EgressNotForwarded, subscribers, runTimeNs, runs, seal);
    }

    private static MoqFastPathSubscriberStatus Figures(IRelayPeer peer, FastPathSubscriberConnection binding, bool live) =>
        new(peer.Name, peer.RemoteEndPoint.ToString() ?? "", live, binding.KernelForwardedBytes, binding.UserspaceStreamBytes,
            binding.Connection.GetPathStatistics().PacketsLost, binding.Congestion.SkippedSubgroups);

    private FastPathTrackRoute? Route(Peer publisher, MoqSubgroupHeader header)
    {
        var subscription = publisher.Session?.FindSubscription(header.TrackAlias);
        if (subscription is null) return null; // SUBSCRIBE_OK not processed yet: this stream stays on userspace
        var track = _relay.FindTrack(subscription.Track);
        if (track is null || track.State != TrackState.Live) return null;
        var channel = ChannelOf(track);
        var urgency = SubscriberCongestion.UrgencyOf(header.PublisherPriority ?? subscription.PublisherPriority);
        var subscribers = new List<FastPathTrackSubscriber>();
        var claimed = new List<DownstreamSubscription>();
        List<DownstreamSubscription>? skipped = null;
        foreach (var s in track.SubscribersSnapshot())
        {
            if (!TakesWholeSubgroup(s, header.GroupId)) continue;
            if (!_peers.TryGetValue(s.Session.Peer, out var peer) || peer == publisher) continue;
            if ((s.Port as PublicationPort)?.TrackAlias is not { } alias) continue;
            var binding = Bind(peer, channel);
            if (binding is null) continue;
            if (!binding.Congestion.Admits(urgency, header.GroupId, SubgroupOf(header)))
            {
                // Its path is congested: this whole subgroup is dropped for it, decided now, at the stream's start.
                (skipped ??= []).Add(s);
                continue;
            }
            subscribers.Add(new FastPathTrackSubscriber(binding, alias, urgency));
            claimed.Add(s);
        }
        // A skip is a claim too: the relay's own delivery must not send the subgroup to that subscriber either.
        if (skipped is not null) track.ClaimForFastPath(header.GroupId, SubgroupOf(header), [.. skipped]);
        if (subscribers.Count == 0) return null;
        publisher.PendingClaims[header] = (track, claimed.ToArray());
        return new FastPathTrackRoute(channel, subscribers);
    }

    /// <summary>The tap's verdict on a route: claimed only once the stream is really on the fast path, so a stream the
    /// tap could not map stays with the relay's delivery.</summary>
    private void Claim(Peer publisher, MoqSubgroupHeader header, bool tapped)
    {
        if (!publisher.PendingClaims.TryRemove(header, out var claim) || !tapped) return;
        claim.Track.ClaimForFastPath(header.GroupId, SubgroupOf(header), claim.Subscriptions);
        // The tap opens each of these subscribers' streams itself: their PUBLISH_DONE must count them (counted now, at the
        // upstream stream's header, so before the upstream track can end; a stream the tap then fails to open leaves its
        // subscriber waiting out PUBLISH_DONE's linger, as for any counted stream that never comes).
        foreach (var s in claim.Subscriptions) s.Port.CountStreamOpenedElsewhere();
        Interlocked.Increment(ref _tappedStreams);
    }

    private static ulong? SubgroupOf(MoqSubgroupHeader header) => header.SubgroupIdMode switch
    {
        MoqSubgroupIdMode.Zero => 0,
        MoqSubgroupIdMode.Explicit => header.SubgroupId,
        _ => null, // the first object's id: any subgroup of the group
    };

    /// <summary>The kernel forwards a subgroup whole: only a subscription with no range filter, no end group and a start
    /// at or before this group's beginning gets it.</summary>
    private static bool TakesWholeSubgroup(DownstreamSubscription s, ulong group) =>
        s.Forward && !s.IsCancelled && s.RangeFilters.IsEmpty && s.EndGroup is null &&
        (s.Start.Group < group || (s.Start.Group == group && s.Start.Object == 0));

    /// <summary>The peer's slot, activated on first use; null when it cannot serve <paramref name="channel"/> (its slot
    /// belongs to another track, the slots ran out, activation failed).</summary>
    private FastPathSubscriberConnection? Bind(Peer peer, uint channel)
    {
        lock (peer)
        {
            if (peer.Ended || peer.Failed) return null;
            if (peer.Binding is null)
            {
                try
                {
                    var address = FastPathSubscriberAddress.Resolve(_local, peer.Connection.RemoteEndPoint, peer.Connection.DestinationConnectionId);
                    lock (_activationLock) // activations must not race for the last slot
                        peer.Binding = FastPathSubscriberConnection.Activate(_plane, peer.Connection, address, _log, _ackFrequency, peer.Streams);
                }
                catch (Exception e)
                {
                    _log.LogDebug(e, "fast path: {Remote} stays on userspace", peer.Connection.RemoteEndPoint);
                }
                if (peer.Binding is null)
                {
                    peer.Failed = true;
                    return null;
                }
                peer.Channel = channel;
                _log.LogInformation("fast path: subscriber {Remote} on slot {Slot} ({Kind}, {Length}-byte connection id)", peer.Connection.RemoteEndPoint,
                    peer.Binding.Slot, FastPathSubscriberConnection.CanUse(peer.Connection) ? "clear text" : "sealed", peer.Connection.DestinationConnectionId.Length);
            }
            return peer.Channel == channel ? peer.Binding : null;
        }
    }

    public void Dispose()
    {
        _relay.SubscriptionAccepted -= OnSubscriptionAccepted;
        foreach (var peer in _peers.Keys.ToArray())
            SessionEnded(peer);
        _plane.Dispose();
    }

    private sealed class Peer(QuicConnection connection, FastPathStreamOpener? streams = null)
    {
        public QuicConnection Connection { get; } = connection;
        public FastPathStreamOpener Streams { get; } = streams ?? FastPathStreamOpener.Quic(connection);
        public MoqSession? Session { get; set; }
        public FastPathSubscriberConnection? Binding { get; set; }
        public uint Channel { get; set; }
        public bool Failed { get; set; }
        public bool Ended { get; set; }

        /// <summary>Route decisions waiting for the tap's verdict (by header instance): claimed only once the stream is
        /// really on the fast path, so a stream the tap could not map stays with the relay's delivery.</summary>
        public ConcurrentDictionary<MoqSubgroupHeader, (RelayTrack Track, DownstreamSubscription[] Subscriptions)> PendingClaims { get; } =
            new(ReferenceEqualityComparer.Instance);
    }
}
