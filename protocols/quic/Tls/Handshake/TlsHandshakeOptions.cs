using System.Security.Cryptography.X509Certificates;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Tls.Handshake;

/// <summary>Configuration of one TLS 1.3 handshake for QUIC (client or server).</summary>
public sealed class TlsHandshakeOptions
{
    /// <summary>ALPN, required on both sides (RFC 9001 §8.1). Client: offered in this order; server: preference order.</summary>
    public required IReadOnlyList<string> ApplicationProtocols { get; init; }

    /// <summary>Sent in quic_transport_parameters (0x39).</summary>
    public required TransportParameters LocalTransportParameters { get; init; }

    /// <summary>Client: SNI (omitted for IP literals, RFC 6066 §3) and the name the certificate must match.</summary>
    public string? ServerName { get; init; }

    /// <summary>Server: the certificate with its private key (ECDSA P-256/P-384 or RSA).</summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>Client: extra trust anchors (chain built with CustomRootTrust over these first, then the system roots).</summary>
    public X509Certificate2Collection? TrustedCertificates { get; init; }

    /// <summary>Client: explicit opt-out of chain and name checks. The CertificateVerify signature is still checked.</summary>
    public bool SkipCertificateValidation { get; init; }

    /// <summary>Default: AES-128-GCM, AES-256-GCM, then ChaCha20-Poly1305 when the platform supports it.</summary>
    public IReadOnlyList<CipherSuite>? CipherSuites { get; init; }

    /// <summary>Key exchange groups in preference order; the client sends a key_share for the first one only.</summary>
    public IReadOnlyList<NamedGroup>? Groups { get; init; }

    /// <summary>Client: a ticket from an earlier connection to this server, offered as a PSK (psk_dhe_ke). Null: full handshake.</summary>
    public Resumption.SessionTicket? ResumptionTicket { get; init; }

    /// <summary>Client: send early data (0-RTT) when the ticket allows it. Server: accept early data (subject to anti-replay).</summary>
    public bool EnableEarlyData { get; init; }

    /// <summary>Client: called with each NewSessionTicket the server sends (after the handshake).</summary>
    public Action<Resumption.SessionTicket>? TicketReceived { get; init; }

    /// <summary>Server: seals and opens session tickets (and guards 0-RTT against replay). Null: no tickets, no resumption.</summary>
    public Resumption.SessionTicketProtector? TicketProtector { get; init; }

    /// <summary>Wall clock for ticket ages and lifetimes (tests move it).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    internal static readonly CipherSuite[] DefaultSuites =
        new[] { CipherSuite.Aes128GcmSha256, CipherSuite.Aes256GcmSha384, CipherSuite.ChaCha20Poly1305Sha256 }
            .Where(s => s.IsSupported()).ToArray();

    internal CipherSuite[] EffectiveSuites()
    {
        var suites = (CipherSuites ?? DefaultSuites).Where(s => s.IsSupported()).Distinct().ToArray();
        if (suites.Length == 0) throw new ArgumentException("no supported cipher suite configured", nameof(CipherSuites));
        return suites;
    }

    internal NamedGroup[] EffectiveGroups()
    {
        var groups = (Groups ?? KeyExchange.DefaultGroups).Distinct().ToArray();
        if (groups.Length == 0) throw new ArgumentException("no key exchange group configured", nameof(Groups));
        foreach (var g in groups)
            if (!KeyExchange.IsSupported(g)) throw new ArgumentException($"group {g} is not supported", nameof(Groups));
        return groups;
    }
}
