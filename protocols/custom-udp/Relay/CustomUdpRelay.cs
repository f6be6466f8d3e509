using FastRelay.Net;
using System.Net;
using System.Net.Sockets;
using FastRelay.Protocols.CustomUdp.Wire;
using FastRelay.Relay;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.CustomUdp.Relay;

/// <summary>
/// The custom-UDP relay's control plane on the generic <see cref="RelayHost"/>: the cookie handshake (nothing is sent to
/// an address before it echoed a cookie), channel upstreams, byte budgets from feedback, the per-channel cache, NACK
/// repair, late-joiner history, keepalive expiry and the status file. Who is in which channel is a <see cref="RelayPlan"/>
/// the relay applies to the host after every handshake, unsubscribe or expiry: the host takes the slots and writes the
/// plane in the order that never shows a half-made subscriber; its <see cref="SubscriberBinder"/> hook is where the
/// route learnt in the handshake comes in and the accepting REPLY leaves, before the slot is active. DATA copies are made by
/// the runtime's fan-out plane (<see cref="IFanOutPlane"/>: the kernel's <see cref="KernelDataPlane"/> or the shared
/// <see cref="UserspaceFanOut"/>); this class never copies DATA to subscribers itself, except to repair or replay
/// history. What the kernel keeps of the stream (its cache) it reads through <see cref="IUpstreamHistory"/>.
/// </summary>
public sealed class CustomUdpRelay : IRegistrationSink, IDisposable
{
    private sealed class ChannelState(ChannelCache cache)
    {
        public IPEndPoint? Upstream;
        public SocketAddressKey? UpstreamKey;
        public SocketAddress? UpstreamAddress; // serialised once: the data path compares without allocating
        public ChannelCache Cache { get; } = cache;
        public ulong UpstreamPackets;
        public long LastUpstreamNs;
    }

    private readonly Socket _socket;
    private readonly RelayOptions _options;
    private readonly ILogger _log;
    private readonly Func<IPEndPoint, KernelSubscriber> _bind;
    private readonly CookieJar _cookies = new();
    private readonly IFanOutPlane _plane;
    private readonly IUpstreamHistory? _history;
    private readonly RelayHost _host;

    /// <summary>The subscriber whose handshake is being completed: in the plan while <see cref="RelayHost.Apply"/> runs,
    /// bound by <see cref="BindJoining"/> when the host takes its slot.</summary>
    private Joining? _joining;

    private sealed record Joining(ushort Channel, SubscriberPlan Plan, KernelSubscriber Route, Func<int, SubscriberSession> Accept)
    {
        public SubscriberSession? Session;
    }
    private readonly object _gate = new();
    private readonly AutoResetEvent _budgetChanged = new(false);
    private readonly Dictionary<ushort, ChannelState> _channels = new();
    private readonly Dictionary<SocketAddressKey, SubscriberSession> _byEndpoint = new();
    private readonly SubscriberSession?[] _slots;
    private readonly byte[] _send = new byte[ChannelCache.SlotBytes + 64];
    private readonly byte[] _repairScratch = new byte[ChannelCache.SlotBytes];
    private ulong _upstreamPackets, _foreignData, _malformed, _challenges, _accepted, _refused, _removed, _repaired, _nacksDropped, _keepalives;
    private readonly RepairWorker<RepairRequest, RepairBuffers> _repairs;

    /// <param name="planeFactory">Creates the fan-out plane; it gets this relay as its registration sink.</param>
    /// <param name="bind">How to reach a subscriber (device, MACs, relay address; slot and channel are filled in here);
    /// may throw when it cannot.</param>
    public CustomUdpRelay(Socket socket, RelayOptions options, Func<IRegistrationSink, IFanOutPlane> planeFactory,
        Func<IPEndPoint, KernelSubscriber> bind, ILogger log)
    {
        _socket = socket;
        _options = options;
        _bind = bind;
        _log = log;
        _slots = new SubscriberSession?[options.MaxSubscribers];
        _plane = planeFactory(this);
        _history = _plane as IUpstreamHistory;
        // The host is not ticked: budgets are the relay's (from each subscriber's FEEDBACK) and it drains the plane itself.
        _host = new RelayHost(_plane, CustomUdpHeaderFastPath.Protocol, (ushort)options.Port, log, BindJoining, options.MaxSubscribers);
        _repairs = new RepairWorker<RepairRequest, RepairBuffers>("fastrelay-repair", RepairQueueDepth,
            () => new RepairBuffers(new byte[ChannelCache.SlotBytes + 64], new byte[ChannelCache.SlotBytes]), Repair, log);
    }

