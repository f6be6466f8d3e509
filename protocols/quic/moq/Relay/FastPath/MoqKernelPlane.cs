using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using FastRelay.Bpf;
using FastRelay.Bpf.Crypto;
using FastRelay.Net;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Relay;
using Microsoft.Extensions.Logging;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Protocols.Moq.Relay.FastPath;

/// <summary>A subscriber slot's addressing, as the kernel rewrites copies towards it.</summary>
/// <param name="Local">The relay endpoint the subscriber talks to (the copies' source).</param>
/// <param name="Remote">The subscriber's endpoint.</param>
/// <param name="ConnectionId">The connection id the relay sends to (written into every copy): 8 bytes, or 0..8 for a sealed
/// slot (padded here, cut by the seal).</param>
public sealed record FastPathSubscriberAddress(IPEndPoint Local, IPEndPoint Remote, byte[] ConnectionId, int IfIndex, byte[] SourceMac, byte[] DestinationMac)
{
    /// <summary>Device and MACs from the kernel's route and neighbour tables (of the calling thread's namespace).
    /// The relay normally has just exchanged packets with the subscriber (the handshake), so the neighbour entry is
    /// there; a few short retries cover one that is still resolving.</summary>
    public static FastPathSubscriberAddress Resolve(IPEndPoint local, IPEndPoint remote, byte[] connectionId)
    {
        var plain = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
        var route = RouteResolver.ResolveRecentPeer(plain);
        var localAddress = local.Address.Equals(IPAddress.Any) || local.Address.Equals(IPAddress.IPv6Any) ? route.Source : local.Address;
        if (localAddress.IsIPv4MappedToIPv6) localAddress = localAddress.MapToIPv4();
        return new FastPathSubscriberAddress(new IPEndPoint(localAddress, local.Port), new IPEndPoint(plain, remote.Port), connectionId,
            route.Ifindex, route.DeviceMac.GetAddressBytes(), route.NextHopMac.GetAddressBytes());
    }
}

/// <summary>
/// The relay's userspace half of the quic_moq kernel fast path (issue 11): owns the loaded programs
/// (<see cref="FastPathHost"/> with the generated QuicMoqHeaderFastPath object), writes every map the kernel reads
/// (docs/quic-fast-path.md "What userspace writes") through the generated typed accessors, and runs one dedicated
/// event-pump thread that drains the ring buffer into the right downstream connection.
///
/// Slots, channels and mappings are tracked here as well as in the maps, so removing a subscriber, a channel or an
/// upstream stream removes every kernel entry that refers to it (nothing stale after churn). All map writes are under
/// one lock: they are rare (per subscriber, per subgroup stream) compared with the packets, which never wait for it.
/// </summary>
public sealed class MoqKernelPlane : IDisposable
{
    /// <summary>The pump's idle wait when no QUIC listener consumes the ring at its turns (<see cref="ConsumeOnTurnsOf"/>).
    /// The kernel submits events without wakeup (BPF_RB_NO_WAKEUP: a wakeup per packet would cost more than the copy);
    /// they are also consumed when the relay reads the upstream bytes they came with (<see cref="DrainedAsync"/>, on the
    /// reader's thread), and the pump is woken at once when a subscriber acknowledges numbers not registered yet
    /// (QuicConnection.OnRegistrationWanted). At 20 ms `FastPathMoqLossLabTests` failed in 2 of about 10 runs (the lossy
    /// subscriber missed objects at the track's end): loss recovery of kernel copies needs their registration sooner
    /// than the held-ACK wake-up alone gives it. So events are consumed at least every 2 ms here; with a listener, at its
    /// turns, which come with every datagram and timer and at every wake-up asked for (a packet of ours waiting for its
    /// number, a held ACK).</summary>
    private static readonly TimeSpan PumpIdle = TimeSpan.FromMilliseconds(2);

    /// <summary>The pump's idle wait while a listener consumes at its turns: a safety net only.</summary>
    private static readonly TimeSpan PumpIdleWhileTurnsConsume = TimeSpan.FromSeconds(1);

    private readonly FastPathHost? _ownedHost;
    private readonly G.Maps _maps;
    private readonly ILogger _log;
    private readonly object _lock = new();
    private readonly SlotState?[] _slots = new SlotState?[G.MaxSubscribers];
    // The pump reads sinks without the lock: a slot's sink is published before the slot is activated in the kernel.
    private readonly IFastPathDownstream?[] _sinks = new IFastPathDownstream?[G.MaxSubscribers];
    // Connections whose kernel credit follows their peer's flow control, refreshed together by the credit thread (FollowCredit).
    private readonly FastPathSubscriberConnection?[] _creditFollowers = new FastPathSubscriberConnection?[G.MaxSubscribers];
    // fr_budgets mapped into this process: each subscriber connection credits its slot's budget with every change of
    // its congestion window's room (SubscriberCongestion), a memory write where a map update would be a syscall.
    private readonly BpfMappedArray<G.Budget> _budgetMemory;
    // fr_credit_limit and fr_credit_used mapped too: the credit thread reads every slot's used count and raises limits as
    // memory (a batch lookup and update, 100 bpf calls a second, before); the status reads them the same way.
    private readonly BpfMappedArray<ulong> _creditLimitMemory;
    private readonly BpfMappedArray<ulong> _creditUsedMemory;
    // Encrypted subscriber slots (an object built with EncryptedSubscribers): the key writer and fr_next_pn mapped, from
    // which a sealed connection's stack takes its numbers (KernelSealedSlot). Null for an object without them.
    private readonly QuicKernelCrypto? _crypto;
    private readonly BpfMappedArray<ulong>? _nextPacketNumberMemory;
    // Its own thread, not the pump's: a pump held up in a sink (a busy connection's lock) must not leave the kernel
    // without credit (measured: kernel shares fell under load when the pump did both).
    private readonly Thread _creditRefresher;
    private readonly Dictionary<uint, List<uint>> _channels = new();
    private readonly Dictionary<(ulong Cid, ulong Stream), uint> _upstreamStreams = new();
    private readonly RingBufferReader _events;
    // The ring's epoll fd (libbpf's, valid while _events is): readable when a record is submitted with a wakeup.
    private readonly int _ringEpollFd;
    // One consumer at a time (libbpf's ring buffer is single-consumer): the pump, the listener's turn or a DrainedAsync caller.
    private readonly object _consumeLock = new();
    // Wakes the pump (polled beside the ring's epoll fd): a DrainedAsync waiter left for it, a held ACK, or Dispose.
    private readonly FastRelay.Net.EventFd _wake = FastRelay.Net.EventFd.TryCreate()
        ?? throw new PlatformNotSupportedException("the fast path's event pump needs an eventfd");
    private readonly Thread _pump;
    private volatile bool _stopping;
    private long _forwarded, _numbered, _notForwarded, _unknownSlot, _sinkFailures;
    private int _disposed;
    // 1 while a WakePump signal is on its way (cleared by whoever consumes next, before it consumes).
    private int _wakePending;
    // Set by ConsumeOnTurnsOf: the listener's receive thread consumes at every turn, and WakePump wakes that thread.
    private IDisposable? _turnWork;
    private volatile Action? _wakeTurns;
    // Asks the listener's loop for a turn by a time (µs): the credit refresh's timer (set with _wakeTurns).
    private volatile Action<long>? _turnBy;

