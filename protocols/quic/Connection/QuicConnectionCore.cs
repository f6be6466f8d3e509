using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Streams;
using FastRelay.Protocols.Quic.Tls.Handshake;
using FastRelay.Protocols.Quic.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastRelay.Protocols.Quic.Connection;

public enum ConnectionPhase
{
    Handshaking,
    Established,
    /// <summary>We sent CONNECTION_CLOSE and answer further packets with it for 3 PTO (RFC 9000 §10.2.1).</summary>
    Closing,
    /// <summary>The peer closed (or reset); we stay silent for 3 PTO (§10.2.2).</summary>
    Draining,
    Closed,
    /// <summary>A DATAGRAM arrived: <see cref="QuicConnectionCore.TryDequeueReceivedDatagram"/> has it.</summary>
    DatagramReceived,
}

/// <summary>Why a connection ended, as the wire said it (or as we decided it).</summary>
/// <param name="ServerVersions">With <paramref name="VersionMismatch"/>: the versions the server's Version Negotiation
/// packet listed (a client may try again in one of them).</param>
public readonly record struct ConnectionCloseInfo(ulong ErrorCode, bool IsApplicationError, string Reason, bool ByPeer,
    bool IdleTimeout = false, bool StatelessReset = false, bool VersionMismatch = false, IReadOnlyList<uint>? ServerVersions = null)
{
    public override string ToString() =>
        IdleTimeout ? "idle timeout" : StatelessReset ? "stateless reset" : VersionMismatch ? "no common QUIC version"
        : $"{(ByPeer ? "peer" : "local")} {(IsApplicationError ? "application" : "transport")} error 0x{ErrorCode:x}{(Reason.Length > 0 ? ": " + Reason : "")}";
}

/// <summary>
/// One QUIC connection as a state machine without I/O (the shape of ngtcp2 and quiche): datagrams go in through
/// <see cref="OnDatagram"/>, datagrams come out of <see cref="WriteDatagram"/>, time moves through
/// <see cref="OnTimeout"/>. Time is microseconds from any monotonic origin. Not thread-safe: the owner serialises calls.
/// <para>Split by concern into partial files: Receive (packets in), Frames (what each frame does), Send (packets out),
/// Lifecycle (handshake progress, keys, timers, close).</para>
/// </summary>
public sealed partial class QuicConnectionCore : ITlsHandshakeSink, ILossDetectionSink, IDisposable
{
    /// <summary>Our ack_delay_exponent and max_ack_delay (defaults of RFC 9000 §18.2).</summary>
    private const int LocalAckDelayExponent = 3;
    private const long LocalMaxAckDelay = 25_000;
    /// <summary>How many of our ids the peer may hold at once (we issue up to this, bounded by its limit).</summary>
    private const int LocalActiveConnectionIdLimit = 4;
    /// <summary>Datagrams carrying Initial packets are padded to this (RFC 9000 §14.1).</summary>
    public const int MinimumInitialDatagramSize = 1200;

    private readonly ConnectionSettings _settings;
    private readonly bool _isClient;
    private readonly ILogger _log;
    private readonly PacketSpace[] _spaces = [new(PacketNumberSpace.Initial), new(PacketNumberSpace.Handshake), new(PacketNumberSpace.ApplicationData)];
    private readonly TlsHandshake _tls;
    private readonly RttEstimator _rtt = new();
    private readonly ICongestionController _cc;
    private readonly LossDetection _loss;
    private readonly ConnectionIdManager _cids;
    private readonly TransportParameters _localParameters;
    private readonly Queue<ConnectionEventKind> _events = new();

    private TransportParameters? _peerParameters;
    private bool _handshakeComplete;
    private bool _handshakeConfirmed;
    private bool _handshakeDonePending;
    private bool _plaintextOneRtt;

    // Client: what Retry and the server's first packet change (RFC 9000 §7.3, §17.2.5).
    private readonly ConnectionId _originalDestination;
    private ConnectionId? _retrySource;
    private ConnectionId? _peerInitialSource;
    private byte[] _token = [];
    private bool _receivedFromPeer;

    // Server: anti-amplification until the client's address is validated (§8.1).
    private bool _addressValidated;
    private long _bytesReceived;
    private long _bytesSent;

    private long _idleTimeout;
    /// <summary>Server: when an unfinished handshake is given up (half-open state must age, see ConnectionSettings).</summary>
    private long _handshakeDeadline;
    private long _lastActivity;
    private bool _ackElicitingSentSinceReceive;
    private long _closeDeadline = long.MaxValue;
    private bool _closeFramePending;
    private ulong? _pathResponsePending;
    private bool _pingPending;

