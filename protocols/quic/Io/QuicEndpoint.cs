using System.Net;
using System.Net.Sockets;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastRelay.Protocols.Quic.Io;

/// <summary>
/// One UDP socket and the thread that reads it: routes each datagram to its connection by destination connection id,
/// runs connection timers, and — on a server — answers what no connection owns: Version Negotiation, Retry, stateless
/// reset, or a new connection. The receive buffers are reused for every datagram (no allocation per packet).
/// <para>Sending happens on whichever thread changed a connection (under that connection's lock); the loop only wakes
/// for received datagrams and timers. A timer armed from another thread earlier than the loop's wake-up signals an
/// eventfd the loop polls beside the socket (<see cref="TimerArmed"/>), and the loop sleeps to the nanosecond (ppoll),
/// at most <see cref="MaxSleepMicros"/>; without an eventfd it polls every <see cref="MaxPollMicros"/>.</para>
/// <para>The socket (<see cref="DatagramSocket"/>) reads many datagrams per system call and sends a connection's burst
/// in one call, as UDP GSO super-packets when the connection allows it.</para>
/// </summary>
internal sealed class QuicEndpoint : IDisposable
{
    public const int ConnectionIdLength = 8;
    private const int MaxPollMicros = 2_000;
    /// <summary>
    /// With the eventfd: the longest sleep, a safety net only: every connection timer, cross-thread change
    /// (<see cref="TimerArmed"/>, <see cref="Wake"/>) and turn-work timer (<see cref="TurnBy"/>) wakes the loop itself.
    /// It was 2 ms (about 500 ppoll a second per endpoint, an idle relay's largest fixed cost) while things still depended
    /// on those turns. The last one (issue 11): at 20 ms or 1 s `FastPathMoqLossLabTests` failed in about 1 of 5 runs,
    /// the lossy subscriber missing one whole subgroup (29 of 180 objects). Not a loss-recovery stall: every stream that
    /// subscriber was sent arrived complete (traced frame by frame); the relay never opened that subgroup for it, because
    /// the subscriber's drop threshold (SubscriberCongestion) said "congested". That threshold is refreshed every 20 ms
    /// from the listener's turns, which had no timer of their own: at 2 ms the refresh sampled the backlog at random
    /// instants; at 1 s the turns came with datagrams, so the refresh ran just after an upstream object arrived, while the
    /// subscriber's window (shrunk by loss to 2-4 packets) held it (6,760 bytes unsent), and the subgroup that started a
    /// few milliseconds later, with everything acknowledged, was skipped on that stale sample. Fixed at the root: the
    /// refresh is a timer of this loop (TurnBy, MoqKernelPlane.RefreshCreditsIfDue), and a backlog sheds only when it
    /// persisted from one refresh to the next. At 1 s, before: 6 of 6 runs failed (5 of them traced); timer alone: 7 of 8
    /// passed; persistence alone: 8 of 8; both: 8 of 8, then 7 of 8 more (the failure was another one: both subscribers,
    /// the clean one too, missed the same group; unexplained, hardly the drop threshold, as the clean link lost nothing),
    /// and at 1 s the fast-path and listener test folders (77) and the rest of the QUIC and MoQ tests (1,218) all passed.
    /// Set to 100 ms: 10 wake-ups a second instead of 500, while a wake-up still missing somewhere (that unexplained
    /// failure may be one) costs at most that, well inside the subscribers' 2 s linger; raise it to 1 s to hunt such
    /// dependencies (the loss test is a good reproducer). At 100 ms: the loss test 16 of 16, the folders above all.
    /// Then set to 20 ms (end of session 11): a longer sleep has its own cost, because a timer another thread arms earlier
    /// than the loop's wake-up is an eventfd write and read plus a wake-up (<see cref="TimerArmed"/>), and a sender arms
    /// one with every send (the PTO, 20-30 ms out). At 100 ms the userspace MoQ relay made 8,830 eventfd writes per 5 s
    /// window at fan-out 64 and spent about a tenth more CPU at fan-out 16 than at 2 ms (A/B, `bench --profile moq
    /// --relay-mode userspace`); at 20 ms those timers are mostly beyond the sleep, no eventfd churn shows, and the
    /// relay's ppoll at fan-out 1 is a third of what 2 ms gave (1,022 against about 3,000 per window). The loss test
    /// passed 3 of 3 at 20 ms with the fixes above. The eventfd and ppoll's
    /// nanosecond timeout already removed the sub-millisecond spinning (Socket.Poll rounds µs down to whole ms: 3,164
    /// polls in a 2 s window became 1,098).
    /// </summary>
    private const int MaxSleepMicros = 20_000;
    private const int SocketBufferBytes = 4 << 20;