    private sealed class SlotState(FastPathSubscriberAddress address)
    {
        public FastPathSubscriberAddress Address { get; } = address;
        public uint? Channel { get; set; }
        public HashSet<ulong> UpstreamStreams { get; } = new();
        /// <summary>A sealed slot's numbering and keys, detached when the slot goes (the connection may outlive it).</summary>
        public KernelSealedSlot? Sealed { get; set; }
    }

    /// <summary>Uses the maps of an already loaded object (tests, or a host the caller owns).</summary>
    public MoqKernelPlane(BpfObject bpf, ushort udpPort, ILogger log) : this(bpf, udpPort, log, null) { }

    private MoqKernelPlane(BpfObject bpf, ushort udpPort, ILogger log, FastPathHost? ownedHost)
    {
        _log = log;
        _ownedHost = ownedHost;
        _maps = new G.Maps(bpf);
        _budgetMemory = new BpfMappedArray<G.Budget>(_maps.Budgets.Map);
        _creditLimitMemory = new BpfMappedArray<ulong>(_maps.CreditLimits.Map);
        _creditUsedMemory = new BpfMappedArray<ulong>(_maps.CreditUsed.Map);
        if (bpf.Maps.Any(m => m.Name == QuicKernelCrypto.ConnectionsMap))
        {
            _crypto = new QuicKernelCrypto(bpf);
            _nextPacketNumberMemory = new BpfMappedArray<ulong>(_maps.NextPacketNumbers.Map);
        }
        // The relay's QUIC port: the only UDP port whose packets the programs look at. Copies for a subscriber of the
        // other IP family are translated in the kernel; one that would not fit the subscriber's device is never made, and
        // its range is a coverage gap the subgroup stream sends itself (FastPathSubgroupStream.WriteUpstreamAsync).
        _maps.Config.Update(0, new G.Config { UdpPort = udpPort, Flags = G.ConfigTranslateFamily });
        _events = new RingBufferReader(_maps.Events, OnRecord);
        _ringEpollFd = _events.EpollFd;
        _pump = new Thread(Pump) { IsBackground = true, Name = "moq-fastpath-events" };
        _pump.Start();
        _creditRefresher = new Thread(RefreshCreditsLoop) { IsBackground = true, Name = "moq-fastpath-credit" };
        _creditRefresher.Start();
    }

