using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Api;

/// <summary>Settings both ends share (transport limits, idle timeout, logging). Shaped like System.Net.Quic's options.</summary>
public abstract class QuicConnectionOptions
{
    /// <summary>ALPN protocols offered (client) or accepted (server), most preferred first. Required.</summary>
    public List<string> ApplicationProtocols { get; set; } = [];
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);
    public int MaxInboundBidirectionalStreams { get; set; } = 100;
    public int MaxInboundUnidirectionalStreams { get; set; } = 10;
    /// <summary>Initial receive window per stream; grows with use (auto-tuning) up to <see cref="MaxStreamReceiveWindow"/>.</summary>
    public int InitialStreamReceiveWindow { get; set; } = 1 << 20;
    public int MaxStreamReceiveWindow { get; set; } = 16 << 20;
    public int InitialConnectionReceiveWindow { get; set; } = 4 << 20;
    public int MaxConnectionReceiveWindow { get; set; } = 64 << 20;
    /// <summary>Advertise transport parameter 0xBAAD: 1-RTT packets without AEAD and header protection, used only when the peer advertises it too.</summary>
    public bool Disable1RttEncryption { get; set; }
    /// <summary>
    /// Kernel fast path, publisher side: every unidirectional stream this end opens sends its new data in the fast-path
    /// layout (as <see cref="QuicStream.UseFastPathLayout"/> does for one stream). Effective only with
    /// <see cref="Disable1RttEncryption"/> negotiated by both ends. Such packets fill the datagram size the path and the
    /// peer allow; a relay that seals their copies for encrypted subscribers asks for datagrams short enough for the tag
    /// (<see cref="MaxReceiveUdpPayloadSize"/>).
    /// </summary>
    public bool FastPathUnidirectionalStreams { get; set; }
    /// <summary>Advertise max_datagram_frame_size (RFC 9221); null disables DATAGRAM frames.</summary>
    public int? MaxDatagramFrameSize { get; set; }
    /// <summary>The congestion controller (NewReno by default, or CUBIC); <see cref="QuicConnection.CongestionWindow"/> reads it.</summary>
    public Recovery.CongestionControlAlgorithm CongestionControl { get; set; } = Recovery.CongestionControlAlgorithm.NewReno;
    /// <summary>Directory for qlog output (one file per connection); null disables qlog.</summary>
    public string? QlogDirectory { get; set; }
    public ILoggerFactory? LoggerFactory { get; set; }
    /// <summary>Path MTU discovery: the largest UDP payload to probe for (also bounded by the peer's max_udp_payload_size). 0 (default): off, datagrams stay ≤ 1452 bytes.</summary>
    public int MaxPathMtuProbeSize { get; set; }
    /// <summary>
    /// How long a finished path MTU search waits before probing again above the size it settled on (RFC 8899 §5.1.1
    /// PMTU_RAISE_TIMER, 600 s by default). A search on a congested path can settle low (probes lost to congestion
    /// count as too big); a shorter interval finds the real size sooner at the cost of more probes.
    /// </summary>
    public TimeSpan PathMtuRaiseInterval { get; set; } = Recovery.PathMtuDiscovery.DefaultRaiseInterval;
    /// <summary>
    /// The max_udp_payload_size this end advertises (RFC 9000 §18.2: the largest UDP payload the peer may send it, at
    /// least 1200); null: 65527, whatever the receive path takes. A relay whose kernel seals copies of the packets it
    /// receives asks for datagrams short enough that each copy can grow by the AEAD tag within the path MTU.
    /// </summary>
    public int? MaxReceiveUdpPayloadSize { get; set; }
    /// <summary>
    /// Send runs of equal-sized packets as UDP GSO super-packets where the kernel supports it (one system call and one
    /// trip through the stack per run). On by default; off for connections whose packets the kernel fast path rewrites
    /// one by one. <see cref="QuicConnection.AllowSegmentationOffload"/> changes it on a live connection.
    /// </summary>
    public bool AllowSegmentationOffload { get; set; } = true;
    /// <summary>
    /// ECN (RFC 9000 §13.4): mark packets ECT(0), validate the peer's ACK_ECN counts (marking stops on this connection if
    /// they show the marks were lost or mangled) and take ECN-CE as congestion. On by default; needs Linux's native
    /// socket calls (elsewhere nothing is marked). Received codepoints are reported in ACKs either way.
    /// </summary>
    public bool EnableEcn { get; set; } = true;
    /// <summary>
    /// Advertise min_ack_delay (the QUIC ACK frequency extension, draft-ietf-quic-ack-frequency): the peer may then ask
    /// this end to acknowledge less often (ACK_FREQUENCY) or at once (IMMEDIATE_ACK). It changes nothing until the peer
    /// asks. On by default. <see cref="QuicConnection.RequestAckFrequency"/> is the other direction: it needs the
    /// peer's advertisement, not this one.
    /// </summary>
    public bool EnableAckFrequency { get; set; } = true;
}