    public IFanOutPlane Plane => _plane;

    /// <summary>Planned NACKs waiting for the repair worker; beyond this the relay drops NACKs (counted).</summary>
    private const int RepairQueueDepth = 64;

    private sealed record RepairRequest(SubscriberSession Session, uint[] Sequences, int Count);

    /// <summary>The repair worker's own buffers: the receive thread keeps using the relay's.</summary>
    private sealed record RepairBuffers(byte[] Send, byte[] Scratch);

    /// <summary>The userspace mode's plane: the runtime's <see cref="UserspaceFanOut"/> over the custom-UDP descriptor,
    /// sending from the relay's own socket and registering every copy with the relay (NACK repair).</summary>
    public static Func<IRegistrationSink, IFanOutPlane> UserspacePlane(Socket socket, int maxSubscribers) =>
        sink => new UserspaceFanOut(DescriptorFields.Of(typeof(CustomUdpHeader)), maxSubscribers, socket, sink);

    /// <summary>Binds a dual-stack UDP socket on the relay port, sized for bursts.</summary>
    public static Socket OpenSocket(int port)
    {
        var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = true };
        socket.ReceiveBufferSize = 8 << 20;
        socket.SendBufferSize = 8 << 20;
        socket.ReceiveTimeout = 100;
        socket.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
        return socket;
    }

    /// <summary>Runs until cancelled: one thread receives and handles packets, one keeps time.</summary>
    public void Run(CancellationToken cancellationToken)
    {
        var timer = new Thread(() => TimerLoop(cancellationToken)) { IsBackground = true, Name = "fastrelay-timer" };
        timer.Start();
        _repairs.Start();
        ReceiveLoop(cancellationToken);
        timer.Join();
        _repairs.Stop();
        // A relay that stopped cleanly leaves no status behind; one that was killed leaves its last one ("not running").
        if (_options.StatusFile is { } path)
            File.Delete(path);
    }

    /// <summary>
    /// How often the receive thread drains the data plane's registrations. Nothing waits for them (a NACK drains first),
    /// so this only has to keep the kernel's 1 MB ring (about 25k events) from filling; with run registration there is
    /// at most one event per copy (64 subscribers × 2000 pps, every copy a break, fill it in 0.2 s). The thread wakes at
    /// least every 100 ms anyway, so draining here costs no wake-up of its own (each costs this VM 20-50 µs).
    /// </summary>
    public static readonly TimeSpan RegistrationDrainInterval = TimeSpan.FromMilliseconds(50);

    private long _lastDrainNs;

    private void DrainRegistrationsWhenDue()
    {
        var now = (long)MonotonicClock.NowNs();
        if (now - _lastDrainNs < RegistrationDrainInterval.Ticks * 100)
            return;
        _lastDrainNs = now;
        try
        {
            _plane.Tick();
        }
        catch (Exception e) when (e is not ObjectDisposedException)
        {
            _log.LogError(e, "draining registrations failed");
        }
    }

    private void ReceiveLoop(CancellationToken cancellationToken)
    {
        using var batch = new ReceiveBatch(_socket);
        var coalesce = (int)_options.ReceiveCoalescing.TotalMilliseconds;
        while (!cancellationToken.IsCancellationRequested)
        {
            DrainRegistrationsWhenDue();
            int count;
            try
            {
                count = batch.Receive();
                if (count == 0)
                {
                    batch.Wait(100);
                    continue;
                }
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            for (var i = 0; i < count; i++)
            {
                try
                {
                    Handle(batch.Datagram(i), batch.Sender(i));
                }
                catch (Exception e)
                {
                    // A bug must not take the relay down with every subscriber on it; count and log it.
                    _malformed++;
                    _log.LogError(e, "packet handling failed");
                }
            }
            // On the fast path this process is off the data path (it answers control messages and caches the originals
            // the kernel did not keep), so it lets packets gather for a moment: fewer wake-ups and system calls per packet.
            if (coalesce > 0 && count < ReceiveBatch.Capacity)
                Thread.Sleep(coalesce);
        }
    }

    private void Handle(ReadOnlySpan<byte> packet, SocketAddress from)
    {
        if (PacketHeader.IsDataPacket(packet))
        {
            HandleData(packet, from);
            return;
        }
        if (!ControlMessage.TryReadType(packet, out var header, out var type))
        {
            _malformed++;
            return;
        }
        var endpoint = (IPEndPoint)new IPEndPoint(IPAddress.IPv6Any, 0).Create(from);
        switch (type)
        {
            case ControlType.Subscribe when Subscribe.TryRead(packet, out _):
                SendChallenge(endpoint, header.Channel, Role.Subscriber);
                break;
            case ControlType.Publish when Publish.TryRead(packet, out _):
                SendChallenge(endpoint, header.Channel, Role.Publisher);
                break;
            case ControlType.Confirm when Confirm.TryRead(packet, out var confirm):
                HandleConfirm(endpoint, header.Channel, confirm);
                break;
            case ControlType.Feedback when Feedback.TryRead(packet, out var feedback):
                HandleFeedback(endpoint, feedback);
                break;
            case ControlType.Nack when Nack.TryRead(packet, out var nack):
                HandleNack(endpoint, nack);
                break;
            case ControlType.Unsubscribe when Unsubscribe.TryRead(packet, out var unsubscribe):
                lock (_gate)
                    if (_byEndpoint.TryGetValue(SocketAddressKey.From(endpoint), out var session) && SessionSecret.Matches(session, unsubscribe.Session))
                        Remove(session, "unsubscribed");
                break;
            default:
                _malformed++;
                break;
        }
    }

    private void HandleData(ReadOnlySpan<byte> packet, SocketAddress from)
    {
        if (!PacketHeader.TryRead(packet, out var header))
        {
            _malformed++;
            return;
        }
        ChannelState? channel;
        lock (_gate)
            _channels.TryGetValue(header.Channel, out channel);
        if (channel?.UpstreamAddress is null || !SocketAddresses.SameEndpoint(from, channel.UpstreamAddress))
        {
            // Only the channel's upstream may feed it. A publisher we lost (relay restart) is asked to prove its
            // address again: the challenge is no larger than the DATA that caused it, and at most 20 go out a second.
            _foreignData++;
            if (packet.Length >= CustomUdpWire.ChallengePacketSize && channel?.Upstream is null && UnsolicitedChallengeAllowed())
                SendChallenge((IPEndPoint)new IPEndPoint(IPAddress.IPv6Any, 0).Create(from), header.Channel, Role.Publisher);
            return;
        }
        _upstreamPackets++;
        channel.UpstreamPackets++;
        var now = (long)MonotonicClock.NowNs();
        channel.LastUpstreamNs = now;
        channel.Cache.Add(header.Sequence, packet, now);
        _plane.OnUpstreamDatagram(packet, from);
    }

    private long _unsolicitedWindowStart;
    private int _unsolicitedInWindow;

    private bool UnsolicitedChallengeAllowed()
    {
        var now = (long)MonotonicClock.NowNs();
        if (now - _unsolicitedWindowStart > 1_000_000_000L)
        {
            _unsolicitedWindowStart = now;
            _unsolicitedInWindow = 0;
        }
        return ++_unsolicitedInWindow <= 20;
    }

    private void SendChallenge(IPEndPoint to, ushort channel, Role role)
    {
        _challenges++;
        var cookie = _cookies.Issue(to, channel, role);
        var length = new Challenge(role, cookie).Write(_send, channel, MonotonicClock.NowNs());
        SendTo(_send.AsSpan(0, length), to);
    }

    private void SendReply(IPEndPoint to, ushort channel, Role role, ReplyStatus status, int slot = 0, ulong session = 0)
    {
        var length = new Reply(role, status, (byte)slot, session).Write(_send, channel, MonotonicClock.NowNs());
        SendTo(_send.AsSpan(0, length), to);
    }

    private void HandleConfirm(IPEndPoint from, ushort channelId, Confirm confirm)
    {
        if (!_cookies.Verify(from, channelId, confirm.Role, confirm.Cookie))
        {
            _refused++;
            SendReply(from, channelId, confirm.Role, ReplyStatus.BadCookie);
            return;
        }
        lock (_gate)
        {
            if (confirm.Role == Role.Publisher)
                AcceptPublisher(from, channelId);
            else
                AcceptSubscriber(from, channelId, confirm);
        }
    }

    private void AcceptPublisher(IPEndPoint from, ushort channelId)
    {
        var channel = Channel(channelId);
        if (channel is null)
        {
            _refused++;
            SendReply(from, channelId, Role.Publisher, ReplyStatus.RelayFull);
            return;
        }
        var key = SocketAddressKey.From(from);
        // One upstream per channel; a new publisher may take over only once the current one has gone silent (its packets
        // may have reached this socket or only the kernel).
        var lastHeard = Math.Max(channel.LastUpstreamNs, UpstreamConsumed(channelId).LastNs);
        var silent = (long)MonotonicClock.NowNs() - lastHeard > _options.SubscriberTimeout.Ticks * 100;
        if (channel.UpstreamKey is { } existing && existing != key && !silent)
        {
            _refused++;
            SendReply(from, channelId, Role.Publisher, ReplyStatus.ChannelHasUpstream);
            return;
        }
        if (channel.UpstreamKey is { } previous && previous != key)
        {
            // The new publisher numbers its own packets, possibly from where the old one did: a repair looked up by number
            // must not find the old publisher's packet.
            channel.Cache.Clear();
            _history?.Forget(channelId);
            _log.LogInformation("channel {Channel}: publisher {Old} replaced, its cached packets forgotten", channelId, channel.Upstream);
        }
        channel.Upstream = SocketAddresses.Plain(from);
        channel.UpstreamKey = key;
        channel.UpstreamAddress = SocketAddresses.For(_socket, channel.Upstream);
        channel.LastUpstreamNs = (long)MonotonicClock.NowNs();
        ApplyPlan();
        _accepted++;
        SendReply(from, channelId, Role.Publisher, ReplyStatus.Accepted);
        _log.LogInformation("channel {Channel}: upstream {Upstream}", channelId, channel.Upstream);
    }

    private void AcceptSubscriber(IPEndPoint from, ushort channelId, Confirm confirm)
    {
        var key = SocketAddressKey.From(from);
        // A repeated CONFIRM (the subscriber restarted or lost our REPLY) starts it over: numbering from 0.
        if (_byEndpoint.TryGetValue(key, out var previous))
            Remove(previous, "re-subscribed");
        var channel = Channel(channelId);
        var slot = Array.IndexOf(_slots, null);
        if (channel is null || slot < 0)
        {
            _refused++;
            SendReply(from, channelId, Role.Subscriber, ReplyStatus.RelayFull);
            return;
        }
        KernelSubscriber binding;
        try
        {
            binding = _bind(from);
        }
        catch (Exception e)
        {
            _refused++;
            _log.LogWarning("cannot reach subscriber {Endpoint}: {Reason}", from, e.Message);
            SendReply(from, channelId, Role.Subscriber, ReplyStatus.RelayFull);
            return;
        }
        var endpoint = SocketAddresses.Plain(from);
        // The slot starts with one period of the advertised rate, written by the host before the slot joins its channel.
        var plan = new SubscriberPlan(endpoint, Budget: InitialBudget(confirm.RateBytesPerSecond));
        var joining = new Joining(channelId, plan, binding, taken =>
        {
            var acceptedNs = (long)MonotonicClock.NowNs();
            var accepted = new SubscriberSession(taken, endpoint, key, channelId, new SequenceMap(4096),
                new RepairBudget(_options.RepairBurstBytes, _options.RepairBytesPerSecond), SessionSecret.New())
            {
                Plan = plan,
                LastHeardNs = acceptedNs,
                RateBytesPerSecond = confirm.RateBytesPerSecond,
                Keepalive = new IdleKeepalive(_options.KeepaliveAfter.Ticks * 100, acceptedNs),
            };
            _slots[taken] = accepted;
            _byEndpoint[key] = accepted;
            _accepted++;
            // The REPLY leaves before the first copy can (the host activates the slot after this), so the subscriber knows
            // its numbering starts now.
            SendReply(from, channelId, Role.Subscriber, ReplyStatus.Accepted, taken, accepted.Secret);
            return accepted;
        });
        _joining = joining;
        try
        {
            ApplyPlan();
        }
        catch (ArgumentException e)
        {
            _log.LogWarning("subscriber {Endpoint} not accepted: {Reason}", from, e.Message);
        }
        finally
        {
            _joining = null;
        }
        if (joining.Session is not { } session)
        {
            _refused++;
            SendReply(from, channelId, Role.Subscriber, ReplyStatus.RelayFull);
            return;
        }
        slot = session.Slot;
        RefreshBudget(session);
        _log.LogInformation("subscriber {Endpoint} accepted on channel {Channel} (slot {Slot})", session.Endpoint, channelId, slot);
        if (confirm.HistoryMs > 0)
            SendHistory(session, channel, confirm.HistoryMs);
    }

    private void SendHistory(SubscriberSession session, ChannelState channel, uint historyMs)
    {
        var since = (long)MonotonicClock.NowNs() - historyMs * 1_000_000L;
        // The kernel's cache and this process's hold different packets (the originals the kernel did not keep come here).
        var sequences = channel.Cache.SequencesSince(since);
        _history?.AddSince(session.Channel, since, sequences);
        sequences.Sort();
        for (var i = 0; i < sequences.Count; i++)
        {
            var sequence = sequences[i];
            if (i > 0 && sequence == sequences[i - 1])
                continue;
            if (!TryCopyCached(channel, session.Channel, sequence, _repairScratch, out var length))
                continue;
            var written = History.Write(_send, session.Channel, MonotonicClock.NowNs(), _repairScratch.AsSpan(0, length));
            SendTo(_send.AsSpan(0, written), session.Endpoint);
        }
    }

    private void HandleFeedback(IPEndPoint from, Feedback feedback)
    {
        SubscriberSession? session;
        bool rateChanged;
        var now = (long)MonotonicClock.NowNs();
        lock (_gate)
        {
            if (!_byEndpoint.TryGetValue(SocketAddressKey.From(from), out session))
                return;
            if (!SessionSecret.Matches(session, feedback.Session))
            {
                // Its REPLY may have been lost (it saw DATA and went on): the secret goes to the subscriber's address
                // again, where only the subscriber (or someone on its path) reads it. The REPLY is smaller than the
                // FEEDBACK, and nothing else changes.
                SendReply(from, session.Channel, Role.Subscriber, ReplyStatus.Accepted, session.Slot, session.Secret);
                return;
            }
            session.LastHeardNs = now;
            rateChanged = session.RateBytesPerSecond != feedback.RateBytesPerSecond;
            session.RateBytesPerSecond = feedback.RateBytesPerSecond;
        }
        if (rateChanged)
            _budgetChanged.Set(); // the timer refills budgets at once and, for a limited subscriber, every period from now on
        // A quiet channel sends the subscriber nothing; the same REPLY again tells it that it is still subscribed, so it
        // does not start over (IdleKeepalive). Smaller than the FEEDBACK it answers, and only to the subscriber's address.
        if (session.Keepalive.Due(_plane.NextNumber(session.Slot), now))
        {
            _keepalives++;
            SendReply(from, session.Channel, Role.Subscriber, ReplyStatus.Accepted, session.Slot, session.Secret);
        }
    }

    /// <summary>
    /// On the receive thread only what is cheap and bounded: find the session and plan the numbers (clamped to what a
    /// cache can still hold, each once, capped; <see cref="NackPlan"/>). The repairs themselves are sent by the repair
    /// worker, so a burst of NACKs delays neither DATA nor other subscribers' control messages; when the worker is behind,
    /// further NACKs are dropped (the subscriber asks again).
    /// </summary>
    private void HandleNack(IPEndPoint from, Nack nack)
    {
        SubscriberSession? session;
        lock (_gate)
        {
            if (!_byEndpoint.TryGetValue(SocketAddressKey.From(from), out session) || !SessionSecret.Matches(session, nack.Session))
                return;
            session.LastHeardNs = (long)MonotonicClock.NowNs();
            session.NackedSequences += (ulong)nack.TotalSequences;
        }
        var planned = new uint[_options.MaxRepairsPerNack];
        var count = NackPlan.Plan(nack, _plane.NextNumber(session.Slot), RepairWindow, planned);
        if (count > 0 && !_repairs.TryQueue(new RepairRequest(session, planned, count)))
            _nacksDropped++;
    }

    /// <summary>How far back any cache reaches (the relay's own, or the kernel's): older numbers cannot be repaired.</summary>
    private int RepairWindow => Math.Max(_options.CachePacketsPerChannel, CustomUdpHeaderFastPath.KernelCachePackets);

    /// <summary>Runs on the repair worker: answers one planned NACK within the session's repair byte budget.</summary>
    private void Repair(RepairRequest request, RepairBuffers buffers)
    {
        lock (_gate)
        {
            var session = request.Session;
            // The subscriber left (or its slot went to someone else) while the request waited.
            if (_slots[session.Slot] != session || !_channels.TryGetValue(session.Channel, out var channel))
                return;
            // Only numbers already taken can be repaired, and a break in the numbering may still sit in the kernel's ring:
            // without it the run before would be extended over numbers that carried other packets. So: the bound first,
            // then drain, and every number below the bound has its break delivered (unless its copy is still between
            // taking the number and submitting the event on another CPU, a window of about a microsecond).
            var next = _plane.NextNumber(session.Slot) & 0xFFFF_FFFF;
            _plane.Tick();
            foreach (var sequence in request.Sequences.AsSpan(0, request.Count))
            {
                if (!session.Sequences.TryGet(sequence, next, out var publisherSequence))
                    continue;
                if (!TryCopyCached(channel, session.Channel, publisherSequence, buffers.Scratch, out var length))
                    continue;
                var now = MonotonicClock.NowNs();
                var written = Wire.Repair.Write(buffers.Send, session.Channel, now, sequence, buffers.Scratch.AsSpan(0, length));
                if (!session.RepairBudget.TryTake(written, (long)now))
                {
                    session.RepairsOverBudget++;
                    return;
                }
                SendTo(buffers.Send.AsSpan(0, written), session.Endpoint);
                session.Repaired++;
                _repaired++;
            }
        }
    }

    /// <summary>A publisher packet from the data plane's cache (the kernel's) or this process's, into <paramref name="scratch"/>.</summary>
    private bool TryCopyCached(ChannelState channel, ushort channelId, ulong publisherSequence, byte[] scratch, out int length) =>
        (_history?.TryCopy(channelId, publisherSequence, scratch, out length) ?? NotKept(out length))
        || channel.Cache.TryCopy(publisherSequence, scratch, out length);

    private static bool NotKept(out int length)
    {
        length = 0;
        return false;
    }

    /// <summary>Upstream packets of the channel only the kernel handled (none in userspace mode).</summary>
    private (ulong Packets, long LastNs) UpstreamConsumed(ushort channel) => _history?.UpstreamConsumed(channel) ?? (0, 0);

    /// <summary>Registrations from the data plane: which publisher packet a subscriber got under which number.</summary>
    public void OnSent(int slot, ulong subscriberSequence, ulong publisherSequence)
    {
        var session = (uint)slot < (uint)_slots.Length ? _slots[slot] : null;
        session?.Sequences.Record(subscriberSequence & 0xFFFF_FFFF, publisherSequence);
    }

    public void OnRegistrationsLost()
    {
        lock (_gate)
            foreach (var session in _slots)
                session?.Sequences.Clear();
    }

    private ChannelState? Channel(ushort id)
    {
        if (_channels.TryGetValue(id, out var channel))
            return channel;
        if (_channels.Count >= _options.MaxChannels)
            return null;
        channel = new ChannelState(new ChannelCache(_options.CachePacketsPerChannel));
        _channels[id] = channel;
        return channel;
    }

    /// <summary>The relay's state as the host's plan: every channel a handshake opened, with its publisher (or
    /// <see cref="ChannelPlan.NoSender"/> until one joined) and its subscribers, plus the one being accepted.</summary>
    private void ApplyPlan()
    {
        var channels = _channels.OrderBy(c => c.Key).Select(c =>
        {
            var members = _slots.Where(s => s is not null && s.Channel == c.Key).Select(s => s!.Plan).ToList();
            if (_joining is { } joining && joining.Channel == c.Key)
                members.Add(joining.Plan);
            return new ChannelPlan(c.Key, c.Value.Upstream ?? ChannelPlan.NoSender, members);
        }).ToList();
        _host.Apply(new RelayPlan(channels));
    }

    /// <summary>The host's <see cref="SubscriberBinder"/>: only a subscriber whose handshake is completing is ever new to
    /// the host, and its route is the one resolved when its CONFIRM came.</summary>
    private KernelSubscriber BindJoining(int slot, ulong channel, SubscriberPlan subscriber, CancellationToken cancellationToken)
    {
        if (_joining is not { } joining || !joining.Plan.Address.Equals(subscriber.Address))
            throw new InvalidOperationException($"subscriber {subscriber.Address} of channel {channel} was not accepted by a handshake");
        joining.Session = joining.Accept(slot);
        return joining.Route with { Slot = slot, Channel = channel };
    }

    /// <summary>One budget period of the advertised rate, as <see cref="RefreshBudget"/> writes it; null: unlimited.</summary>
    private BudgetPlan? InitialBudget(uint rateBytesPerSecond)
    {
        if (rateBytesPerSecond == CustomUdpWire.UnlimitedRate)
            return null;
        var bytes = (long)(rateBytesPerSecond * _options.BudgetPeriod.TotalSeconds);
        return new BudgetPlan(rateBytesPerSecond, bytes, (uint)Math.Max(1, bytes / 16), CustomUdpWire.PriorityLevels);
    }

    private void Remove(SubscriberSession session, string why)
    {
        _slots[session.Slot] = null;
        _byEndpoint.Remove(session.Key);
        // The host takes the slot out of its channel's list first (no new copy), then deactivates and zeroes it.
        ApplyPlan();
        _removed++;
        _log.LogInformation("subscriber {Endpoint} removed: {Why}", session.Endpoint, why);
    }

    /// <summary>How often the timer runs while no subscriber has a budget to refill: expiry and status need no more, and
    /// every wake-up of an idle thread costs this VM 20-50 µs of CPU.</summary>
    private static readonly TimeSpan IdleTimerPeriod = TimeSpan.FromMilliseconds(250);

    /// <summary>How often the status file is rewritten (`fastrelay status` shows its age). Writing it costs the relay about
    /// 0.4 ms; scenarios read the first status written after a stream ends, which must come before subscribers re-subscribe
    /// after 1 s of silence (and reset their counters).</summary>
    private static readonly TimeSpan StatusInterval = TimeSpan.FromMilliseconds(500);

    private void TimerLoop(CancellationToken cancellationToken)
    {
        var nextStatus = 0L;
        var period = _options.BudgetPeriod;
        var wakeHandles = new[] { cancellationToken.WaitHandle, _budgetChanged };
        while (WaitHandle.WaitAny(wakeHandles, period) != 0)
        {
            var now = (long)MonotonicClock.NowNs();
            var anyLimited = false;
            lock (_gate)
            {
                foreach (var session in _slots)
                {
                    if (session is null)
                        continue;
                    if (now - session.LastHeardNs > _options.SubscriberTimeout.Ticks * 100)
                    {
                        Remove(session, "silent");
                        continue;
                    }
                    RefreshBudget(session);
                    anyLimited |= session.RateBytesPerSecond != CustomUdpWire.UnlimitedRate;
                }
            }
            period = anyLimited || _options.BudgetPeriod > IdleTimerPeriod ? _options.BudgetPeriod : IdleTimerPeriod;
            if (now >= nextStatus)
            {
                WriteStatus();
                nextStatus = now + StatusInterval.Ticks * 100;
            }
        }
    }

    /// <summary>One period's worth of the subscriber's advertised rate. Less urgent levels need a reserve of 1/16 of it per
    /// level, so they are dropped first as the budget runs short; the most urgent level is never dropped.</summary>
    private void RefreshBudget(SubscriberSession session)
    {
        if (session.RateBytesPerSecond == CustomUdpWire.UnlimitedRate)
        {
            // Nothing is debited from an unlimited budget: one write is enough (each is a map update on the fast path).
            if (!session.UnlimitedBudgetSet)
                _plane.SetBudget(session.Slot, 0, 0, 0, enabled: false);
            session.UnlimitedBudgetSet = true;
            return;
        }
        session.UnlimitedBudgetSet = false;
        var bytes = (long)(session.RateBytesPerSecond * _options.BudgetPeriod.TotalSeconds);
        _plane.SetBudget(session.Slot, bytes, (uint)Math.Max(1, bytes / 16), CustomUdpWire.PriorityLevels);
    }

    public RelayStatus Status()
    {
        lock (_gate)
        {
            var now = (long)MonotonicClock.NowNs();
            var subscribers = _slots.Where(s => s is not null).Select(s =>
            {
                var counters = _plane.Counters(s!.Slot);
                return new SubscriberStatus(s.Slot, s.Endpoint.ToString(), s.Channel, counters.ForwardedPackets, counters.ForwardedBytes,
                    counters.DroppedBudget, s.Repaired, s.NackedSequences, s.RateBytesPerSecond, (now - s.LastHeardNs) / 1e9);
            }).ToList();
            // Upstream packets reached this socket or only the kernel; each channel's kernel count is read once.
            var consumed = _channels.ToDictionary(c => c.Key, c => UpstreamConsumed(c.Key).Packets);
            var channels = _channels.Select(c => new ChannelStatus(c.Key, c.Value.Upstream?.ToString(), _slots.Count(s => s?.Channel == c.Key),
                c.Value.UpstreamPackets + consumed[c.Key])).ToList();
            var upstreamPackets = _upstreamPackets + consumed.Values.Aggregate(0UL, (sum, n) => sum + n);
            return new RelayStatus(_options.Name, _plane.Mode, _options.Port, Environment.ProcessId, DateTimeOffset.UtcNow,
                _options.Attachments?.Invoke() ?? [], channels, subscribers,
                new RelayTotals(upstreamPackets, _foreignData, _malformed, _challenges, _accepted, _refused, _removed, _repaired, _nacksDropped,
                    _keepalives));
        }
    }

    private void WriteStatus()
    {
        if (_options.StatusFile is not { } path)
            return;
        try
        {
            var temporary = path + ".tmp";
            File.WriteAllText(temporary, Status().ToJson());
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e)
        {
            _log.LogWarning("status file {Path}: {Error}", path, e.Message);
        }
    }

    private void SendTo(ReadOnlySpan<byte> packet, IPEndPoint to) =>
        _socket.SendTo(packet, SocketFlags.None, SocketAddresses.Normalise(_socket, to));

    public void Dispose()
    {
        lock (_gate)
            foreach (var session in _slots.Where(s => s is not null).ToList())
                Remove(session!, "relay stopping");
        _host.Dispose(); // and with it the plane
        _budgetChanged.Dispose();
    }
}