    /// <summary>Loads and attaches the programs (<see cref="FastPathHost.Start"/>) and owns them until disposed.</summary>
    public static MoqKernelPlane Start(FastPathHostOptions options, ushort udpPort, ILogger log)
    {
        var host = FastPathHost.Start(options, log);
        try
        {
            return new MoqKernelPlane(host.Object, udpPort, log, host);
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    public G.Maps Maps => _maps;

    /// <summary>The devices the programs are attached to (empty when the programs belong to someone else).</summary>
    public IReadOnlyList<string> Interfaces => _ownedHost is null ? []
        : _ownedHost.Attachments.Select(a => FastRelay.Net.NetDevice.NameOf(a.Ifindex) ?? a.Ifindex.ToString(System.Globalization.CultureInfo.InvariantCulture)).Distinct().ToList();

    /// <summary>Whether the kernel makes copies for a subscriber whose route leaves through <paramref name="ifindex"/>: only
    /// where the host attached the egress program (<see cref="FastPathHost.ClonesTo"/>). Always true for a plane over an
    /// object it did not attach (tests, or a host the caller owns and answers for).</summary>
    /// <summary>Kernel time in the upstream ingress program and its runs (see FastPathHost.UpstreamIngressRunTime; zeros
    /// when the programs belong to someone else or kernel.bpf_stats_enabled is off).</summary>
    public (long RunTimeNs, long Runs) UpstreamProgramRunTime() => _ownedHost?.UpstreamIngressRunTime() ?? (0, 0);

    public bool ClonesTo(int ifindex) => _ownedHost is null || FastPathHost.ClonesTo(_ownedHost.Object, ifindex);

    /// <summary>Slots not in use.</summary>
    public int FreeSlots { get { lock (_lock) return _slots.Count(s => s is null); } }

    /// <summary>Events delivered, by kind; events for a slot with no sink (removed meanwhile) are counted and dropped.</summary>
    public FastPathPumpCounters Counters => new(Interlocked.Read(ref _forwarded), Interlocked.Read(ref _numbered),
        Interlocked.Read(ref _notForwarded), Interlocked.Read(ref _unknownSlot), Interlocked.Read(ref _sinkFailures));

    /// <summary>The kernel's seal counters (sealed copies for encrypted subscribers, refusals, failures), summed over
    /// CPUs; null when the object cannot seal (no <c>EncryptedSubscribers</c> in the descriptor).</summary>
    public QuicKernelCryptoStats? SealStats() => _crypto?.ReadStats();

    /// <summary>The kernel's relay-wide counters, summed over CPUs.</summary>
    public G.Stats KernelStats()
    {
        var perCpu = _maps.Stats.LookupPerCpu(0u);
        var sum = new G.Stats();
        var fields = typeof(G.Stats).GetFields();
        object boxed = sum;
        foreach (var f in fields)
            f.SetValue(boxed, perCpu.Aggregate(0UL, (a, v) => a + (ulong)f.GetValue(v)!));
        return (G.Stats)boxed;
    }

    /// <summary>
    /// Gives a downstream connection a slot: the first packet number the kernel uses (what
    /// QuicConnection.BeginExternalPacketNumbering returned), zero credit until <see cref="SetConnectionCredit"/>, no
    /// priority drop. Returns null when every slot is taken (the subscriber then simply stays on the userspace path).
    /// </summary>
    public uint? AddSubscriber(FastPathSubscriberAddress address, ulong firstPacketNumber, IFastPathDownstream sink)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(sink);
        if (address.ConnectionId.Length != 8)
            throw new ArgumentException("a fast-path connection id is 8 bytes", nameof(address));
        lock (_lock)
        {
            ThrowIfDisposed();
            var free = Array.IndexOf(_slots, null);
            if (free < 0) return null;
            var slot = (uint)free;
            _slots[slot] = new SlotState(address);
            _maps.NextPacketNumbers.Update(slot, firstPacketNumber);
            ActivateSlotLocked(slot, address, sink);
            _log.LogDebug("fast path: slot {Slot} for {Remote}", slot, address.Remote);
            return slot;
        }
    }

    /// <summary>The kernel can seal copies for connections with full 1-RTT protection (the object has encrypted slots).</summary>
    public bool CanSeal => _crypto is not null;

    /// <summary>
    /// Gives a connection with full 1-RTT protection a sealed slot (docs/quic-encrypted-fast-path.md): before the slot is
    /// active, the connection's stack installs its send keys in the kernel and takes its packet numbers from the slot's
    /// counter from then on (<see cref="QuicConnection.TryBeginSealedFastPath"/>). Null when every slot is taken, the
    /// object has no encrypted slots, or the connection's suite is not one the kernel seals with (it stays with userspace).
    /// </summary>
    public uint? AddSealedSubscriber(FastPathSubscriberAddress address, QuicConnection connection, IFastPathDownstream sink)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(sink);
        // Shorter ids are padded in the slot's entry and cut by the seal (browsers use none).
        if (address.ConnectionId.Length > KernelSealedSlot.MaxConnectionIdLength)
            throw new ArgumentException("a sealed slot's connection id is at most 8 bytes", nameof(address));
        if (_crypto is null || _nextPacketNumberMemory is null) return null;
        uint slot;
        lock (_lock)
        {
            ThrowIfDisposed();
            var free = Array.IndexOf(_slots, null);
            if (free < 0) return null;
            slot = (uint)free;
            _slots[slot] = new SlotState(address); // held, not active yet
        }
        // Outside the plane's lock: the connection takes its own lock to switch its numbering and keys.
        bool sealing = false;
        var sealedSlot = new KernelSealedSlot(_nextPacketNumberMemory, _crypto, slot, address.ConnectionId.Length);
        try
        {
            sealing = connection.TryBeginSealedFastPath(sealedSlot, out _);
        }
        finally
        {
            if (!sealing)
            {
                _crypto.ClearConnection((int)slot);
                lock (_lock) _slots[slot] = null;
            }
        }
        if (!sealing) return null;
        lock (_lock)
        {
            if (_slots[slot] is { } held) held.Sealed = sealedSlot;
            // fr_next_pn and the keys are in place: from activation on the kernel seals copies for this connection.
            ActivateSlotLocked(slot, address, sink);
            _log.LogDebug("fast path: sealed slot {Slot} for {Remote}", slot, address.Remote);
            return slot;
        }
    }

    /// <summary>The activation both kinds of slot share (under the plane's lock, numbering already set): the sink, zero
    /// credit and budget, the endpoint, and the slot active last, so the kernel never acts for a slot without them.</summary>
    private void ActivateSlotLocked(uint slot, FastPathSubscriberAddress address, IFastPathDownstream sink)
    {
        Volatile.Write(ref _sinks[slot], sink);
        _maps.LastNumbered.Update(slot, 0);
        Volatile.Write(ref _creditUsedMemory[slot], 0);
        Volatile.Write(ref _creditLimitMemory[slot], 0);
        _maps.Budgets.Update(slot, new G.Budget());
        _maps.SubscribersByEndpoint.Update(Endpoint(address.Remote), slot);
        _maps.Subscribers.Update(slot, SubscriberEntry(address, active: true, channel: 0));
    }

    /// <summary>Removes a slot and everything that refers to it: its stream mappings, its channel membership, its
    /// endpoint. Events still in the ring for it are dropped (the connection is going away).</summary>
    public void RemoveSubscriber(uint slot)
    {
        lock (_lock)
        {
            var state = Slot(slot);
            // Inactive first: the kernel stops numbering and forwarding before the rest goes.
            _maps.Subscribers.Update(slot, SubscriberEntry(state.Address, active: false, channel: 0));
            LeaveChannelLocked(slot, state);
            foreach (var upstream in state.UpstreamStreams)
                _maps.Streams.Delete(new G.StreamKey { Slot = slot, UpstreamStreamId = upstream });
            state.UpstreamStreams.Clear();
            _maps.SubscribersByEndpoint.Delete(Endpoint(state.Address.Remote));
            // A sealed slot is clear text again when it is reused (no connection entry: nothing is sealed for it), and its
            // connection no longer numbers from the slot's counter nor installs keys there.
            state.Sealed?.Detach();
            _crypto?.ClearConnection((int)slot);
            Volatile.Write(ref _creditLimitMemory[slot], 0);
            _slots[slot] = null;
            Volatile.Write(ref _sinks[slot], null);
            _creditFollowers[slot] = null;
        }
    }

