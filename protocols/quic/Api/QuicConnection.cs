using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Io;
using FastRelay.Protocols.Quic.Streams;
using FastRelay.Protocols.Quic.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastRelay.Protocols.Quic.Api;

/// <summary>
/// A QUIC connection (client or server side), shaped like System.Net.Quic.QuicConnection. Wraps a
/// <see cref="QuicConnectionCore"/> with a lock: the endpoint's receive thread and application threads both drive it,
/// and whoever changed it sends what became sendable before releasing the lock. Waiters (handshake, accept, stream
/// reads and writes) complete asynchronously, never under the lock.
/// </summary>
public sealed class QuicConnection : IAsyncDisposable, IEndpointConnection, IConnectionIdListener
{
    private readonly object _lock = new();
    private readonly QuicEndpoint _endpoint;
    private readonly bool _ownsEndpoint;
    private readonly SocketAddress _remoteAddress;
    private readonly QuicConnectionCore _core;
    private readonly ILogger _log;
    private readonly byte[] _sendBuffer = new byte[65536];
    // The lengths of the datagrams built end to end in _sendBuffer and not yet sent (one system call per burst).
    private readonly int[] _sendLengths = new int[QuicEndpoint.MaxSendBatch];
    private readonly Dictionary<ulong, QuicStream> _streams = [];
    private readonly Channel<QuicStream> _inbound = Channel.CreateUnbounded<QuicStream>();
    // Filled from the core under the lock; the core's own queue is bounded too, this one decouples the reader.
    private readonly Channel<byte[]> _datagrams = Channel.CreateBounded<byte[]>(
        new BoundedChannelOptions(QuicConnectionCore.MaxQueuedInboundDatagrams) { FullMode = BoundedChannelFullMode.DropOldest, SingleWriter = true });
    private readonly TaskCompletionSource _handshake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closing = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<TaskCompletionSource> _openWaiters = [];
    private readonly Action<QuicConnection>? _onHandshakeCompleted;
    private readonly Action<QuicConnection>? _onClosed;
    private long _nextTimeout = long.MaxValue;
    private bool _disposed;

    private QuicConnection(QuicEndpoint endpoint, bool ownsEndpoint, IPEndPoint remote, Func<IConnectionIdListener, QuicConnectionCore> createCore,
        ILogger log, Action<QuicConnection>? onHandshakeCompleted, Action<QuicConnection>? onClosed)
    {
        _endpoint = endpoint;
        _ownsEndpoint = ownsEndpoint;
        RemoteEndPoint = remote;
        _remoteAddress = remote.Serialize();
        _log = log;
        _onHandshakeCompleted = onHandshakeCompleted;
        _onClosed = onClosed;
        _core = createCore(this);
    }

    /// <summary>
    /// Send runs of equal-sized packets as UDP GSO super-packets (when the socket has it). On by default
    /// (<see cref="QuicConnectionOptions.AllowSegmentationOffload"/>); turn it off for a connection whose packets the kernel
    /// fast path must see one by one (it renumbers each). Takes effect from the next burst.
    /// </summary>
    public bool AllowSegmentationOffload
    {
        get => Volatile.Read(ref _allowSegmentationOffload);
        set => Volatile.Write(ref _allowSegmentationOffload, value);
    }
    private bool _allowSegmentationOffload = true;

    public static ValueTask<QuicConnection> ConnectAsync(QuicClientConnectionOptions options, CancellationToken cancellationToken = default) =>
        ConnectAsync(options, null, cancellationToken);