    private readonly Socket _socket;
    private readonly DatagramSocket _io;
    private readonly Dictionary<ConnectionId, IEndpointConnection> _routes = [];
    private readonly List<IEndpointConnection> _connections = [];
    private readonly IConnectionAcceptor? _acceptor;
    private readonly bool _requireAddressValidation;
    /// <summary>Server: the versions its connections speak, listed in Version Negotiation packets (RFC 9368 §2.1).</summary>
    private readonly uint[] _versions;
    private readonly AddressValidationTokens? _tokens;
    private readonly ILogger _log;
    private readonly Thread _thread;
    private readonly byte[] _replyBuffer = new byte[1500];
    // Where the datagram being routed came from (a DatagramSocket slot's address: valid until the next receive).
    private SocketAddress _from;
    // The last receive filled every slot: more is probably queued, so read again without polling first.
    private bool _moreQueued;
    private readonly InitialAuthentication _initialAuthentication = new();
    private volatile bool _disposed;
    // Wakes the loop when a timer is armed earlier than it sleeps (null: poll every MaxPollMicros instead).
    private readonly FastRelay.Net.EventFd? _wake = FastRelay.Net.EventFd.TryCreate();
    // Until when (µs) the loop sleeps; long.MinValue while it is awake (it reads every timer before it sleeps again).
    private long _sleepUntil = long.MinValue;
    // Work another layer runs on this thread at every turn (AddTurnWork), replaced whole under _routes' lock.
    private Action[] _turnWork = [];
    // When (µs) the turn work asked to run next at the latest (TurnBy); long.MaxValue: nothing asked. Lowered by TurnBy,
    // reset at every turn (the work asks again).
    private long _turnDue = long.MaxValue;

    /// <param name="segmentationOffload">Use UDP GSO where the kernel has it (each connection may still opt out).</param>
    /// <param name="receiveCoalescing">Ask the kernel for UDP GRO (same-flow datagrams read as one, split here).</param>
    public QuicEndpoint(IPEndPoint bind, IConnectionAcceptor? acceptor, bool requireAddressValidation, ILogger? log,
        bool segmentationOffload = true, bool receiveCoalescing = true, IReadOnlyList<uint>? versions = null)
    {
        _versions = versions is { Count: > 0 } ? [.. versions] : [QuicVersion.V1];
        _socket = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        if (bind.AddressFamily == AddressFamily.InterNetworkV6) _socket.DualMode = bind.Address.Equals(IPAddress.IPv6Any);
        SetBufferSizes(_socket);
        SetDontFragment(_socket, bind.AddressFamily);
        _socket.Bind(bind);
        _acceptor = acceptor;
        _requireAddressValidation = requireAddressValidation;
        _tokens = acceptor is not null ? new AddressValidationTokens() : null;
        _log = log ?? NullLogger.Instance;
        // A server reads from many peers at once; a client endpoint serves one connection and needs fewer slots.
        _io = new DatagramSocket(_socket, acceptor is not null ? ServerSlots : ClientSlots, segmentationOffload, receiveCoalescing, _log);
        _from = _io.Source(0);
        int capacity = _io.Slots * (_io.ReceiveCoalescing ? MaxSegmentsPerSlot : 1);
        _batch = new Memory<byte>[capacity];
        _batchOwners = new IEndpointConnection?[capacity];
        _batchSources = new SocketAddress[capacity];
        _batchEcn = new byte[capacity];
        _perConnectionEcn = new byte[capacity];
        _perConnection = new Memory<byte>[capacity];
        _perConnectionSources = new SocketAddress[capacity];
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _thread = new Thread(Run) { IsBackground = true, Name = $"quic {LocalEndPoint}" };
        _thread.Start();
    }