    /// <summary>The total stream data bytes the kernel may forward on the slot's connection (its share of the peer's
    /// MAX_DATA). Only ever raised by userspace; the kernel advances its own used count.</summary>
    public void SetConnectionCredit(uint slot, ulong limit)
    {
        lock (_lock)
        {
            Slot(slot);
            Volatile.Write(ref _creditLimitMemory[slot], limit);
        }
    }

    /// <summary>The kernel's count of stream data bytes forwarded on the slot (compare with the limit).</summary>
    public ulong ConnectionCreditUsed(uint slot) => Volatile.Read(ref _creditUsedMemory[slot]);

    /// <summary>Wakes the event pump now (any thread; after Dispose nothing happens). One signal per pump round: held
    /// ACKs of many subscribers between two rounds cost one write, not one each.</summary>
    internal void WakePump()
    {
        if (Interlocked.Exchange(ref _wakePending, 1) != 0) return;
        if (_wakeTurns is { } wakeTurns) wakeTurns();
        else _wake.Signal();
    }

    /// <summary>Turns the slot's congestion budget on at zero bytes, nothing shed (see <see cref="SubscriberCongestion"/>);
    /// from then on <see cref="CreditCongestionBudget"/> keeps it, starting with the window's room.</summary>
    internal void StartCongestionBudget(uint slot)
    {
        lock (_lock)
        {
            Slot(slot);
            ref var budget = ref _budgetMemory[slot];
            Volatile.Write(ref budget.Bytes, 0);
            Volatile.Write(ref budget.DropFromLevel, (uint)SubscriberCongestion.Levels);
            Volatile.Write(ref budget.Enabled, 1u);   // last: the kernel starts checking a budget that is already right
        }
    }

    /// <summary>Adds <paramref name="delta"/> (negative: takes) to the slot's budget, atomically against the kernel's
    /// debits. Called from the connection's room observer, so it takes no lock and makes no syscall.</summary>
    internal void CreditCongestionBudget(uint slot, long delta) => Interlocked.Add(ref _budgetMemory[slot].Bytes, delta);

    /// <summary>The slot's current budget and drop threshold, read from the shared memory.</summary>
    public (long Bytes, uint DropFromLevel, bool Enabled) CongestionBudget(uint slot)
    {
        ref var budget = ref _budgetMemory[slot];
        return (Volatile.Read(ref budget.Bytes), Volatile.Read(ref budget.DropFromLevel), Volatile.Read(ref budget.Enabled) != 0);
    }

    /// <summary>How often the credit thread refreshes every following connection's kernel credit and stream limits
    /// (to the peer's MAX_DATA / MAX_STREAM_DATA). 20 ms leaves the kernel credit for 20 ms of traffic at the
    /// connection's window (megabytes): ample at media rates; a refresh driven by the peer's MAX_DATA frames would be the
    /// exact form.</summary>
    public static readonly TimeSpan CreditRefreshInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>From now on <paramref name="follower"/>'s credit is refreshed every <see cref="CreditRefreshInterval"/>,
    /// together with every other slot's, by the listener's receive thread at its turns (<see cref="ConsumeOnTurnsOf"/>)
    /// or, without a listener, by the plane's credit thread: the kernel's used counters and the limits are mapped memory, so a refresh makes
    /// a syscall only where a stream's limit changed (it was a timer, a lookup and an update per subscriber at first,
    /// then a batch lookup and update: most of a fan-out-64 relay's syscalls, then a tenth of an idle one's).</summary>
    internal void FollowCredit(uint slot, FastPathSubscriberConnection follower)
    {
        lock (_lock)
        {
            Slot(slot);
            _creditFollowers[slot] = follower;
        }
    }

    internal void StopFollowingCredit(uint slot, FastPathSubscriberConnection follower)
    {
        lock (_lock)
            if (slot < _creditFollowers.Length && _creditFollowers[slot] == follower) _creditFollowers[slot] = null;
    }

    /// <summary>The credit thread: refreshes every <see cref="CreditRefreshInterval"/> until a listener's turns take
    /// over (<see cref="ConsumeOnTurnsOf"/>), then ends.</summary>
    private void RefreshCreditsLoop()
    {
        while (!_stopping && _wakeTurns is null)
        {
            Thread.Sleep(CreditRefreshInterval);
            if (_stopping) break;
            if (!TryRefreshCredits()) break;
        }
    }

    /// <summary>On a listener's turn: refreshes when the interval has passed since the last refresh. On the thread that
    /// processes the subscribers' ACKs, a refresh takes their connections' locks uncontended, and no thread of its own
    /// wakes 50 times a second (measured at fan-out 64: that thread was about a tenth of the relay's CPU, much of it
    /// waiting for those locks).</summary>
    private void RefreshCreditsIfDue()
    {
        var now = FastRelay.Protocols.Quic.Io.QuicClock.NowMicros;
        if (now >= _nextCreditRefresh)
        {
            _nextCreditRefresh = now + (long)CreditRefreshInterval.TotalMicroseconds;
            TryRefreshCredits();
        }
        // The next refresh is a timer of the listener's loop, not left to whichever turn comes first: turns come with
        // datagrams, so a refresh that waited for one sampled a subscriber's backlog mostly right after an upstream
        // object arrived (at its peak), and the drop threshold it set held until the next such turn: the subgroups that
        // started meanwhile were skipped (issue 11: FastPathMoqLossLabTests lost whole groups once the loop stopped
        // turning every 2 ms). Asked at every turn (a request lasts one); not while no subscriber follows the credit.
        if (_creditFollowersSeen && _turnBy is { } turnBy) turnBy(_nextCreditRefresh);
    }

