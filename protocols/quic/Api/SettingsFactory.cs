using System.Net;
using FastRelay.Protocols.Quic.Connection;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Api;

/// <summary>Translates the public options into the core's <see cref="ConnectionSettings"/> (once per connection).</summary>
internal static class SettingsFactory
{
    /// <param name="afterVersionNegotiation">A second attempt: its first-flight version and the version the first used.</param>
    public static ConnectionSettings ForClient(QuicClientConnectionOptions options, string? serverName, StatelessResetKey resetKey, ILogger log,
        string ticketKey, bool socketSupportsEcn = false, (uint Version, uint Abandoned)? afterVersionNegotiation = null)
    {
        Tls.Resumption.SessionTicket? ticket = null;
        Action<Tls.Resumption.SessionTicket>? received = null;
        if (options.SessionTickets is { } cache)
        {
            cache.TryTake(ticketKey, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), out ticket);
            // RFC 9369 §5: a ticket resumes only its own QUIC version; one of a version we no longer offer is useless.
            if (ticket is not null && !options.QuicVersions.Contains(ticket.QuicVersion))
            {
                log.LogDebug("session ticket of QUIC {Version} not used: not among the offered versions", Wire.QuicVersion.Name(ticket.QuicVersion));
                ticket = null;
            }
            received = t => cache.Add(ticketKey, t);
            if (ticket is not null) log.LogDebug("resuming with a session ticket ({Early})", ticket.AllowsEarlyData && options.EnableEarlyData ? "0-RTT" : "no 0-RTT");
        }
        return Create(options, QuicPerspective.Client, resetKey, log, serverName: serverName, client: options,
            resumption: (ticket, options.EnableEarlyData, received, null), ecn: options.EnableEcn && socketSupportsEcn,
            afterVersionNegotiation: afterVersionNegotiation);
    }

    public static ConnectionSettings ForServer(QuicServerConnectionOptions options, IReadOnlyList<string> applicationProtocols, StatelessResetKey resetKey, ILogger log,
        Tls.Resumption.SessionTicketProtector? tickets, bool socketSupportsEcn = false) =>
        Create(options, QuicPerspective.Server, resetKey, log, applicationProtocols: applicationProtocols, server: options,
            resumption: (null, options.EnableEarlyData, null, tickets), ecn: options.EnableEcn && socketSupportsEcn);

    private static List<uint> Versions(QuicClientConnectionOptions? client, QuicServerConnectionOptions? server)
    {
        var versions = (client?.QuicVersions ?? server?.QuicVersions ?? []).Distinct().ToList();
        if (versions.Count == 0) throw new ArgumentException("at least one QUIC version is required");
        foreach (uint v in versions)
            if (!Wire.QuicVersion.IsSupported(v)) throw new ArgumentException($"QUIC version 0x{v:x8} is not supported (v1, v2, v2draft are)");
        return versions;
    }

    /// <summary>The version of a client's first flight (the options' choice, or the default rule).</summary>
    internal static uint InitialVersionOf(QuicClientConnectionOptions client) => InitialVersion(client);

    private static uint InitialVersion(QuicClientConnectionOptions client)
    {
        var versions = Versions(client, null);
        if (client.InitialQuicVersion is not { } initial) return versions.Contains(Wire.QuicVersion.V1) ? Wire.QuicVersion.V1 : versions[0];
        if (!versions.Contains(initial)) throw new ArgumentException("InitialQuicVersion must be one of QuicVersions");
        return initial;
    }

    private static ConnectionSettings Create(QuicConnectionOptions options, QuicPerspective perspective, StatelessResetKey resetKey, ILogger log,
        string? serverName = null, IReadOnlyList<string>? applicationProtocols = null, QuicClientConnectionOptions? client = null,
        QuicServerConnectionOptions? server = null,
        (Tls.Resumption.SessionTicket? Ticket, bool EarlyData, Action<Tls.Resumption.SessionTicket>? Received, Tls.Resumption.SessionTicketProtector? Protector) resumption = default,
        bool ecn = false, (uint Version, uint Abandoned)? afterVersionNegotiation = null)
    {
        var protocols = applicationProtocols is { Count: > 0 } ? applicationProtocols : options.ApplicationProtocols;
        if (protocols.Count == 0) throw new ArgumentException("at least one application protocol (ALPN) is required");
        return new ConnectionSettings
        {
            Perspective = perspective,
            ApplicationProtocols = protocols,
            // SNI carries names, not address literals (RFC 6066 §3).
            ServerName = serverName is not null && !IPAddress.TryParse(serverName, out _) ? serverName : null,
            Certificate = server?.ServerCertificate,
            TrustedCertificates = client?.TrustedCertificates,
            SkipCertificateValidation = client?.SkipCertificateValidation ?? false,
            MaxIdleTimeoutMs = (ulong)Math.Max(0, options.IdleTimeout.TotalMilliseconds),
            InitialMaxData = (ulong)options.InitialConnectionReceiveWindow,
            InitialMaxStreamData = (ulong)options.InitialStreamReceiveWindow,
            MaxStreamReceiveWindow = (ulong)options.MaxStreamReceiveWindow,
            MaxConnectionReceiveWindow = (ulong)options.MaxConnectionReceiveWindow,
            MaxStreamsBidi = (ulong)options.MaxInboundBidirectionalStreams,
            MaxStreamsUni = (ulong)options.MaxInboundUnidirectionalStreams,
            Disable1RttEncryption = options.Disable1RttEncryption,
            FastPathUnidirectionalStreams = options.FastPathUnidirectionalStreams,
            MaxDatagramFrameSize = options.MaxDatagramFrameSize is { } size ? (ulong)size : null,
            CongestionControl = options.CongestionControl,
            EnableAckFrequency = options.EnableAckFrequency,
            Versions = Versions(client, server),
            EnableEcn = ecn,
            InitialVersion = afterVersionNegotiation?.Version ?? (client is null ? Wire.QuicVersion.V1 : InitialVersion(client)),
            AbandonedVersion = afterVersionNegotiation?.Abandoned,
            MaxPathMtuProbeSize = options.MaxPathMtuProbeSize,
            PathMtuRaiseInterval = options.PathMtuRaiseInterval,
            AdvertisedMaxUdpPayloadSize = options.MaxReceiveUdpPayloadSize is { } receive
                ? (ulong)Math.Clamp(receive, 1200, (int)Wire.TransportParameters.DefaultMaxUdpPayloadSize)
                : Wire.TransportParameters.DefaultMaxUdpPayloadSize,
            ResumptionTicket = resumption.Ticket,
            EnableEarlyData = resumption.EarlyData,
            TicketReceived = resumption.Received,
            TicketProtector = resumption.Protector,
            ResetKey = resetKey,
            Logger = log,
            TracerFactory = options.QlogDirectory is { Length: > 0 } qlog ? Qlog.QlogTracer.CreateFactory(qlog, log) : null,
        };
    }
}