    /// <summary>
    /// Large socket buffers keep a burst from being dropped by the kernel before the loop drains it. The ordinary
    /// options are capped by net.core.[rw]mem_max (about 200 KB by default); as root the FORCE variants are not.
    /// </summary>
    /// <summary>
    /// DF on every datagram without the kernel's own PMTU cache (RFC 9000 §14: QUIC must not be fragmented; DPLPMTUD
    /// decides sizes itself): IP_MTU_DISCOVER / IPV6_MTU_DISCOVER = IP_PMTUDISC_PROBE on Linux.
    /// </summary>
    private static void SetDontFragment(Socket socket, AddressFamily family)
    {
        if (!OperatingSystem.IsLinux()) return;
        const int IpProtoIp = 0, IpMtuDiscover = 10, IpProtoIpv6 = 41, Ipv6MtuDiscover = 23, PmtuDiscProbe = 3;
        try
        {
            if (family == AddressFamily.InterNetworkV6)
            {
                socket.SetRawSocketOption(IpProtoIpv6, Ipv6MtuDiscover, BitConverter.GetBytes(PmtuDiscProbe));
                if (socket.DualMode) socket.SetRawSocketOption(IpProtoIp, IpMtuDiscover, BitConverter.GetBytes(PmtuDiscProbe));
            }
            else socket.SetRawSocketOption(IpProtoIp, IpMtuDiscover, BitConverter.GetBytes(PmtuDiscProbe));
        }
        catch (SocketException)
        {
            // Not fatal: without DF a too-large probe may arrive fragmented and overstate the path MTU.
        }
    }

    private static void SetBufferSizes(Socket socket)
    {
        const int SolSocket = 1, SoSndBufForce = 32, SoRcvBufForce = 33;
        socket.ReceiveBufferSize = SocketBufferBytes;
        socket.SendBufferSize = SocketBufferBytes;
        try
        {
            socket.SetRawSocketOption(SolSocket, SoRcvBufForce, BitConverter.GetBytes(SocketBufferBytes));
            socket.SetRawSocketOption(SolSocket, SoSndBufForce, BitConverter.GetBytes(SocketBufferBytes));
        }
        catch (SocketException)
        {
            // Not root: keep the capped sizes.
        }
    }

    public IPEndPoint LocalEndPoint { get; }
    public StatelessResetKey ResetKey { get; } = StatelessResetKey.CreateRandom();

    public void Send(ReadOnlySpan<byte> datagram, SocketAddress to) => _io.Send(datagram, to);

    /// <summary>Most datagrams one <see cref="SendBatch"/> takes.</summary>
    public const int MaxSendBatch = DatagramSocket.MaxBatch;

    /// <summary>
    /// One connection's datagrams, end to end in <paramref name="buffer"/>, to one address in one system call; runs of
    /// equal-sized ones as GSO super-packets when <paramref name="allowSegmentation"/> and the socket has it.
    /// </summary>
    public void SendBatch(ReadOnlySpan<byte> buffer, ReadOnlySpan<int> lengths, SocketAddress to, bool allowSegmentation, byte ecn = 0) =>
        _io.SendBatch(buffer, lengths, to, allowSegmentation, ecn);

    /// <summary>Datagrams of several connections, each to its own address, in one call (<see cref="DatagramSocket.SendEach"/>).</summary>
    public void SendEach(ReadOnlySpan<byte> buffer, ReadOnlySpan<int> lengths, ReadOnlySpan<SocketAddress> to, ReadOnlySpan<byte> ecn) =>
        _io.SendEach(buffer, lengths, to, ecn);

    /// <summary>The socket reports received ECN codepoints and can mark what it sends (Linux, native calls).</summary>
    public bool SupportsEcn => _io.ReadsEcn && _io.MarksEcn;

    /// <summary>Segmented (GSO) sends are on for this socket: requested, supported, never refused by the kernel.</summary>
    public bool SegmentationOffload => _io.SegmentationOffload;
    public DatagramSocketStatistics SocketStatistics => _io.Statistics;

    public void Register(in ConnectionId id, IEndpointConnection connection)
    {
        lock (_routes)
        {
            _routes[id] = connection;
            if (!_connections.Contains(connection)) _connections.Add(connection);
        }
    }

    public void Unregister(in ConnectionId id)
    {
        lock (_routes) _routes.Remove(id);
    }