    // When a listener's turn refreshes next (µs of QuicClock; that thread only).
    private long _nextCreditRefresh;
    // The last refresh had a subscriber to refresh (so the listener's loop keeps a timer for the next one).
    private volatile bool _creditFollowersSeen;
    // One refresh at a time: the credit thread's last round may overlap the first turn's when the turns take over.
    private readonly object _creditRefreshLock = new();

    /// <summary>False when the plane is stopping.</summary>
    private bool TryRefreshCredits()
    {
        try
        {
            lock (_creditRefreshLock) RefreshCredits();
            return true;
        }
        catch (ObjectDisposedException) when (_stopping) { return false; }
        catch (Exception e)
        {
            _log.LogError(e, "fast path: credit refresh failed");
            return true;
        }
    }

    private void RefreshCredits()
    {
        bool followers = false;
        for (uint slot = 0; slot < _creditFollowers.Length; slot++)
        {
            if (Volatile.Read(ref _creditFollowers[slot]) is not { } follower) continue;
            followers = true;
            try
            {
                var level = follower.NextDropFromLevel();
                var credit = follower.NextConnectionCredit(Volatile.Read(ref _creditUsedMemory[slot]));
                if (level is null && credit is null) continue;
                // Computed without the plane's lock: a slot whose connection left (and may already serve a new one) in
                // between is not written, or the new connection would get the old one's credit.
                lock (_lock)
                {
                    if (_creditFollowers[slot] != follower) continue;
                    if (level is { } l) Volatile.Write(ref _budgetMemory[slot].DropFromLevel, l);
                    if (credit is { } c) Volatile.Write(ref _creditLimitMemory[slot], c);
                }
            }
            catch (Exception e) when (e is FastRelay.Protocols.Quic.Api.QuicException or ObjectDisposedException)
            {
                // The connection is closing: its Dispose removes the slot.
            }
            catch (Exception e)
            {
                _log.LogWarning(e, "fast path: credit refresh of slot {Slot} failed", slot);
            }
        }
        _creditFollowersSeen = followers;
    }

    /// <summary>Makes the slot a member of <paramref name="channel"/> (one channel per slot: the kernel checks copies
    /// against the slot's channel). A slot already in another channel leaves it first.</summary>
    public void JoinChannel(uint slot, uint channel)
    {
        lock (_lock)
        {
            var state = Slot(slot);
            if (state.Channel == channel) return;
            LeaveChannelLocked(slot, state);
            if (!_channels.TryGetValue(channel, out var members))
                _channels[channel] = members = new List<uint>();
            if (members.Count >= G.MaxSubscribers)
                throw new InvalidOperationException($"channel {channel} is full");
            members.Add(slot);
            state.Channel = channel;
            _maps.Subscribers.Update(slot, SubscriberEntry(state.Address, active: true, channel));
            WriteChannelLocked(channel, members);
        }
    }

    /// <summary>(upstream DCID, upstream stream id) → channel, once the relay has read the stream's subgroup header.</summary>
    public void MapUpstreamStream(ReadOnlySpan<byte> upstreamConnectionId, ulong upstreamStreamId, uint channel)
    {
        var key = LookupKey(upstreamConnectionId, upstreamStreamId);
        lock (_lock)
        {
            ThrowIfDisposed();
            if (!_upstreamStreams.ContainsKey((BinaryPrimitives.ReadUInt64BigEndian(upstreamConnectionId), upstreamStreamId))
                && _upstreamStreams.Count >= _maps.ChannelLookup.Map.MaxEntries)
                throw new InvalidOperationException("fr_channel_lookup is full");
            _maps.ChannelLookup.Update(key, new G.ChannelKey { Id = channel });
            _upstreamStreams[(BinaryPrimitives.ReadUInt64BigEndian(upstreamConnectionId), upstreamStreamId)] = channel;
        }
    }

    /// <summary>The upstream stream ended or was reset: no more copies of it, and no subscriber mapping for it.</summary>
    public void UnmapUpstreamStream(ReadOnlySpan<byte> upstreamConnectionId, ulong upstreamStreamId)
    {
        var key = LookupKey(upstreamConnectionId, upstreamStreamId);
        lock (_lock)
        {
            _maps.ChannelLookup.Delete(key);
            _upstreamStreams.Remove((BinaryPrimitives.ReadUInt64BigEndian(upstreamConnectionId), upstreamStreamId));
            // Subscribers' mappings still there (normally none: each subgroup stream ended its own), in one batch delete.
            List<G.StreamKey>? left = null;
            for (uint slot = 0; slot < _slots.Length; slot++)
                if (_slots[slot] is { } state && state.UpstreamStreams.Remove(upstreamStreamId))
                    (left ??= []).Add(new G.StreamKey { Slot = slot, UpstreamStreamId = upstreamStreamId });
            if (left is not null) _maps.Streams.Map.DeleteBatch<G.StreamKey>(left.ToArray());
        }
    }

    /// <summary>
    /// The slot's downstream stream for an upstream subgroup stream: downstream offset = upstream offset +
    /// <paramref name="offsetDelta"/> (the relay's own subgroup header length minus the upstream's); the kernel forwards
    /// only data at or after upstream offset <paramref name="forwardFrom"/> and never past downstream offset
    /// <paramref name="limit"/> (the subscriber's MAX_STREAM_DATA). Not mapping a stream is the priority decision
    /// "userspace serves or skips this subgroup".
    /// </summary>
    /// <exception cref="InvalidOperationException">fr_streams is full (or the kernel refused the mapping).</exception>
    public void MapStream(uint slot, ulong upstreamStreamId, ulong downstreamStreamId, long offsetDelta, ulong forwardFrom, ulong limit, byte urgency)
    {
        lock (_lock) Slot(slot);   // a slot not in use is the caller's mistake, not a full map
        Span<bool> mapped = stackalloc bool[1];
        MapStreams([new StreamMapping(slot, null, upstreamStreamId, downstreamStreamId, offsetDelta, forwardFrom, limit, urgency)], mapped);
        if (!mapped[0]) throw new InvalidOperationException($"fr_streams is full (or refused slot {slot}'s mapping of upstream stream {upstreamStreamId})");
    }

