using System.Security.Cryptography.X509Certificates;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Wire;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Connection;

/// <summary>
/// Everything a <see cref="QuicConnectionCore"/> needs to start, for either role. The public options (Api/) are
/// translated into this once; the core never reads the public options again.
/// </summary>
public sealed class ConnectionSettings
{
    public required QuicPerspective Perspective { get; init; }
    public required IReadOnlyList<string> ApplicationProtocols { get; init; }

    // TLS
    public string? ServerName { get; init; }
    public X509Certificate2? Certificate { get; init; }
    public X509Certificate2Collection? TrustedCertificates { get; init; }
    public bool SkipCertificateValidation { get; init; }
    public IReadOnlyList<CipherSuite>? CipherSuites { get; init; }

    // Resumption and 0-RTT (Tls/Resumption).
    /// <summary>Client: the ticket to resume with (taken from a cache; single use).</summary>
    public Tls.Resumption.SessionTicket? ResumptionTicket { get; init; }
    /// <summary>Client: send 0-RTT when the ticket allows. Server: accept 0-RTT (anti-replay permitting).</summary>
    public bool EnableEarlyData { get; init; }
    /// <summary>Client: where new tickets go.</summary>
    public Action<Tls.Resumption.SessionTicket>? TicketReceived { get; init; }
    /// <summary>Server: ticket key and anti-replay state, one per listener; null issues no tickets.</summary>
    public Tls.Resumption.SessionTicketProtector? TicketProtector { get; init; }

    // QUIC versions (RFC 9368 compatible version negotiation; v2 is RFC 9369).
    /// <summary>
    /// Client: the versions it will use, most preferred first (its version_information's Available Versions); a server
    /// that supports a compatible one it prefers may switch the connection to it. Server: the versions it accepts and
    /// switches to; among them it follows the client's preference.
    /// </summary>
    public IReadOnlyList<uint> Versions { get; init; } = [QuicVersion.V1];
    /// <summary>Client: the version of its first flight (RFC 9368's original version); one of <see cref="Versions"/>.</summary>
    public uint InitialVersion { get; init; } = QuicVersion.V1;
    /// <summary>Client, second attempt after Version Negotiation: the version the first attempt used, which the server
    /// said it does not speak. Its version_information must then not list it (RFC 9368 §4: else the VN was forged).</summary>
    public uint? AbandonedVersion { get; init; }

    /// <summary>
    /// Mark our packets ECT(0) and validate the peer's ECN counts (RFC 9000 §13.4.2); only when the owner's socket can mark
    /// and read codepoints. Received codepoints are counted and reported either way.
    /// </summary>
    public bool EnableEcn { get; init; }

    // Transport limits we advertise.
    public ulong MaxIdleTimeoutMs { get; init; } = 30_000;

    /// <summary>
    /// Server: a connection whose client has sent no Handshake packet this long after it was created is dropped
    /// silently, so half-open state (a client that vanished, or one that only ever sends Initials) ages out well before
    /// the idle timeout. A client that has sent a Handshake packet proved its address and keys, one whose 1-RTT packet
    /// opened proved its keys: only the idle timeout applies to it.
    /// </summary>
    public ulong ServerHandshakeTimeoutMs { get; init; } = 10_000;
    public ulong InitialMaxData { get; init; } = 4 << 20;
    public ulong InitialMaxStreamData { get; init; } = 1 << 20;
    public ulong MaxStreamReceiveWindow { get; init; } = 16 << 20;
    public ulong MaxConnectionReceiveWindow { get; init; } = 64 << 20;
    public ulong MaxStreamsBidi { get; init; } = 100;
    public ulong MaxStreamsUni { get; init; } = 10;
    public int SendBufferCapacity { get; init; } = 1 << 20;
    public bool Disable1RttEncryption { get; init; }
    /// <summary>Unidirectional streams we open use the kernel fast-path layout (effective with 0xBAAD on both ends).</summary>
    public bool FastPathUnidirectionalStreams { get; init; }
    public ulong? MaxDatagramFrameSize { get; init; }
    public Recovery.CongestionControlAlgorithm CongestionControl { get; init; } = Recovery.CongestionControlAlgorithm.NewReno;
    /// <summary>Advertise min_ack_delay (draft-ietf-quic-ack-frequency §3): the peer may then ask us for fewer ACKs.</summary>
    public bool EnableAckFrequency { get; init; } = true;

    /// <summary>Largest UDP payload we send once the peer allows it (no PMTU discovery yet; 1452 fits Ethernet over IPv6).</summary>
    public int MaxDatagramSize { get; init; } = 1452;

    /// <summary>
    /// Path MTU discovery (DPLPMTUD): the largest UDP payload to probe for (e.g. the interface MTU minus 28/48 bytes of
    /// IP/UDP headers); probes never exceed the peer's max_udp_payload_size either. 0: no discovery, MaxDatagramSize stays.
    /// </summary>
    public int MaxPathMtuProbeSize { get; init; }

    /// <summary>Wait before a finished path MTU search probes again (RFC 8899 PMTU_RAISE_TIMER).</summary>
    public TimeSpan PathMtuRaiseInterval { get; init; } = Recovery.PathMtuDiscovery.DefaultRaiseInterval;

    /// <summary>max_udp_payload_size we advertise (what our receive path takes; the endpoint reads up to 64 KiB).</summary>
    public ulong AdvertisedMaxUdpPayloadSize { get; init; } = TransportParameters.DefaultMaxUdpPayloadSize;

    /// <summary>Length of the connection ids this endpoint issues (short headers carry no length, so it is fixed per endpoint).</summary>
    public int LocalConnectionIdLength { get; init; } = 8;

    /// <summary>Key the endpoint derives stateless reset tokens from (shared by all its connections).</summary>
    public required StatelessResetKey ResetKey { get; init; }

    public ILogger? Logger { get; init; }

    /// <summary>Makes the connection's tracer from (perspective, original destination connection id); null: no tracing (qlog).</summary>
    public Func<QuicPerspective, ConnectionId, Qlog.IConnectionTracer>? TracerFactory { get; init; }
}

/// <summary>
/// What the server endpoint learned from the client's first Initial before creating the connection; <c>Version</c> is
/// that Initial's (the original version, which the connection may then change by compatible negotiation).
/// </summary>
public readonly record struct ServerHandshakeContext(
    ConnectionId OriginalDestinationConnectionId,
    ConnectionId ClientInitialDestinationConnectionId,
    ConnectionId ClientSourceConnectionId,
    ConnectionId LocalConnectionId,
    ConnectionId? RetrySourceConnectionId,
    bool AddressValidated,
    uint Version = QuicVersion.V1);