public sealed class QuicClientConnectionOptions : QuicConnectionOptions
{
    /// <summary>
    /// The QUIC versions this client will use, most preferred first (sent as version_information, RFC 9368). A server that
    /// prefers one of them and can switch to it compatibly does so within the handshake (v1 and v2, RFC 9369). Default:
    /// v1 only. E.g. <c>[QuicVersion.V2, QuicVersion.V1]</c> asks for v2 while the first flight stays in v1.
    /// </summary>
    public List<uint> QuicVersions { get; set; } = [Wire.QuicVersion.V1];
    /// <summary>
    /// The version of the first flight; null: v1 when listed (every server parses it, and it converts to v2), else the
    /// first of <see cref="QuicVersions"/>. A server that does not speak it answers with Version Negotiation; the client
    /// then tries once more in the most preferred of <see cref="QuicVersions"/> that the server listed (RFC 9000 §6.2,
    /// with RFC 9368's downgrade check), and fails if there is none.
    /// </summary>
    public uint? InitialQuicVersion { get; set; }
    public required EndPoint RemoteEndPoint { get; set; }
    public IPEndPoint? LocalEndPoint { get; set; }
    /// <summary>Server name for SNI and certificate validation; defaults to the remote host.</summary>
    public string? TargetHost { get; set; }
    /// <summary>Extra trust anchors (e.g. a test CA or a self-signed server certificate).</summary>
    public X509Certificate2Collection? TrustedCertificates { get; set; }
    /// <summary>Explicit opt-out of certificate validation (tests, --insecure).</summary>
    public bool SkipCertificateValidation { get; set; }
    /// <summary>Session tickets: one is taken (single use) to resume with this server, new ones are added. Null: no resumption.</summary>
    public Tls.Resumption.SessionTicketCache? SessionTickets { get; set; }
    /// <summary>
    /// Send 0-RTT when the ticket allows it: <see cref="QuicConnection.ConnectAsync"/> then returns before the handshake
    /// completes, so streams opened at once go out in the first flight (<see cref="QuicConnection.EarlyDataState"/> tells
    /// what the server did with them; refused early data is resent in 1-RTT). Early data can be replayed by an attacker:
    /// send only what is safe to repeat.
    /// </summary>
    public bool EnableEarlyData { get; set; }
    /// <summary>
    /// UDP GRO on this connection's socket (see <see cref="QuicListenerOptions.ReceiveCoalescing"/>). On by default; off
    /// when a TC fast path must see what this connection receives one packet at a time (an edge relay's upstream).
    /// </summary>
    public bool ReceiveCoalescing { get; set; } = true;
}

public sealed class QuicServerConnectionOptions : QuicConnectionOptions
{
    /// <summary>
    /// The QUIC versions the listener speaks (RFC 9368): a client Initial in one of them is accepted, any other version is
    /// answered with Version Negotiation listing these. When a client offers several, the connection switches to the
    /// first of the client's that is here (its preference). Default: v1 and v2.
    /// </summary>
    public List<uint> QuicVersions { get; set; } = [Wire.QuicVersion.V1, Wire.QuicVersion.V2];
    /// <summary>Certificate with private key (ECDSA P-256/P-384 or RSA).</summary>
    public required X509Certificate2 ServerCertificate { get; set; }
    /// <summary>Issue session tickets (stateless, under a key per listener) so clients can resume. On by default.</summary>
    public bool EnableSessionTickets { get; set; } = true;
    /// <summary>Accept 0-RTT from resuming clients (single use per ticket within an hour of issue; see EarlyDataReplayGuard). Off by default: early data is replayable.</summary>
    public bool EnableEarlyData { get; set; }
}

public sealed class QuicListenerOptions
{
    public required IPEndPoint ListenEndPoint { get; set; }
    public List<string> ApplicationProtocols { get; set; } = [];
    public required QuicServerConnectionOptions ConnectionOptions { get; set; }
    /// <summary>Send Retry before accepting a connection (address validation, RFC 9000 §8.1.2).</summary>
    public bool RequireAddressValidation { get; set; }
    public int ListenBacklog { get; set; } = 512;
    /// <summary>
    /// Ask the kernel for UDP GRO: same-flow datagrams arrive coalesced and are split by the endpoint (fewer reads and
    /// trips through the stack). On by default. Turn it off when a TC fast path must see the datagrams this socket
    /// receives one by one: with GRO on, a NIC's GRO layer may merge them before TC ingress runs.
    /// </summary>
    public bool ReceiveCoalescing { get; set; } = true;
}