    /// <summary>One slot's stream in <see cref="MapStreams"/>: <see cref="MapStream"/>'s arguments, and the sink the slot
    /// must still have (null: any). A subscriber that left, whose slot may already serve another, is not mapped.</summary>
    public readonly record struct StreamMapping(uint Slot, IFastPathDownstream? Owner, ulong UpstreamStreamId, ulong DownstreamStreamId,
        long OffsetDelta, ulong ForwardFrom, ulong Limit, byte Urgency);

    /// <summary>One slot's stream in <see cref="UnmapStreams"/>, with the sink the slot must still have (null: any).</summary>
    public readonly record struct StreamUnmapping(uint Slot, IFastPathDownstream? Owner, ulong UpstreamStreamId);

    /// <summary>
    /// <see cref="MapStream"/> for many slots with one map write (BPF_MAP_UPDATE_BATCH): every subscriber's stream of a new
    /// upstream subgroup at once (one bpf call per subscriber was about 250 a second at fan-out 64). Each mapping is
    /// decided on its own, and <paramref name="mapped"/>[i] says whether mapping i is in the kernel: not when its slot is
    /// free or serves another sink than <c>Owner</c> (the subscriber left), when fr_streams is full, when the same
    /// (slot, upstream stream) came earlier in the batch, or when the kernel refused it; the others are mapped anyway.
    /// An unmapped stream is userspace's to send (the priority decision of <see cref="MapStream"/>).
    /// </summary>
    public void MapStreams(ReadOnlySpan<StreamMapping> mappings, Span<bool> mapped)
    {
        if (mapped.Length < mappings.Length) throw new ArgumentException("one result per mapping", nameof(mapped));
        mapped[..mappings.Length].Clear();
        if (mappings.IsEmpty) return;
        var keys = new G.StreamKey[mappings.Length];
        var values = new G.StreamValue[mappings.Length];
        var from = new int[mappings.Length];            // batch position → mapping index
        var added = new bool[mappings.Length];          // the plane's record of it was added for this batch (undone if refused)
        var states = new SlotState[mappings.Length];
        lock (_lock)
        {
            ThrowIfDisposed();
            var total = TotalStreamMappingsLocked();
            var max = _maps.Streams.Map.MaxEntries;
            var seen = new HashSet<(uint, ulong)>();
            var n = 0;
            for (var i = 0; i < mappings.Length; i++)
            {
                var m = mappings[i];
                if (m.Slot >= _slots.Length || _slots[m.Slot] is not { } state) continue;
                if (m.Owner is not null && !ReferenceEquals(Volatile.Read(ref _sinks[m.Slot]), m.Owner)) continue;
                if (!seen.Add((m.Slot, m.UpstreamStreamId))) continue;
                var isNew = !state.UpstreamStreams.Contains(m.UpstreamStreamId);
                if (isNew)
                {
                    if (total >= max) continue;   // fr_streams is full
                    total++;
                    state.UpstreamStreams.Add(m.UpstreamStreamId);
                }
                keys[n] = new G.StreamKey { Slot = m.Slot, UpstreamStreamId = m.UpstreamStreamId };
                values[n] = new G.StreamValue
                {
                    StreamId = m.DownstreamStreamId, OffsetDelta = m.OffsetDelta, ForwardFrom = m.ForwardFrom, Limit = m.Limit, Urgency = m.Urgency,
                };
                from[n] = i;
                added[n] = isNew;
                states[n] = state;
                n++;
            }
            var at = 0;
            try
            {
                while (at < n)
                {
                    // In order until the kernel refuses one; that one stays unmapped, the rest go in one more call.
                    var written = _maps.Streams.Map.TryUpdateBatch<G.StreamKey, G.StreamValue>(keys.AsSpan(at, n - at), values.AsSpan(at, n - at), out var errno);
                    for (var j = at; j < at + written; j++)
                        mapped[from[j]] = true;
                    at += written;
                    if (at == n) break;
                    _log.LogDebug("fast path: slot {Slot}'s mapping of upstream stream {Stream} refused (errno {Errno}); userspace sends it",
                        keys[at].Slot, keys[at].UpstreamStreamId, errno);
                    if (added[at]) states[at].UpstreamStreams.Remove(keys[at].UpstreamStreamId);
                    at++;
                }
            }
            catch
            {
                // The batch itself was refused: nothing from here on is in the kernel.
                for (var j = at; j < n; j++)
                    if (added[j]) states[j].UpstreamStreams.Remove(keys[j].UpstreamStreamId);
                throw;
            }
        }
    }

    /// <summary>
    /// <see cref="UnmapStream"/> for many slots with one map write (BPF_MAP_DELETE_BATCH): every subscriber's stream of an
    /// upstream subgroup that ended. A mapping the plane does not hold (never made, already gone with its slot or its
    /// upstream stream) or whose slot now serves another sink than <c>Owner</c> is left alone.
    /// </summary>
    public void UnmapStreams(ReadOnlySpan<StreamUnmapping> unmappings)
    {
        if (unmappings.IsEmpty) return;
        var keys = new G.StreamKey[unmappings.Length];
        var n = 0;
        lock (_lock)
        {
            foreach (var u in unmappings)
            {
                if (u.Slot >= _slots.Length || _slots[u.Slot] is not { } state) continue;
                if (u.Owner is not null && !ReferenceEquals(Volatile.Read(ref _sinks[u.Slot]), u.Owner)) continue;
                if (state.UpstreamStreams.Remove(u.UpstreamStreamId))
                    keys[n++] = new G.StreamKey { Slot = u.Slot, UpstreamStreamId = u.UpstreamStreamId };
            }
            if (n > 0) _maps.Streams.Map.DeleteBatch<G.StreamKey>(keys.AsSpan(0, n));
        }
    }