    private static async ValueTask<QuicConnection> ConnectAsync(QuicClientConnectionOptions options, (uint Version, uint Abandoned)? afterVersionNegotiation,
        CancellationToken cancellationToken)
    {
        if (options.ApplicationProtocols.Count == 0) throw new ArgumentException("at least one application protocol (ALPN) is required", nameof(options));
        var (remote, host) = await ResolveAsync(options.RemoteEndPoint, cancellationToken).ConfigureAwait(false);
        var bind = options.LocalEndPoint ?? new IPEndPoint(remote.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        var log = options.LoggerFactory?.CreateLogger("FastRelay.Quic.Client") ?? NullLogger.Instance;
        var endpoint = new QuicEndpoint(bind, null, false, log, receiveCoalescing: options.ReceiveCoalescing);
        QuicConnection connection;
        try
        {
            connection = CreateClient(endpoint, ownsEndpoint: true, remote, options.TargetHost ?? host, options, log, null, afterVersionNegotiation);
        }
        catch
        {
            endpoint.Dispose();
            throw;
        }
        try
        {
            return await CompleteHandshakeAsync(connection, remote, options, cancellationToken).ConfigureAwait(false);
        }
        catch (QuicException e) when (afterVersionNegotiation is null && NextVersionAfter(e, options, log) is { } retry)
        {
            // RFC 9000 §6.2: a new connection attempt (new ids, new socket) in a version the server listed.
            return await ConnectAsync(options, retry, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// After the server refused our first flight's version with Version Negotiation: the most preferred of our versions
    /// that it listed, and the version refused (the second attempt checks the server does not list it: RFC 9368 §4);
    /// null when there is none (the failure stands).
    /// </summary>
    private static (uint Version, uint Abandoned)? NextVersionAfter(QuicException e, QuicClientConnectionOptions options, ILogger log)
    {
        if (e.ServerVersions is not { } listed) return null;
        var refused = SettingsFactory.InitialVersionOf(options);
        foreach (var version in options.QuicVersions)
        {
            if (version == refused || !listed.Contains(version)) continue;
            log.LogDebug("version negotiation: QUIC {Refused} refused, trying again in {Version}", Wire.QuicVersion.Name(refused), Wire.QuicVersion.Name(version));
            return (version, refused);
        }
        return null;
    }

    /// <summary>
    /// Client side on an endpoint someone else owns (a listener's socket: <see cref="QuicListener.ConnectAsync"/>); the
    /// endpoint routes the server's packets here by our connection ids, as it routes every other connection's.
    /// </summary>
    internal static async ValueTask<QuicConnection> ConnectOnAsync(QuicEndpoint endpoint, QuicClientConnectionOptions options,
        Action<QuicConnection> onClosed, Action<QuicConnection> onCreated, CancellationToken cancellationToken)
    {
        if (options.ApplicationProtocols.Count == 0) throw new ArgumentException("at least one application protocol (ALPN) is required", nameof(options));
        var (remote, host) = await ResolveAsync(options.RemoteEndPoint, cancellationToken).ConfigureAwait(false);
        var local = endpoint.LocalEndPoint;
        if (local.AddressFamily == AddressFamily.InterNetwork && remote.AddressFamily == AddressFamily.InterNetworkV6)
            throw new QuicException(QuicErrorKind.HandshakeFailed, $"cannot reach {remote} from the IPv4 socket {local}");
        // A dual-stack socket names IPv4 peers by their mapped address (as the listener's own connections see them).
        if (local.AddressFamily == AddressFamily.InterNetworkV6 && remote.AddressFamily == AddressFamily.InterNetwork)
            remote = new IPEndPoint(remote.Address.MapToIPv6(), remote.Port);
        var log = options.LoggerFactory?.CreateLogger("FastRelay.Quic.Client") ?? NullLogger.Instance;
        (uint Version, uint Abandoned)? afterVersionNegotiation = null;
        while (true)
        {
            var connection = CreateClient(endpoint, ownsEndpoint: false, remote, options.TargetHost ?? host, options, log, onClosed, afterVersionNegotiation);
            onCreated(connection);
            try
            {
                return await CompleteHandshakeAsync(connection, remote, options, cancellationToken).ConfigureAwait(false);
            }
            catch (QuicException e) when (afterVersionNegotiation is null && NextVersionAfter(e, options, log) is { } retry)
            {
                afterVersionNegotiation = retry;
            }
        }
    }

    private static QuicConnection CreateClient(QuicEndpoint endpoint, bool ownsEndpoint, IPEndPoint remote, string? serverName,
        QuicClientConnectionOptions options, ILogger log, Action<QuicConnection>? onClosed, (uint Version, uint Abandoned)? afterVersionNegotiation)
    {
        var ticketKey = Tls.Resumption.SessionTicketCache.KeyFor(serverName ?? remote.Address.ToString(), remote.Port);
        var settings = SettingsFactory.ForClient(options, serverName, endpoint.ResetKey, log, ticketKey, endpoint.SupportsEcn, afterVersionNegotiation);
        return new QuicConnection(endpoint, ownsEndpoint, remote, l => QuicConnectionCore.CreateClient(settings, l, QuicClock.NowMicros), log, null, onClosed)
        {
            AllowSegmentationOffload = options.AllowSegmentationOffload,
        };
    }

    private static async ValueTask<QuicConnection> CompleteHandshakeAsync(QuicConnection connection, IPEndPoint remote, QuicClientConnectionOptions options,
        CancellationToken cancellationToken)
    {
        lock (connection._lock) connection.AfterChangeLocked(QuicClock.NowMicros);
        // 0-RTT: hand the connection out now so that what the caller sends goes in the first flight.
        if (connection._core.EarlyDataState == Tls.Handshake.EarlyDataState.Offered)
        {
            connection._handshakeTimeout = options.HandshakeTimeout;
            return connection;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.HandshakeTimeout);
        try
        {
            await connection._handshake.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new QuicException(QuicErrorKind.ConnectionTimeout, $"QUIC handshake with {remote} did not complete within {options.HandshakeTimeout.TotalSeconds:0.#} s");
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return connection;
    }

    /// <summary>Server side: made by the listener's endpoint for a client's first Initial.</summary>
    internal static QuicConnection CreateServer(QuicEndpoint endpoint, IPEndPoint remote, ConnectionSettings settings, in ServerHandshakeContext context,
        ILogger log, Action<QuicConnection> onHandshakeCompleted, Action<QuicConnection> onClosed, bool allowSegmentationOffload)
    {
        var ctx = context;
        return new QuicConnection(endpoint, false, remote, l => QuicConnectionCore.CreateServer(settings, ctx, l, QuicClock.NowMicros), log,
            onHandshakeCompleted, onClosed) { AllowSegmentationOffload = allowSegmentationOffload };
    }

    private static async ValueTask<(IPEndPoint Remote, string? Host)> ResolveAsync(EndPoint endPoint, CancellationToken cancellationToken)
    {
        switch (endPoint)
        {
            case IPEndPoint ip:
                return (ip, null);
            case DnsEndPoint dns:
                if (IPAddress.TryParse(dns.Host, out var literal)) return (new IPEndPoint(literal, dns.Port), null);
                var addresses = await Dns.GetHostAddressesAsync(dns.Host, cancellationToken).ConfigureAwait(false);
                if (addresses.Length == 0) throw new QuicException(QuicErrorKind.HandshakeFailed, $"no address for {dns.Host}");
                var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses[0];
                return (new IPEndPoint(chosen, dns.Port), dns.Host);
            default:
                throw new ArgumentException($"unsupported endpoint type {endPoint.GetType().Name}", nameof(endPoint));
        }
    }

    public IPEndPoint LocalEndPoint => _endpoint.LocalEndPoint;
    /// <summary>The socket's system calls and UDP segmentation offload state (a server connection shares its listener's).</summary>
    public DatagramSocketStatistics SocketStatistics => _endpoint.SocketStatistics;
    public IPEndPoint RemoteEndPoint { get; }
    public string NegotiatedApplicationProtocol => _core.NegotiatedApplicationProtocol ?? "";
    public X509Certificate2? RemoteCertificate => _core.PeerCertificate;
    public bool Is1RttEncryptionDisabled => _core.IsOneRttPlaintext;
    /// <summary>
    /// Kernel fast path, relay side: the connection id the peer gave us and our packets carry (forwarded copies must
    /// carry it too), and the one we issued first (the peer's packets carry it, so the kernel can recognise them).
    /// </summary>
    public byte[] DestinationConnectionId { get { lock (_lock) return _core.DestinationConnectionId.Span.ToArray(); } }
    public byte[] InitialLocalConnectionId { get { lock (_lock) return _core.InitialLocalConnectionId.Span.ToArray(); } }
    /// <summary>Completes when the connection is fully closed (after closing/draining).</summary>
    public Task Closed => _closed.Task;

    /// <summary>
    /// Completes as soon as the connection enters closing or draining (either side closed, or it timed out), before
    /// <see cref="Closed"/>, which waits out that period. Streams keep what they received before the close readable.
    /// </summary>
    public Task Closing => _closing.Task;

    /// <summary>Congestion window, bytes in flight and RTT as the connection sees them now (one lock, one snapshot).</summary>
    public QuicPathStatistics GetPathStatistics()
    {
        lock (_lock)
        {
            var cc = _core.CongestionControl;
            var rtt = _core.Rtt;
            return new QuicPathStatistics(_core.CongestionControlAlgorithm, cc.CongestionWindow, cc.BytesInFlight,
                rtt.SmoothedRtt, rtt.MinRtt, rtt.RttVar, rtt.HasSample, _core.PacketsDeclaredLost,
                (long)_core.Streams.UnsentStreamBytes());
        }
    }
    internal Task HandshakeCompleted => _handshake.Task;
    private TimeSpan _handshakeTimeout = Timeout.InfiniteTimeSpan;

    /// <summary>Resumed with a session ticket (no certificate was exchanged: <see cref="RemoteCertificate"/> is null).</summary>
    public bool IsResumed { get { lock (_lock) return _core.IsResumed; } }

    /// <summary>ECN on this connection (RFC 9000 §13.4): Testing / Capable while we mark ECT(0), Failed after validation failed.</summary>
    public Recovery.EcnState EcnState { get { lock (_lock) return _core.EcnState; } }
    /// <summary>Congestion events the peer's ECN-CE counts caused.</summary>
    public long EcnCongestionEvents { get { lock (_lock) return _core.EcnCongestionEvents; } }
    /// <summary>ECN counts our ACKs report for 1-RTT packets received (null: none arrived with a codepoint).</summary>
    public Wire.Frames.EcnCounts? ReceivedEcnCounts { get { lock (_lock) return _core.ReceivedEcnCounts; } }

    /// <summary>The QUIC version in use (<see cref="Wire.QuicVersion"/>): the negotiated one once the server has chosen.</summary>
    public uint NegotiatedVersion { get { lock (_lock) return _core.Version; } }

    /// <summary>The largest UDP payload the connection sends now (grows with path MTU discovery).</summary>
    public int PathMtu { get { lock (_lock) return _core.PathMtu; } }

    /// <summary>What became of 0-RTT: NotAttempted, Offered (handshake still running), Accepted or Rejected (resent in 1-RTT).</summary>
    public Tls.Handshake.EarlyDataState EarlyDataState { get { lock (_lock) return _core.EarlyDataState; } }

    /// <summary>
    /// Completes when the handshake has (for a 0-RTT connection, which <see cref="ConnectAsync"/> returns early); throws
    /// like ConnectAsync when it fails or takes longer than the handshake timeout.
    /// </summary>
    public async Task WaitForHandshakeAsync(CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_handshakeTimeout);
        try
        {
            await _handshake.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new QuicException(QuicErrorKind.ConnectionTimeout, $"QUIC handshake with {RemoteEndPoint} did not complete within {_handshakeTimeout.TotalSeconds:0.#} s");
        }
    }
    internal QuicConnectionCore Core => _core;

    // ---- kernel fast path, relay side (see QuicConnectionCore.FastPath.cs and protocols/quic/README.md) ----

    /// <summary>
    /// The kernel numbers this connection's 1-RTT packets from now on; returns the number its counter starts at, which is
    /// <paramref name="margin"/> past the stack's next (see <see cref="QuicConnectionCore.BeginExternalPacketNumbering"/>).
    /// Requires disable_1rtt_encryption on both ends and a confirmed handshake.
    /// </summary>
    public ulong BeginExternalPacketNumbering(ulong margin = 0)
    {
        lock (_lock)
        {
            ThrowIfClosedLocked();
            return _core.BeginExternalPacketNumbering(margin);
        }
    }

    /// <summary>
    /// An encrypted connection goes on the fast path (issue 16): its 1-RTT numbers come from <paramref name="slot"/>'s
    /// counter shared with the kernel, and its send keys are installed in the kernel now and at every key update. False
    /// (nothing changed) for a suite the kernel cannot seal with or a connection that negotiated disable_1rtt_encryption.
    /// </summary>
    public bool TryBeginSealedFastPath(ISealedFastPathSlot slot, out ulong firstPacketNumber)
    {
        lock (_lock)
        {
            ThrowIfClosedLocked();
            return _core.TryBeginSealedFastPath(slot, out firstPacketNumber);
        }
    }

    /// <summary>
    /// The flow-control credit the kernel may use on a stream of this connection (what the relay glue writes into the
    /// kernel's maps after each drain): the peer's MAX_STREAM_DATA and MAX_DATA, and how far they are used. The stream
    /// figures are 0 for a stream that is unknown or already complete and released.
    /// </summary>
    public FastPathCredit GetFastPathCredit(long streamId)
    {
        lock (_lock)
        {
            var streams = _core.Streams;
            return new FastPathCredit(streams.GetPeerMaxStreamData((ulong)streamId), streams.GetHighestSent((ulong)streamId),
                streams.PeerMaxData, streams.ConnectionBytesSent);
        }
    }

    /// <summary>Ring-buffer event "userspace-numbered": our packet <paramref name="local"/> left as <paramref name="wire"/>
    /// at <paramref name="sentTimeNs"/> (CLOCK_MONOTONIC ns, the clock of bpf_ktime_get_ns and Stopwatch on Linux).</summary>
    public bool ConfirmPacketNumber(ulong local, ulong wire, long sentTimeNs) =>
        ApplyKernelReports([KernelReport.Numbered(local, wire, sentTimeNs)]) == 1;

    /// <summary>
    /// The kernel's reports of one ring-buffer batch for this connection, in order, under one lock, followed by one
    /// send pass, event dispatch and timer update (the same as <see cref="ConfirmPacketNumber"/>,
    /// <see cref="RegisterForwardedPacket"/> and <see cref="ReportNotForwarded"/> one by one, which each take the lock and
    /// run that pass). Per report, the pass and the lock were about a tenth of the fast-path relay's CPU at fan-out 64: two
    /// copies per object and subscriber, each followed by a send pass that found nothing to send. A report the connection
    /// refuses (a duplicate number) is skipped, as one by one. Returns how many were registered or confirmed.
    /// </summary>
    public int ApplyKernelReports(ReadOnlySpan<KernelReport> reports)
    {
        if (reports.IsEmpty) return 0;
        int applied = 0;
        lock (_lock)
        {
            long heldAcksBefore = _core.HeldAcksApplied;
            bool handedBack = false;
            foreach (ref readonly var r in reports)
            {
                bool ok = r.Kind switch
                {
                    KernelReportKind.Numbered => _core.ConfirmPacketNumber(r.Local, r.Wire, MonotonicNanosToMicros(r.TimeNs)),
                    KernelReportKind.Forwarded => _core.RegisterForwardedPacket(r.Wire, MonotonicNanosToMicros(r.TimeNs), r.PacketBytes, r.StreamId, r.Offset,
                        r.Length, r.Fin),
                    _ => ReportNotForwardedLocked(r),
                };
                if (ok) applied++;
                handedBack |= r.Kind == KernelReportKind.NotForwarded;
            }
            // Registering a sent packet only adds to bytes in flight and covers stream ranges, so it makes nothing newly
            // sendable, unless the peer had already acknowledged the number (that frees window). A hand-back always gives
            // the stack data to send. Most batches are registrations only: their send pass found nothing to send and was
            // about a tenth of the fast-path relay's CPU at fan-out 64 (session 13 profile).
            AfterChangeLocked(QuicClock.NowMicros, sendPass: handedBack || _core.HeldAcksApplied != heldAcksBefore);
        }
        return applied;
    }

    private bool ReportNotForwardedLocked(in KernelReport r)
    {
        _core.ReportNotForwarded(r.StreamId, r.Offset, r.Length, r.Fin);
        return true;
    }

    private Action<long>? _fastPathRoomObserver;
    private long _lastFastPathRoom;
    private Action? _registrationWanted;
    private int _heldAckRangesSeen;
    private ulong _sentForNumberingSeen;

    /// <summary>
    /// For the kernel fast path's event consumer: <paramref name="wanted"/> is called when the peer acknowledged packet
    /// numbers the kernel has not reported yet (the acknowledgment is held until they are registered, so their bytes stay
    /// in flight), and when this connection sent packets of its own that wait for the kernel's number (until the report
    /// is consumed such a packet is in no sent history: if it is lost, nothing but the report arms its recovery), so the
    /// consumer can drain its events now instead of at its next idle poll. Called under the connection's lock: keep it
    /// to a signal. Null stops it.
    /// </summary>
    public void OnRegistrationWanted(Action? wanted)
    {
        lock (_lock)
        {
            _registrationWanted = wanted;
            _heldAckRangesSeen = _core.HeldAckRanges;
            _sentForNumberingSeen = _core.PacketsSentForNumbering;
        }
    }

    /// <summary>
    /// For the kernel fast path's congestion budget (a byte count the kernel debits for every copy it sends):
    /// <paramref name="creditDelta"/> is called at once with the congestion window's room now (window − bytes in flight)
    /// and then, whenever it changes, with the change of window − bytes in flight + bytes of kernel copies registered so
    /// far. That sum moves with ACKs, losses, window changes and the stack's own sends, but not when a kernel copy is
    /// registered (the kernel debited the copy when it sent it), so the budget stays the window's room, exact and without
    /// a refresh interval. Called under the connection's lock, on whichever thread made the change: keep it to a few
    /// instructions. Null stops it; once this returns, no call is running.
    /// </summary>
    public void ObserveFastPathRoom(Action<long>? creditDelta)
    {
        lock (_lock)
        {
            _fastPathRoomObserver = creditDelta;
            if (creditDelta is null) return;
            var cc = _core.CongestionControl;
            _lastFastPathRoom = FastPathRoomBasisLocked();
            creditDelta(cc.CongestionWindow - cc.BytesInFlight);
        }
    }

    private long FastPathRoomBasisLocked()
    {
        var cc = _core.CongestionControl;
        return cc.CongestionWindow - cc.BytesInFlight + _core.ForwardedBytesRegistered;
    }

    private void ReportFastPathRoomLocked(Action<long> creditDelta)
    {
        var basis = FastPathRoomBasisLocked();
        if (basis == _lastFastPathRoom) return;
        var delta = basis - _lastFastPathRoom;
        _lastFastPathRoom = basis;
        creditDelta(delta);
    }

    /// <summary>Ring-buffer event "forwarded": the kernel sent a copy to this connection as <paramref name="wire"/>.</summary>
    public bool RegisterForwardedPacket(ulong wire, long sentTimeNs, int packetBytes, ulong streamId, ulong offset, ulong length, bool fin) =>
        ApplyKernelReports([KernelReport.Forwarded(wire, sentTimeNs, packetBytes, streamId, offset, length, fin)]) == 1;

    /// <summary>
    /// Kernel timestamps (bpf_ktime_get_ns) are CLOCK_MONOTONIC nanoseconds; on Linux Stopwatch ticks are the same
    /// nanoseconds (Frequency = 10^9), so <see cref="QuicClock.NowMicros"/> is that clock in µs.
    /// </summary>
    private static long MonotonicNanosToMicros(long nanoseconds) => nanoseconds / 1000;

    /// <summary>Ring-buffer event "not forwarded although mapped": userspace sends the range from its shadow copy.</summary>
    public void ReportNotForwarded(ulong streamId, ulong offset, ulong length, bool fin) =>
        ApplyKernelReports([KernelReport.NotForwarded(streamId, offset, length, fin)]);

    public async ValueTask<QuicStream> OpenOutboundStreamAsync(QuicStreamType type, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            TaskCompletionSource waiter;
            lock (_lock)
            {
                ThrowIfClosedLocked();
                if (_core.Streams.TryOpenStream(type == QuicStreamType.Bidirectional, out ulong id))
                {
                    var stream = new QuicStream(this, id, type, canRead: type == QuicStreamType.Bidirectional, canWrite: true);
                    _streams[id] = stream;
                    return stream;
                }
                waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _openWaiters.Add(waiter);
                AfterChangeLocked(QuicClock.NowMicros); // STREAMS_BLOCKED
            }
            await waiter.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask<QuicStream> AcceptInboundStreamAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _inbound.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw ClosedException();
        }
    }

    /// <summary>Largest datagram payload <see cref="SendDatagram"/> accepts now; 0 when the peer takes no DATAGRAM
    /// frames (it did not advertise max_datagram_frame_size) or the handshake has not completed.</summary>
    public int MaxDatagramPayload
    {
        get { lock (_lock) return _core.MaxDatagramPayload; }
    }

    /// <summary>
    /// Sends one unreliable datagram (RFC 9221) without waiting: it is queued for the next packet, or refused at once
    /// when it is too large, the peer does not take datagrams, or the bounded send queue is full because congestion
    /// control holds packets back. A queued datagram can still be lost; it is never retransmitted.
    /// </summary>
    public DatagramSendResult SendDatagram(ReadOnlySpan<byte> payload)
    {
        lock (_lock)
        {
            if (_disposed) return DatagramSendResult.Closed;
            var result = _core.TryQueueDatagram(payload);
            if (result == DatagramSendResult.Queued) AfterChangeLocked(QuicClock.NowMicros);
            return result;
        }
    }

    /// <summary>The next datagram from the peer. At most <see cref="QuicConnectionCore.MaxQueuedInboundDatagrams"/> wait
    /// here; a slow reader loses the oldest. Throws <see cref="QuicException"/> once the connection is closed.</summary>
    public async ValueTask<ReadOnlyMemory<byte>> ReceiveDatagramAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _datagrams.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw ClosedException();
        }
    }

    public ValueTask CloseAsync(long errorCode, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            _core.Close((ulong)errorCode, "", QuicClock.NowMicros);
            AfterChangeLocked(QuicClock.NowMicros);
        }
        return new ValueTask(_closed.Task.WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default));
    }

    /// <summary>
    /// Starts a key update (RFC 9001 §6) with the next packet — or, before the handshake is confirmed or while the
    /// previous update is unanswered, as soon as that allows. <see cref="KeyUpdateGeneration"/> shows it happened.
    /// </summary>
    public void UpdateKeys()
    {
        lock (_lock)
        {
            ThrowIfClosedLocked();
            _core.RequestKeyUpdate();
            AfterChangeLocked(QuicClock.NowMicros);
        }
    }

    // ---- the ACK frequency extension (draft-ietf-quic-ack-frequency; QuicConnectionCore.AckFrequency.cs) ----

    /// <summary>The peer advertised min_ack_delay: <see cref="RequestAckFrequency"/> and <see cref="RequestImmediateAck"/> may be used.</summary>
    public bool PeerSupportsAckFrequency { get { lock (_lock) return _core.PeerMinAckDelay is not null; } }

    /// <summary>The peer's min_ack_delay (the smallest max ack delay it takes), null when it did not advertise one.</summary>
    public TimeSpan? PeerMinAckDelay { get { lock (_lock) return _core.PeerMinAckDelay is ulong us ? TimeSpan.FromMicroseconds(us) : null; } }

    /// <summary>
    /// Asks the peer to acknowledge less often (ACK_FREQUENCY, draft-ietf-quic-ack-frequency §4): an ACK after more than
    /// <paramref name="ackElicitingThreshold"/> ack-eliciting packets (a ceiling: the connection asks for no more than
    /// half its congestion window in packets, and updates the request as the window moves, §8.1), or <paramref name="maxAckDelay"/> after the first
    /// unacknowledged one; reordering acknowledged at once only beyond <paramref name="reorderingThreshold"/> packets (0:
    /// never; use loss detection's packet threshold, 3, to lose no time). Loss recovery allows for the longer delay (§7)
    /// and PTO probes then carry IMMEDIATE_ACK. Fewer ACKs cost loss detection and congestion control feedback time: keep
    /// <paramref name="maxAckDelay"/> well inside what recovery may wait. Throws unless the handshake completed and
    /// <see cref="PeerSupportsAckFrequency"/>, or for a delay below the peer's min_ack_delay or of 2^14 ms or more.
    /// </summary>
    public void RequestAckFrequency(ulong ackElicitingThreshold, TimeSpan maxAckDelay, ulong reorderingThreshold = 3)
    {
        lock (_lock)
        {
            ThrowIfClosedLocked();
            _core.RequestAckFrequency(ackElicitingThreshold, (long)maxAckDelay.TotalMicroseconds, reorderingThreshold);
            AfterChangeLocked(QuicClock.NowMicros);
        }
    }

    /// <summary>Sends IMMEDIATE_ACK (draft §5): the peer acknowledges what it has at once (e.g. before an idle period).</summary>
    public void RequestImmediateAck()
    {
        lock (_lock)
        {
            ThrowIfClosedLocked();
            _core.RequestImmediateAck();
            AfterChangeLocked(QuicClock.NowMicros);
        }
    }

    /// <summary>ACK frames this end sent (every packet number space).</summary>
    public long AckFramesSent { get { lock (_lock) return _core.AckFramesSent; } }

    /// <summary>Ack-eliciting packets this end received and processed (every packet number space).</summary>
    public long AckElicitingPacketsReceived { get { lock (_lock) return _core.AckElicitingPacketsReceived; } }

    /// <summary>Key generation of the 1-RTT write keys (0 before any key update).</summary>
    public ulong KeyUpdateGeneration
    {
        get { lock (_lock) return _core.KeyUpdateGeneration; }
    }

    public async ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            if (_core.Phase is ConnectionPhase.Handshaking or ConnectionPhase.Established)
            {
                _core.Close(0, "", QuicClock.NowMicros);
                AfterChangeLocked(QuicClock.NowMicros);
            }
        }
        // Give the close a moment to leave and the peer a chance to hear it; the timers finish the job.
        await Task.WhenAny(_closed.Task, Task.Delay(_ownsEndpoint ? 50 : 0)).ConfigureAwait(false);
        if (_ownsEndpoint) _endpoint.Dispose();
        else if (!_closed.Task.IsCompleted) _ = _closed.Task.ContinueWith(_ => _endpoint.Remove(this), TaskScheduler.Default);
        lock (_lock) if (_core.Phase == ConnectionPhase.Closed) _core.Dispose();
        // qlog: with our own endpoint gone nothing drives the core any more, so end its trace; otherwise flush what we have.
        lock (_lock) _core.FlushTrace(complete: _ownsEndpoint);
    }

    // ---- driven by the endpoint ----

    void IEndpointConnection.OnDatagrams(ReadOnlySpan<Memory<byte>> datagrams, ReadOnlySpan<SocketAddress> sources, ReadOnlySpan<byte> ecn, long now)
    {
        lock (_lock)
        {
            _collectingReadWakes = true;
            try
            {
                for (int i = 0; i < datagrams.Length; i++) _core.OnDatagram(datagrams[i], sources[i], now, ecn[i]);
                AfterChangeLocked(now);
            }
            finally { _collectingReadWakes = false; }
        }
        // Outside the lock: the readers that asked to run on this thread (QuicStream.CompletesReadsOnReceiveThread) run
        // now, one after the other, until each waits again.
        if (_deferredReadWakes.Count == 0) return;
        foreach (var waiter in _deferredReadWakes) waiter.TrySetResult();
        _deferredReadWakes.Clear();
    }

    // Read waiters woken while this connection processed received datagrams, completed once its lock is released.
    // Only the receive thread touches the list, and only inside OnDatagrams (the flag is set under the lock there).
    private readonly List<TaskCompletionSource> _deferredReadWakes = [];
    private bool _collectingReadWakes;

    /// <summary>Takes an inline read waiter to complete after the lock is released, when the wake happens while
    /// received datagrams are processed (on the receive thread, under the lock); false otherwise.</summary>
    internal bool DeferReadWake(TaskCompletionSource waiter)
    {
        if (!_collectingReadWakes || !Monitor.IsEntered(_lock)) return false;
        _deferredReadWakes.Add(waiter);
        return true;
    }

    long IEndpointConnection.NextTimeout => Volatile.Read(ref _nextTimeout);
    bool IEndpointConnection.IsHandshakeComplete => _handshake.Task.IsCompletedSuccessfully;

    void IEndpointConnection.OnTimeout(long now)
    {
        lock (_lock)
        {
            _core.OnTimeout(now);
            AfterChangeLocked(now);
        }
    }

    void IConnectionIdListener.OnIssued(in ConnectionId id) => _endpoint.Register(id, this);
    void IConnectionIdListener.OnRetired(in ConnectionId id) => _endpoint.Unregister(id);

    // ---- used by QuicStream ----

    internal object Lock => _lock;

    /// <summary>After any change: send what became sendable, then wake whoever waits for what happened.</summary>
    internal void AfterChangeLocked(long now) => AfterChangeLocked(now, sendPass: true);

    /// <summary>What follows a change: sending what became sendable (skipped with <paramref name="sendPass"/> false, for a
    /// change known to make nothing sendable, such as a silent shadow write), events, the fast path's room, the timer.</summary>
    internal void AfterChangeLocked(long now, bool sendPass)
    {
        if (sendPass) SendPendingLocked(now);
        DispatchEventsLocked();
        if (_fastPathRoomObserver is { } observer) ReportFastPathRoomLocked(observer);
        if (_registrationWanted is { } wanted)
        {
            var held = _core.HeldAckRanges;
            var sentForNumbering = _core.PacketsSentForNumbering;
            if (held > _heldAckRangesSeen || sentForNumbering != _sentForNumberingSeen) wanted();
            _heldAckRangesSeen = held;
            _sentForNumberingSeen = sentForNumbering;
        }
        long timeout = _core.NextTimeout;
        // A full fence before the endpoint reads how long its loop sleeps (see QuicEndpoint.RunLoop).
        Interlocked.Exchange(ref _nextTimeout, timeout);
        _endpoint.TimerArmed(timeout);
    }

    /// <summary>
    /// Builds every datagram the core has to send end to end in the send buffer and hands each burst to the endpoint in
    /// one system call (a GSO super-packet per run of equal sizes when allowed): per packet, one sendto was most of the
    /// relay's CPU per byte. A burst ends when the buffer could not take another full-sized datagram (so packets are never
    /// built smaller than the path allows), at <see cref="QuicEndpoint.MaxSendBatch"/> datagrams, or when the peer's
    /// address changes (RFC 9000 §9: the core follows a migrating peer).
    /// </summary>
    private void SendPendingLocked(long now)
    {
        int used = 0, count = 0;
        SocketAddress? batchTo = null;
        byte batchEcn = 0;
        while (true)
        {
            if (count == _sendLengths.Length || _sendBuffer.Length - used < _core.PathMtu)
            {
                FlushSendBatch(used, count, batchTo!, batchEcn);
                used = count = 0;
            }
            int length = _core.WriteDatagram(_sendBuffer.AsSpan(used), now);
            if (length == 0) break;
            // Until it heard from the peer, the address we dialled.
            var to = _core.PeerAddress ?? _remoteAddress;
            // A burst has one ECN codepoint (it changes when ECN testing ends or validation fails) and one address.
            byte ecn = _core.EcnCodepointToSend;
            if (count > 0 && (ecn != batchEcn || !ReferenceEquals(to, batchTo) && !to.Equals(batchTo)))
            {
                // Sent before this datagram, which moves to the front of the buffer as the next burst's first.
                FlushSendBatch(used, count, batchTo!, batchEcn);
                _sendBuffer.AsSpan(used, length).CopyTo(_sendBuffer);
                used = count = 0;
            }
            batchTo = to;
            batchEcn = ecn;
            _sendLengths[count++] = length;
            used += length;
        }
        if (count > 0) FlushSendBatch(used, count, batchTo!, batchEcn);
    }

    private void FlushSendBatch(int used, int count, SocketAddress to, byte ecn)
    {
        if (count == 0) return;
        // Numbered at egress (the kernel fast path's clear text): kept for a send coalescing scope open on this thread, if
        // any, to leave with other connections' datagrams in one call (SendCoalescing says why only these).
        if (_core.IsExternallyNumbered && !_core.IsNumberedBeforeSealing
            && SendCoalescing.TryKeep(_endpoint, _sendBuffer.AsSpan(0, used), _sendLengths.AsSpan(0, count), to, ecn))
            return;
        _endpoint.SendBatch(_sendBuffer.AsSpan(0, used), _sendLengths.AsSpan(0, count), to, AllowSegmentationOffload, ecn);
    }

    internal void ThrowIfClosedLocked()
    {
        if (_core.Phase is ConnectionPhase.Closing or ConnectionPhase.Draining or ConnectionPhase.Closed || _disposed) throw ClosedException();
    }

    internal QuicException ClosedException()
    {
        var info = _core.CloseInfo;
        if (info is null) return new QuicException(QuicErrorKind.OperationAborted, "the connection was disposed");
        if (info.Value.IdleTimeout) return new QuicException(QuicErrorKind.ConnectionIdle, "the connection timed out (idle)");
        if (info.Value.IsApplicationError) return new QuicException(QuicErrorKind.ConnectionAborted, $"connection closed: {info}", (long)info.Value.ErrorCode);
        if (!_core.IsHandshakeComplete)
            return new QuicException(QuicErrorKind.HandshakeFailed, $"handshake failed: {info}", transportError: info.Value.ErrorCode)
            {
                ServerVersions = info.Value.ServerVersions,
            };
        return new QuicException(info.Value.ErrorCode == 0 ? QuicErrorKind.ConnectionAborted : QuicErrorKind.TransportError, $"connection closed: {info}",
            transportError: info.Value.ErrorCode);
    }

    private void DispatchEventsLocked()
    {
        bool closing = false, closed = false;
        while (_core.TryDequeueEvent(out var kind))
        {
            switch (kind)
            {
                case ConnectionEventKind.HandshakeCompleted:
                    _handshake.TrySetResult();
                    _onHandshakeCompleted?.Invoke(this);
                    break;
                case ConnectionEventKind.Closing:
                    closing = true;
                    break;
                case ConnectionEventKind.DatagramReceived:
                    while (_core.TryDequeueReceivedDatagram(out var datagram)) _datagrams.Writer.TryWrite(datagram);
                    break;
                case ConnectionEventKind.Closed:
                    closed = true;
                    break;
            }
        }
        // Streams first: a packet can carry a new stream's data and then the peer's CONNECTION_CLOSE. That stream must
        // still be accepted (and its data read) before the close fails what is left.
        DispatchStreamEventsLocked();
        if (closing || closed) FailEverythingLocked();
        if (closed)
        {
            _closed.TrySetResult();
            _onClosed?.Invoke(this);
            if (!_ownsEndpoint) _endpoint.Remove(this);
        }
    }

    private void DispatchStreamEventsLocked()
    {
        while (_core.Streams.TryDequeueEvent(out var e))
        {
            if (e.Kind == StreamEventKind.PeerOpened)
            {
                var type = StreamId.IsUnidirectional(e.StreamId) ? QuicStreamType.Unidirectional : QuicStreamType.Bidirectional;
                var stream = new QuicStream(this, e.StreamId, type, canRead: true, canWrite: type == QuicStreamType.Bidirectional);
                _streams[e.StreamId] = stream;
                _inbound.Writer.TryWrite(stream);
                continue;
            }
            if (e.Kind == StreamEventKind.LocalOpenAvailable)
            {
                foreach (var w in _openWaiters) w.TrySetResult();
                _openWaiters.Clear();
                continue;
            }
            if (_streams.TryGetValue(e.StreamId, out var target)) target.OnEventLocked(e);
        }
    }

    private void FailEverythingLocked()
    {
        _closing.TrySetResult();
        var error = ClosedException();
        _handshake.TrySetException(error);
        _inbound.Writer.TryComplete();
        _datagrams.Writer.TryComplete();
        foreach (var w in _openWaiters) w.TrySetException(error);
        _openWaiters.Clear();
        foreach (var stream in _streams.Values) stream.OnConnectionClosedLocked(error);
    }

    internal void ForgetStreamLocked(ulong id) => _streams.Remove(id);

    internal void CompleteTrace()
    {
        lock (_lock) _core.FlushTrace(complete: true);
    }
}