    private QuicConnectionCore(ConnectionSettings settings, ConnectionId localId, ConnectionId peerId, ConnectionId originalDestination,
        IConnectionIdListener listener, long now, uint version)
    {
        _settings = settings;
        if (!QuicVersion.IsSupported(version)) throw new ArgumentOutOfRangeException(nameof(version), $"QUIC version 0x{version:x8} is not supported");
        _version = _originalVersion = version;
        _isClient = settings.Perspective == QuicPerspective.Client;
        _log = settings.Logger ?? NullLogger.Instance;
        _cc = CongestionControllers.Create(settings.CongestionControl, settings.MaxDatagramSize, _rtt);
        _loss = new LossDetection(_rtt, _cc, !_isClient);
        _originalDestination = originalDestination;
        _cids = new ConnectionIdManager(localId, peerId, settings.ResetKey, settings.LocalConnectionIdLength, listener);
        _idleTimeout = (long)settings.MaxIdleTimeoutMs * 1000;
        _lastActivity = now;
        _handshakeDeadline = _isClient || settings.ServerHandshakeTimeoutMs == 0 ? long.MaxValue : now + (long)settings.ServerHandshakeTimeoutMs * 1000;
        var streamSettings = new StreamTableSettings
        {
            IsClient = _isClient,
            LocalMaxStreamsBidi = settings.MaxStreamsBidi,
            LocalMaxStreamsUni = settings.MaxStreamsUni,
            LocalInitialMaxData = settings.InitialMaxData,
            LocalMaxStreamDataBidiLocal = settings.InitialMaxStreamData,
            LocalMaxStreamDataBidiRemote = settings.InitialMaxStreamData,
            LocalMaxStreamDataUni = settings.InitialMaxStreamData,
            MaxReceiveWindow = settings.MaxStreamReceiveWindow,
            MaxConnectionReceiveWindow = settings.MaxConnectionReceiveWindow,
            SendBufferCapacity = settings.SendBufferCapacity,
            FastPathUnidirectionalStreams = settings.FastPathUnidirectionalStreams,
        };
        Streams = new StreamTable(streamSettings);
        _localParameters = new TransportParameters
        {
            InitialSourceConnectionId = localId,
            MaxIdleTimeout = settings.MaxIdleTimeoutMs,
            ActiveConnectionIdLimit = LocalActiveConnectionIdLimit,
            // No path migration yet: the peer must keep its address (RFC 9000 §9).
            DisableActiveMigration = true,
            Disable1RttEncryption = settings.Disable1RttEncryption,
            MaxDatagramFrameSize = settings.MaxDatagramFrameSize,
            MaxUdpPayloadSize = settings.AdvertisedMaxUdpPayloadSize,
            // RFC 9369 §4: an endpoint that speaks v2 must send version_information; we always do (a server's chosen
            // version is rewritten once it has negotiated).
            VersionInformation = new VersionInformation(version, [.. settings.Versions]),
            SendDraftVersionInformation = settings.Versions.Contains(QuicVersion.V2Draft),
            // draft-ietf-quic-ack-frequency §3: we accept ACK_FREQUENCY and IMMEDIATE_ACK.
            MinAckDelay = settings.EnableAckFrequency ? LocalMinAckDelay : null,
        };
        _pmtu = new PathMtuDiscovery(settings.MaxDatagramSize, settings.MaxPathMtuProbeSize, settings.PathMtuRaiseInterval);
        _ecnValidation = CreateEcnValidation();
        // The flow-control and stream limits we advertise are the ones the stream table enforces.
        streamSettings.ApplyTo(_localParameters);
        var (clientKeys, serverKeys) = PacketKeys.CreateInitial(originalDestination.Span, version);
        _spaces[0].WriteKeys = _isClient ? clientKeys : serverKeys;
        _spaces[0].ReadKeys = _isClient ? serverKeys : clientKeys;
        var tlsOptions = new TlsHandshakeOptions
        {
            ApplicationProtocols = settings.ApplicationProtocols,
            LocalTransportParameters = _localParameters,
            ServerName = settings.ServerName,
            Certificate = settings.Certificate,
            TrustedCertificates = settings.TrustedCertificates,
            SkipCertificateValidation = settings.SkipCertificateValidation,
            CipherSuites = settings.CipherSuites,
            ResumptionTicket = settings.ResumptionTicket,
            EnableEarlyData = settings.EnableEarlyData,
            TicketReceived = settings.TicketReceived,
            TicketProtector = settings.TicketProtector,
        };
        _tls = _isClient ? TlsHandshake.CreateClient(tlsOptions, this) : TlsHandshake.CreateServer(tlsOptions, this);
    }