    /// <summary>Raises a mapping's limit when the subscriber sends MAX_STREAM_DATA.</summary>
    public bool UpdateStreamLimit(uint slot, ulong upstreamStreamId, ulong limit)
    {
        lock (_lock)
        {
            var key = new G.StreamKey { Slot = slot, UpstreamStreamId = upstreamStreamId };
            if (_slots[slot] is not { } state || !state.UpstreamStreams.Contains(upstreamStreamId) || !_maps.Streams.TryLookup(key, out var value))
                return false;
            value.Limit = limit;
            _maps.Streams.Update(key, value, BpfUpdateFlags.Exist);
            return true;
        }
    }

    public void UnmapStream(uint slot, ulong upstreamStreamId) => UnmapStreams([new StreamUnmapping(slot, null, upstreamStreamId)]);

    /// <summary>Entries in the kernel's hash maps, for leak checks: endpoints, channels, channel lookups, stream mappings.</summary>
    public (int Endpoints, int Channels, int ChannelLookups, int Streams) KernelEntryCounts() =>
        (_maps.SubscribersByEndpoint.GetKeys().Count, _maps.Channels.GetKeys().Count, _maps.ChannelLookup.GetKeys().Count, _maps.Streams.GetKeys().Count);

    private int TotalStreamMappingsLocked()
    {
        var n = 0;
        foreach (var s in _slots)
            n += s?.UpstreamStreams.Count ?? 0;
        return n;
    }

    private void LeaveChannelLocked(uint slot, SlotState state)
    {
        if (state.Channel is not { } channel) return;
        state.Channel = null;
        var members = _channels[channel];
        members.Remove(slot);
        if (members.Count == 0)
        {
            _channels.Remove(channel);
            _maps.Channels.Delete(new G.ChannelKey { Id = channel });
        }
        else
            WriteChannelLocked(channel, members);
    }

    private void WriteChannelLocked(uint channel, List<uint> members)
    {
        // Any upstream source: the channel is found through (DCID, stream id), which only our upstream connection uses.
        var entry = new G.Channel { Count = (uint)members.Count };
        for (var i = 0; i < members.Count; i++)
            entry.Slots[i] = members[i];
        _maps.Channels.Update(new G.ChannelKey { Id = channel }, entry);
    }

    private SlotState Slot(uint slot)
    {
        ThrowIfDisposed();
        if (slot >= _slots.Length || _slots[slot] is not { } state)
            throw new ArgumentException($"fast-path slot {slot} is not in use", nameof(slot));
        return state;
    }

    private static G.Subscriber SubscriberEntry(FastPathSubscriberAddress a, bool active, uint channel)
    {
        var s = new G.Subscriber
        {
            Active = active ? 1u : 0u, IfIndex = (uint)a.IfIndex, Channel = new G.ChannelKey { Id = channel },
            Local = Endpoint(a.Local), Remote = Endpoint(a.Remote),
        };
        a.SourceMac.CopyTo(s.MacSource);
        a.DestinationMac.CopyTo(s.MacDestination);
        a.ConnectionId.CopyTo(s.ConnectionId);
        return s;
    }

    private static G.ChannelLookupKey LookupKey(ReadOnlySpan<byte> connectionId, ulong streamId)
    {
        if (connectionId.Length != 8)
            throw new ArgumentException("a fast-path connection id is 8 bytes", nameof(connectionId));
        var key = new G.ChannelLookupKey { StreamId = streamId };
        connectionId.CopyTo(key.DestinationConnectionId);
        return key;
    }

    /// <summary>The kernel's endpoint: family 4 or 6, port and address in network order, IPv4 in the first 4 bytes.</summary>
    internal static G.Endpoint Endpoint(IPEndPoint e)
    {
        var address = e.Address.IsIPv4MappedToIPv6 ? e.Address.MapToIPv4() : e.Address;
        var ep = new G.Endpoint
        {
            Family = address.AddressFamily == AddressFamily.InterNetworkV6 ? (byte)6 : (byte)4,
            Port = (ushort)IPAddress.HostToNetworkOrder((short)e.Port),
        };
        address.GetAddressBytes().CopyTo(ep.Address);
        return ep;
    }

    /// <summary>
    /// Completes once the pump has delivered every event the kernel submitted before this call. The kernel clones a
    /// packet (and submits its event) before the original reaches the relay's socket, so after the relay has read
    /// upstream bytes, this tells whether the kernel forwarded them.
    /// </summary>
    public Task DrainedAsync()
    {
        if (_stopping) return Task.FromCanceled(new CancellationToken(true));
        // Consumed here, on the caller's thread, waiting out a consume in progress (short: bounded by the ring; the callers
        // hold no connection lock, which a consumer takes). Handing a busy ring's wait to the pump instead cost an eventfd
        // signal, a wake-up of the pump and a thread-pool hand-off back, for every upstream chunk that met the listener's
        // receive thread consuming at its turn (which every upstream datagram starts).
        lock (_consumeLock)
        {
            try
            {
                ConsumeEvents();
                return Task.CompletedTask;
            }
            catch (ObjectDisposedException) when (_stopping)
            {
                return Task.FromCanceled(new CancellationToken(true));
            }
            catch (Exception e) when (e is not ObjectDisposedException)
            {
                // As in the pump: a failed batch must not fail the upstream stream that asked.
                _log.LogError(e, "fast path: event consume failed");
                return Task.CompletedTask;
            }
        }
    }

