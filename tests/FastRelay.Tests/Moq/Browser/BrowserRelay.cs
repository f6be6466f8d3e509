using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using FastRelay.Protocols.Moq.Relay;
using FastRelay.Protocols.Quic.Tls.Certificates;
using FastRelay.Tests.Quic.WebTransport;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace FastRelay.Tests.Moq.Browser;

/// <summary>
/// Our MoQ relay in-process on 127.0.0.1:0, reachable by browsers: WebTransport on /moq beside raw QUIC, with a
/// certificate Chromium accepts through <c>serverCertificateHashes</c> (ECDSA P-256, valid for less than 14 days).
/// </summary>
internal static class BrowserRelay
{
    private static readonly Lazy<X509Certificate2> Certificate = new(() => SelfSignedCertificate.Create(validity: TimeSpan.FromDays(10)));

    /// <summary>Hex SHA-256 of the certificate: what @moq/net takes as <c>serverCertificateHashes[].value</c>.</summary>
    public static string CertificateHashHex => Convert.ToHexString(SHA256.HashData(Certificate.Value.RawData)).ToLowerInvariant();

    public static Task<RelayHost> StartAsync(ITestOutputHelper output) =>
        RelayHost.StartAsync(new RelayHostOptions
        {
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            Certificate = Certificate.Value,
            Relay = new RelayOptions
            {
                LoggerFactory = LoggerFactory.Create(b => b.AddProvider(new TestOutputLoggerProvider(output)).SetMinimumLevel(LogLevel.Information)
                    .AddFilter("FastRelay.Protocols.Quic", LogLevel.Warning)),
            },
        });

    /// <summary>The WebTransport URL a browser connects to.</summary>
    public static string WebTransportUrl(RelayHost host) => $"https://127.0.0.1:{host.LocalEndPoint.Port}/moq";

    /// <summary>The raw QUIC URL `moq publish` / `moq subscribe` connect to.</summary>
    public static string QuicUrl(RelayHost host) => $"moqt://127.0.0.1:{host.LocalEndPoint.Port}/";

}