    /// <summary>A client connection; call <see cref="WriteDatagram"/> to get its first Initial.</summary>
    public static QuicConnectionCore CreateClient(ConnectionSettings settings, IConnectionIdListener listener, long now)
    {
        var local = ConnectionId.Random(settings.LocalConnectionIdLength);
        // The first destination id is random and at least 8 bytes (RFC 9000 §7.2); it also seeds the Initial keys.
        var destination = ConnectionId.Random(8);
        if (!VersionNegotiation.Contains(settings.Versions, settings.InitialVersion))
            throw new ArgumentException("the initial QUIC version must be one of the client's versions", nameof(settings));
        var core = new QuicConnectionCore(settings, local, destination, destination, listener, now, settings.InitialVersion);
        core._tls.Start();
        core.TraceStart(now);
        return core;
    }

    /// <summary>A server connection for a client's first Initial (the endpoint validated size and token).</summary>
    public static QuicConnectionCore CreateServer(ConnectionSettings settings, in ServerHandshakeContext context, IConnectionIdListener listener, long now)
    {
        var core = new QuicConnectionCore(settings, context.LocalConnectionId, context.ClientSourceConnectionId,
            context.ClientInitialDestinationConnectionId, listener, now, context.Version);
        core._localParameters.OriginalDestinationConnectionId = context.OriginalDestinationConnectionId;
        core._localParameters.RetrySourceConnectionId = context.RetrySourceConnectionId;
        core._localParameters.StatelessResetToken = settings.ResetKey.TokenFor(context.LocalConnectionId);
        core._addressValidated = context.AddressValidated;
        core._peerInitialSource = context.ClientSourceConnectionId;
        core.TraceStart(now);
        return core;
    }

    public QuicPerspective Perspective => _settings.Perspective;
    public ConnectionPhase Phase { get; private set; } = ConnectionPhase.Handshaking;
    public ConnectionCloseInfo? CloseInfo { get; private set; }
    public bool IsHandshakeComplete => _handshakeComplete;
    public StreamTable Streams { get; }
    /// <summary>The ALPN; while 0-RTT is in flight, the ticket's (RFC 8446 §4.2.10: accepting 0-RTT means the same protocol).</summary>
    public string? NegotiatedApplicationProtocol =>
        _tls.NegotiatedApplicationProtocol ?? (_tls.EarlyData == Tls.Handshake.EarlyDataState.Offered ? _settings.ResumptionTicket?.ApplicationProtocol : null);
    public System.Security.Cryptography.X509Certificates.X509Certificate2? PeerCertificate => _tls.PeerCertificate;
    public TransportParameters? PeerTransportParameters => _peerParameters;
    /// <summary>Both ends advertised disable_1rtt_encryption (0xBAAD): 1-RTT packets go without AEAD and header protection.</summary>
    public bool IsOneRttPlaintext => _plaintextOneRtt;
    /// <summary>The connection id our packets carry now (the peer's): what a kernel fast path writes into forwarded copies.</summary>
    public ConnectionId DestinationConnectionId => _cids.Destination;
    /// <summary>The first connection id we issued (the one the peer addresses us with unless it switches).</summary>
    public ConnectionId InitialLocalConnectionId => _cids.InitialLocal;
    public ConnectionId OriginalDestinationConnectionId => _originalDestination;
    public RttEstimator Rtt => _rtt;
    public ICongestionController CongestionControl => _cc;
    public long PacketsDeclaredLost => _loss.PacketsDeclaredLost;
    public CongestionControlAlgorithm CongestionControlAlgorithm => _settings.CongestionControl;
    public ulong KeyUpdateGeneration => _spaces[2].WriteKeys?.Generation ?? 0;

    /// <summary>Connection-level happenings for the owner (stream happenings come from <see cref="Streams"/>).</summary>
    public bool TryDequeueEvent(out ConnectionEventKind kind) => _events.TryDequeue(out kind);

    public void Dispose()
    {
        foreach (var space in _spaces) space.Dispose();
        DisposeOriginalInitialKeys();
        DisposeOneRttKeys();
        DiscardZeroRttKeys();
        _tls.Dispose();
        EndTrace();
    }
}

public enum ConnectionEventKind
{
    HandshakeCompleted,
    /// <summary>Entered closing or draining: streams fail now; <see cref="QuicConnectionCore.CloseInfo"/> says why.</summary>
    Closing,
    Closed,
    /// <summary>A DATAGRAM arrived: <see cref="QuicConnectionCore.TryDequeueReceivedDatagram"/> has it.</summary>
    DatagramReceived,
}