    /// <summary>
    /// Lets <paramref name="listener"/>'s receive thread consume the ring at every turn of its loop, before it delivers
    /// the datagrams of that turn: the ACKs of kernel copies then find them registered (no held ACK, no wake-up of the
    /// pump), and the pump no longer wakes every 2 ms to look (measured: about 500 wake-ups a second of an idle relay,
    /// each a thread switch). The listener's loop turns with every datagram and timer and is woken for what waits on a
    /// registration, so registration is as prompt as before. The same turns refresh the kernel's credit and drop
    /// thresholds every <see cref="CreditRefreshInterval"/>, on a timer of that loop (<see cref="QuicListener.RunTurnBy"/>),
    /// and the plane's credit thread ends.
    /// </summary>
    public void ConsumeOnTurnsOf(QuicListener listener)
    {
        ThrowIfDisposed();
        _turnBy = listener.RunTurnBy;
        _turnWork = listener.RunEveryTurn(ConsumeOnTurn);
        _wakeTurns = listener.WakeReceiveThread;
    }

    private void ConsumeOnTurn()
    {
        if (_stopping) return;
        // Waits out a consume in progress (the pump's or a DrainedAsync caller's: short, bounded by the ring, and never
        // waiting for this thread) instead of leaving it to that one: it may have read the ring's end before the events
        // this turn was woken for, and with the wake-up already spent they then waited for the loop's next idle turn.
        lock (_consumeLock)
        {
            if (_stopping) return;
            Volatile.Write(ref _wakePending, 0);
            ConsumeEvents();
        }
        RefreshCreditsIfDue();
    }

    private void Pump()
    {
        while (!_stopping)
        {
            int n;
            // A wake-up asked for from here on is for events this Consume may not see: it signals again.
            Volatile.Write(ref _wakePending, 0);
            try
            {
                lock (_consumeLock) n = ConsumeEvents();
            }
            catch (ObjectDisposedException) when (_stopping)
            {
                break;
            }
            catch (Exception e)
            {
                _log.LogError(e, "fast path: event pump failed");
                n = 0;
            }
            if (n == 0) WaitForWork();
        }
    }

    /// <summary>Sleeps until the eventfd is signalled, the ring's epoll fd is readable (a record submitted with a wakeup)
    /// or <see cref="PumpIdle"/> has passed. A signal is consumed here, before the queue is read again at the top, so a
    /// signal that comes later is for a waiter the loop will see.</summary>
    private void WaitForWork()
    {
        if (!_stopping) _wake.WaitWith(_ringEpollFd, _wakeTurns is null ? PumpIdle : PumpIdleWhileTurnsConsume);
    }

    // Sinks that got events in the batch being consumed (under _consumeLock): each is told once when it ends. Per slot,
    // 1 + its sink's index in the list (0: none yet); a slot given a new sink within the batch adds that one too.
    private readonly List<(uint Slot, IFastPathDownstream Sink)> _batchSinks = new();
    private readonly int[] _batchIndex = new int[G.MaxSubscribers];

    /// <summary>One batch: every event available now, then <see cref="IFastPathDownstream.OnBatchEnd"/> for each sink
    /// that got one (also when a handler failed: what it recorded still gets its send pass). Under _consumeLock.</summary>
    private int ConsumeEvents()
    {
        try
        {
            return _events.Consume();
        }
        finally
        {
            foreach (var (slot, sink) in _batchSinks)
            {
                _batchIndex[slot] = 0;
                try
                {
                    sink.OnBatchEnd();
                }
                catch (Exception e)
                {
                    Interlocked.Increment(ref _sinkFailures);
                    _log.LogDebug(e, "fast path: slot {Slot} refused the end of a batch", slot);
                }
            }
            _batchSinks.Clear();
        }
    }

    private void OnRecord(ReadOnlySpan<byte> record)
    {
        var r = G.EventReader.Decode(record);
        var sink = r.Slot < _sinks.Length ? Volatile.Read(ref _sinks[r.Slot]) : null;
        if (sink is null)
        {
            Interlocked.Increment(ref _unknownSlot);
            return;
        }
        if (_batchIndex[r.Slot] is var at && (at == 0 || !ReferenceEquals(_batchSinks[at - 1].Sink, sink)))
        {
            _batchSinks.Add((r.Slot, sink));
            _batchIndex[r.Slot] = _batchSinks.Count;
        }
        try
        {
            switch (r.Origin)
            {
                case G.PacketOrigin.Forwarded:
                    Interlocked.Increment(ref _forwarded);
                    sink.OnForwarded(r.PacketNumber, (long)r.TimestampNs, (int)r.Length, r.StreamId, r.StreamOffset, r.DataLength, r.Fin != 0);
                    break;
                case G.PacketOrigin.Userspace:
                    Interlocked.Increment(ref _numbered);
                    sink.OnNumbered(r.UpstreamPacketNumber, r.PacketNumber, (long)r.TimestampNs);
                    break;
                case G.PacketOrigin.NotForwarded:
                    Interlocked.Increment(ref _notForwarded);
                    sink.OnNotForwarded(r.StreamId, r.StreamOffset, r.DataLength, r.Fin != 0);
                    break;
            }
        }
        catch (Exception e)
        {
            // A connection closed under the pump (ObjectDisposed/QuicException) must not stop events for the others.
            Interlocked.Increment(ref _sinkFailures);
            _log.LogDebug(e, "fast path: slot {Slot} refused an event", r.Slot);
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping = true;
        _turnWork?.Dispose();
        _wake.Signal();
        _pump.Join();
        _creditRefresher.Join();
        lock (_consumeLock) _events.Dispose();
        _wake.Dispose();
        // No connection may credit a budget after the memory is gone: every follower stops observing first (a stop
        // waits out a call in progress: both hold the connection's lock).
        foreach (var follower in _creditFollowers)
            follower?.StopObservingRoom();
        _budgetMemory.Dispose();
        lock (_lock)
            foreach (var state in _slots)
                state?.Sealed?.Detach(); // before the counters' memory goes: connections may still send
        _nextPacketNumberMemory?.Dispose();
        _ownedHost?.Dispose();
    }
}

/// <summary>Events the pump delivered, by kind, and those it could not (slot gone, sink threw).</summary>
public readonly record struct FastPathPumpCounters(long Forwarded, long Numbered, long NotForwarded, long UnknownSlot, long SinkFailures);