    /// <summary>The connection is gone: drop every route to it.</summary>
    public void Remove(IEndpointConnection connection)
    {
        lock (_routes)
        {
            _connections.Remove(connection);
            List<ConnectionId>? stale = null;
            foreach (var (id, c) in _routes) if (c == connection) (stale ??= []).Add(id);
            if (stale is not null) foreach (var id in stale) _routes.Remove(id);
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> on this endpoint's thread at every turn of its loop, after the wait and before the
    /// datagrams read in that turn are delivered: at least every <see cref="MaxSleepMicros"/>, at once after
    /// <see cref="Wake"/>, and by the time <see cref="TurnBy"/> asked. Why: the kernel fast path's registration events are
    /// then consumed by the thread that is about to process the ACKs they concern, with no thread of their own waking
    /// every 2 ms. The work must be short and must
    /// never wait for this thread. Dispose the result to stop it.
    /// </summary>
    public IDisposable AddTurnWork(Action work)
    {
        lock (_routes) _turnWork = [.. _turnWork, work];
        return new TurnWorkRegistration(this, work);
    }

    private sealed class TurnWorkRegistration(QuicEndpoint endpoint, Action work) : IDisposable
    {
        public void Dispose()
        {
            lock (endpoint._routes) endpoint._turnWork = Array.FindAll(endpoint._turnWork, w => w != work);
        }
    }

    /// <summary>
    /// The next turn comes by <paramref name="micros"/> (<see cref="QuicClock"/>) at the latest, even if no datagram,
    /// connection timer or <see cref="Wake"/> brings it earlier: a timer for the turn work (the fast path's periodic
    /// credit and drop-threshold refresh). Without it such work ran only as often as the loop happened to turn, which the
    /// safety-net sleep of 2 ms once made often enough. A request lasts until the next turn, whatever brings it, so turn
    /// work that wants a timer asks at every turn (from its own work: no wake-up needed); the earliest request counts.
    /// </summary>
    public void TurnBy(long micros)
    {
        long current;
        do
        {
            current = Volatile.Read(ref _turnDue);
            if (micros >= current) return;
        } while (Interlocked.CompareExchange(ref _turnDue, micros, current) != current);
        TimerArmed(micros);
    }

    /// <summary>Ends the loop's current wait at once (the turn work runs right after). Asked from the loop's own thread
    /// (a connection that changed while it delivered datagrams or ran timers), it is a turn due now (<see cref="TurnBy"/>):
    /// the next turn simply does not wait, with no eventfd write for a wake-up nobody sleeps through.</summary>
    public void Wake()
    {
        if (Thread.CurrentThread == _thread) TurnBy(QuicClock.NowMicros);
        else _wake?.Signal();
    }

    private void RunTurnWork()
    {
        foreach (var work in Volatile.Read(ref _turnWork))
        {
            try { work(); }
            catch (Exception e) when (e is not ObjectDisposedException || !_disposed) { _log.LogError(e, "endpoint turn work failed"); }
        }
    }

    private void Run()
    {
        var snapshot = new List<IEndpointConnection>();
        try
        {
            RunLoop(snapshot);
        }
        finally
        {
            Interlocked.Exchange(ref _sleepUntil, long.MinValue);
        }
    }

    private void RunLoop(List<IEndpointConnection> snapshot)
    {
        while (!_disposed)
        {
            long now = QuicClock.NowMicros;
            long latest = now + (_wake is null ? MaxPollMicros : MaxSleepMicros);
            // Published before the timers are read (a full fence): a timer armed after the read below sees it and
            // signals; one armed before is in the read.
            Interlocked.Exchange(ref _sleepUntil, latest);
            long next = long.MaxValue;
            snapshot.Clear();
            lock (_routes) snapshot.AddRange(_connections);
            foreach (var c in snapshot) next = Math.Min(next, c.NextTimeout);
            next = Math.Min(next, Volatile.Read(ref _turnDue));
            long deadline = Math.Min(next, latest);
            Interlocked.Exchange(ref _sleepUntil, deadline);
            // next may be long.MinValue ("at once"): compare before subtracting, which would overflow.
            long wait = deadline <= now ? 0 : deadline - now;
            try
            {
                bool readable = _moreQueued || WaitReadable(wait);
                Interlocked.Exchange(ref _sleepUntil, long.MinValue);
                // This is the turn TurnBy asked for (or an earlier one): the work asks again for its next.
                Interlocked.Exchange(ref _turnDue, long.MaxValue);
                // Sends go as they are made, not coalesced over the turn (SendCoalescing): tried in session 14, the
                // fast-path demo's p99 rose (median 31 -> 68 ms) and more copies fell to userspace (benchmarks.md).
                RunTurnWork();
                if (readable) ReceiveAvailable();
            }
            catch (ObjectDisposedException) { return; }
            catch (SocketException e) when (_disposed || e.SocketErrorCode == SocketError.ConnectionReset) { if (_disposed) return; }

            now = QuicClock.NowMicros;
            foreach (var c in snapshot)
            {
                if (c.NextTimeout > now) continue;
                try { c.OnTimeout(now); }
                catch (Exception e) { _log.LogError(e, "connection timer failed"); }
            }
        }
    }

    /// <summary>A connection's next timer is now <paramref name="timeout"/> (µs): wakes the loop if it sleeps past it.</summary>
    internal void TimerArmed(long timeout)
    {
        if (timeout < Volatile.Read(ref _sleepUntil)) _wake?.Signal();
    }

    /// <summary>Waits up to <paramref name="micros"/> for a datagram or a wake-up; true when the socket is readable.</summary>
    private unsafe bool WaitReadable(long micros)
    {
        if (_wake is null) return _socket.Poll((int)Math.Min(micros, MaxPollMicros), SelectMode.SelectRead);
        // Disposed from a callback on this thread: the eventfd's number may already be someone else's.
        if (_disposed) throw new ObjectDisposedException(nameof(QuicEndpoint));
        var fds = stackalloc FastRelay.Net.LinuxSockets.PollFd[2];
        fds[0] = new() { Fd = (int)_socket.Handle, Events = FastRelay.Net.LinuxSockets.PollIn };
        fds[1] = new() { Fd = _wake.Fd, Events = FastRelay.Net.LinuxSockets.PollIn };
        // Nanoseconds: Socket.Poll rounds microseconds down to whole milliseconds, so a pacing or ACK timer under 1 ms
        // away made it spin.
        var timeout = new FastRelay.Net.LinuxSockets.TimeSpec { Seconds = micros / 1_000_000, Nanoseconds = micros % 1_000_000 * 1000 };
        int n = FastRelay.Net.LinuxSockets.ppoll(fds, 2, &timeout, null);
        if (n <= 0) return false; // timeout, or EINTR (the runtime's signals): the loop recomputes its timers
        if (fds[1].Revents != 0) _wake.Drain();
        if ((fds[0].Revents & FastRelay.Net.LinuxSockets.PollNval) != 0) throw new ObjectDisposedException(nameof(QuicEndpoint));
        return fds[0].Revents != 0;
    }

    /// <summary>
    /// Reads what is queued (one recvmmsg, bounded by the slots, so timers still run under a flood) into one batch, then
    /// hands each connection all of its datagrams in one call: one lock, one event dispatch and one flush (so one ACK) per
    /// burst instead of per datagram. Measured before batching: the receive thread and the reading application thread
    /// fought over the connection lock for every packet (hundreds of thousands of sched_yield per 100 MB).
    /// </summary>
    private void ReceiveAvailable()
    {
        int count = 0;
        // Never blocks: this thread owns every connection's timers and must never wait without a deadline — a read that
        // blocked while only new clients were arriving once stopped every connection's PTO and idle timer.
        int messages = _io.Receive();
        for (int m = 0; m < messages && !_disposed; m++)
        {
            var (data, segmentSize, ecn) = _io.Received(m);
            _from = _io.Source(m);
            _fromEcn = ecn;
            if (segmentSize <= 0 || segmentSize >= data.Length)
            {
                Collect(data, ref count);
                continue;
            }
            // UDP GRO: same-flow datagrams end to end, all segmentSize long but the last.
            for (int offset = 0; offset < data.Length; offset += segmentSize)
                Collect(data.Slice(offset, Math.Min(segmentSize, data.Length - offset)), ref count);
        }
        _moreQueued = messages == _io.Slots;
        DeliverBatch(count);
    }

    private void Collect(Memory<byte> datagram, ref int count)
    {
        // More segments than the kernel's GRO limit: never from a kernel we know, dropped rather than trusted.
        if (count == _batch.Length) return;
        try
        {
            if (Route(datagram, QuicClock.NowMicros) is { } owner)
            {
                _batch[count] = datagram;
                _batchOwners[count] = owner;
                _batchSources[count] = _from;
                _batchEcn[count] = _fromEcn;
                count++;
            }
        }
        catch (Exception e)
        {
            // A bug in one connection must not end the endpoint for all of them.
            _log.LogError(e, "datagram processing failed");
        }
    }

    private const int ServerSlots = 32;
    private const int ClientSlots = 8;
    /// <summary>The kernel's UDP GRO coalesces at most 64 datagrams (UDP_GRO_CNT_MAX).</summary>
    private const int MaxSegmentsPerSlot = 64;
    private const int AckSlice = 8;
    private readonly Memory<byte>[] _batch;
    private readonly IEndpointConnection?[] _batchOwners;
    private readonly Memory<byte>[] _perConnection;
    // Where each datagram of the batch came from (the socket's per-slot addresses: no allocation per datagram) and the
    // per-owner gather.
    private readonly SocketAddress[] _batchSources;
    private readonly SocketAddress[] _perConnectionSources;
    // The ECN codepoint each datagram arrived with (RFC 9000 §13.4.1), beside its source.
    private readonly byte[] _batchEcn;
    private readonly byte[] _perConnectionEcn;
    private byte _fromEcn;

    private void DeliverBatch(int count)
    {
        long now = QuicClock.NowMicros;
        for (int i = 0; i < count; i++)
        {
            var owner = _batchOwners[i];
            if (owner is null) continue;
            // Usually one connection owns the whole batch; otherwise gather each owner's datagrams in arrival order.
            int n = 0;
            for (int j = i; j < count; j++)
            {
                if (_batchOwners[j] != owner) continue;
                _perConnectionSources[n] = _batchSources[j];
                _perConnectionEcn[n] = _batchEcn[j];
                _perConnection[n++] = _batch[j];
                _batchOwners[j] = null;
            }
            // In slices of AckSlice datagrams: one lock and one flush per slice still, but a long burst gets an ACK every
            // AckSlice packets rather than one at its end, so the sender's window keeps moving.
            for (int from = 0; from < n; from += AckSlice)
            {
                int slice = Math.Min(AckSlice, n - from);
                try { owner.OnDatagrams(_perConnection.AsSpan(from, slice), _perConnectionSources.AsSpan(from, slice), _perConnectionEcn.AsSpan(from, slice), now); }
                catch (Exception e) { _log.LogError(e, "datagram processing failed"); }
            }
        }
        Array.Clear(_batch, 0, count);
        Array.Clear(_perConnection, 0, count);
        Array.Clear(_batchSources, 0, count);
        Array.Clear(_perConnectionSources, 0, count);
    }

    /// <summary>The connection a datagram belongs to, or null when it was answered here (or dropped).</summary>
    private IEndpointConnection? Route(Memory<byte> datagram, long now)
    {
        var span = datagram.Span;
        if (!PacketHeaderParser.TryGetDestinationConnectionId(span, ConnectionIdLength, out var dcidSpan)) return null;
        IEndpointConnection? connection = null;
        if (ConnectionId.TryCreate(dcidSpan, out var dcid))
            lock (_routes) _routes.TryGetValue(dcid, out connection);
        if (connection is not null) return connection;
        if (_acceptor is null) return null;
        if ((span[0] & 0x80) == 0)
        {
            SendStatelessReset(dcid, span.Length);
            return null;
        }
        AcceptOrAnswer(datagram, now);
        return null;
    }

    private void AcceptOrAnswer(Memory<byte> datagram, long now)
    {
        if (!PacketHeaderParser.TryParse(datagram, ConnectionIdLength, out var header, out _)) return;
        var remote = (IPEndPoint)LocalEndPoint.Create(_from);
        // A version the stack parses but this listener does not speak is answered like an unknown one.
        if (header.Type == QuicPacketType.UnsupportedVersion || Array.IndexOf(_versions, header.Version) < 0)
        {
            // RFC 9000 §6.1: answer only datagrams large enough to be a client's first flight.
            if (datagram.Length < QuicConnectionCore.MinimumInitialDatagramSize) return;
            int n = PacketHeaderWriter.WriteVersionNegotiation(_replyBuffer, header.SourceConnectionId.Span, header.DestinationConnectionId.Span, _versions);
            Send(_replyBuffer.AsSpan(0, n), _from);
            return;
        }
        if (header.Type != QuicPacketType.Initial || datagram.Length < QuicConnectionCore.MinimumInitialDatagramSize) return;
        if (header.DestinationConnectionId.Length < 8) return; // RFC 9000 §7.2
        // Nothing (no Retry, no connection, no backlog slot) for an Initial that does not decrypt.
        if (!_initialAuthentication.Authenticates(datagram.Span, header)) return;
        if (!ConnectionId.TryCreate(header.DestinationConnectionId.Span, out var clientDcid)
            || !ConnectionId.TryCreate(header.SourceConnectionId.Span, out var clientScid)) return;

        var original = clientDcid;
        ConnectionId? retrySource = null;
        bool validated = false;
        if (!header.Token.IsEmpty && _tokens!.TryValidate(header.Token.Span, remote, DateTimeOffset.UtcNow, out var tokenOdcid, out var tokenRetry)
            && tokenRetry.Equals(clientDcid))
        {
            original = tokenOdcid;
            retrySource = tokenRetry;
            validated = true;
        }
        else if (_requireAddressValidation || UnvalidatedHandshakesAtLimit())
        {
            // Unknown or no token: ask the client to prove its address first (Retry, RFC 9000 §8.1.2) — always when
            // configured, and under a flood of handshakes from addresses nobody proved (see MaxUnvalidatedHandshakes).
            var newId = ConnectionId.Random(ConnectionIdLength);
            var token = _tokens!.Create(remote, clientDcid, newId, DateTimeOffset.UtcNow);
            // RFC 9369 §4: a Retry is in the version of the client's Initial (the original version).
            int n = RetryIntegrity.WriteRetry(_replyBuffer, header.Version, clientScid.Span, newId.Span, token, clientDcid.Span);
            Send(_replyBuffer.AsSpan(0, n), _from);
            _log.LogDebug("sent Retry to {Remote}", remote);
            return;
        }
        var local = ConnectionId.Random(ConnectionIdLength);
        var context = new ServerHandshakeContext(original, clientDcid, clientScid, local, retrySource, validated, header.Version);
        var connection = _acceptor!.Accept(context, remote, now);
        if (connection is null) return;
        if (!validated) _unvalidatedHandshakes.Add(connection);
        // Retransmitted client Initials still carry the id the client picked; route those too until the connection ends.
        Register(clientDcid, connection);
        connection.OnDatagrams([datagram], [_from], [_fromEcn], now);
    }

    /// <summary>
    /// Handshakes in progress whose client address nobody validated, beyond which new clients get a Retry first (the
    /// bound quic-go uses). Initial keys are public: anyone can make Initials that authenticate, from spoofed addresses,
    /// and abandon them; each holds a connection and a listener backlog slot until its handshake times out. A Retry costs
    /// the server no state, a spoofer never answers it, and a real client comes back validated.
    /// </summary>
    private const int MaxUnvalidatedHandshakes = 128;
    private readonly List<IEndpointConnection> _unvalidatedHandshakes = [];   // endpoint thread only

    private bool UnvalidatedHandshakesAtLimit()
    {
        if (_unvalidatedHandshakes.Count < MaxUnvalidatedHandshakes) return false;
        // A closed connection has no timer left (NextTimeout is long.MaxValue); a live handshake always has one.
        _unvalidatedHandshakes.RemoveAll(c => c.IsHandshakeComplete || c.NextTimeout == long.MaxValue);
        return _unvalidatedHandshakes.Count >= MaxUnvalidatedHandshakes;
    }

    private void SendStatelessReset(in ConnectionId dcid, int triggerLength)
    {
        int n = ResetKey.WriteReset(_replyBuffer, dcid, triggerLength);
        if (n > 0) Send(_replyBuffer.AsSpan(0, n), _from);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _socket.Dispose();
        _wake?.Signal();
        if (Thread.CurrentThread != _thread) _thread.Join(TimeSpan.FromSeconds(2));
        _tokens?.Dispose();
        _wake?.Dispose();
    }
}
