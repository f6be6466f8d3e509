using System.Net;
using FastRelay.Protocols.Moq.Relay;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Quic.WebTransport.Browser;

/// <summary>
/// First MoQ interop with a browser client: @moq/net in headless Chromium connects to our relay (RelayHost) over
/// WebTransport and completes the draft-19 SETUP exchange. The full publish/subscribe interop builds on this page.
/// </summary>
[Collection(ChromiumCollection.Name)]
public sealed class MoqNetRelaySmokeTests(ITestOutputHelper output)
{
    private const string ConnectPage = """
        import { Moq } from "/moq.js";
        export default async function (p) {
          const connection = await Moq.Connection.connect(new URL(p.url), {
            websocket: { enabled: false },
            webtransport: { serverCertificateHashes: [{ algorithm: "sha-256", value: p.hash }] },
            signal: AbortSignal.timeout(20000),
          });
          const result = { version: connection.version };
          connection.close();
          return result;
        }
        """;

    [ChromiumMoqFact]
    public async Task Moq_net_in_chromium_completes_the_moqt_19_setup_with_our_relay_over_webtransport()
    {
        await using var relay = await RelayHost.StartAsync(new RelayHostOptions
        {
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            Certificate = ChromiumWebTransportTests.ServerCertificate,
        });
        var result = await ChromiumHarness.RunAsync(new ChromiumPage
        {
            Module = ConnectPage,
            Params = new { url = $"https://127.0.0.1:{relay.LocalEndPoint.Port}/moq", hash = ChromiumWebTransportTests.CertificateHashHex },
            Timeout = TimeSpan.FromSeconds(45),
        }, output);
        output.WriteLine(result.ToString());
        Assert.Equal("moq-transport-19", result.GetProperty("version").GetString());
    }
}
