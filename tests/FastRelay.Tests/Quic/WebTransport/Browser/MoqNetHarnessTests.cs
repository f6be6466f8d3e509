using FastRelay.Protocols.Quic.Http3.WebTransport;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Quic.WebTransport.Browser;

/// <summary>
/// The @moq/net browser harness works: the bundled library imports in the page, negotiates <c>moqt-19</c> with our
/// WebTransport server, starts its MoQ handshake on a stream we can read, and fails cleanly when we close the session
/// (there is no MoQ server here yet). The MoQ interop tests later reuse exactly this: <see cref="ChromiumHarness"/> +
/// <c>import { Moq } from "/moq.js"</c>.
/// </summary>
[Collection(ChromiumCollection.Name)]
public sealed class MoqNetHarnessTests(ITestOutputHelper output)
{
    private const string ConnectPage = """
        import { Moq } from "/moq.js";
        export default async function (p) {
          const result = { importOk: typeof Moq.Connection.connect === "function", exports: Object.keys(Moq).sort() };
          const started = performance.now();
          try {
            const connection = await Moq.Connection.connect(new URL(p.url), {
              websocket: { enabled: false },
              webtransport: { serverCertificateHashes: [{ algorithm: "sha-256", value: p.hash }] },
              signal: AbortSignal.timeout(20000),
            });
            result.connected = true;
            connection.close?.();
          } catch (e) {
            result.connected = false;
            result.error = String(e && e.message || e);
          }
          result.elapsedMs = performance.now() - started;
          return result;
        }
        """;

    [ChromiumMoqFact]
    public async Task Moq_net_imports_negotiates_moqt_19_over_our_webtransport_and_fails_cleanly_without_a_moq_server()
    {
        await using var server = await ChromiumWebTransportTests.StartServerAsync(output, s => s.Map("/moq", new WebTransportPathOptions { Protocols = ["moqt-19"] }));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var serverSide = Task.Run(async () =>
        {
            var session = await server.AcceptSessionAsync(timeout.Token);
            var offered = WebTransportServer.OfferedProtocols(session.Request);
            // The client opens its setup stream: read what it says first, then end the session as a non-MoQ peer would.
            var stream = await session.AcceptStreamAsync(timeout.Token);
            var buffer = new byte[4096];
            int n = await stream.ReadAsync(buffer, timeout.Token);
            await session.CloseAsync(0x1, "no MoQ here");
            return (session.Protocol, offered, FirstBytes: buffer[..n], stream.IsBidirectional);
        });
        var result = await ChromiumHarness.RunAsync(new ChromiumPage
        {
            Module = ConnectPage,
            Params = new { url = $"https://127.0.0.1:{server.LocalEndPoint.Port}/moq", hash = ChromiumWebTransportTests.CertificateHashHex },
            Timeout = TimeSpan.FromSeconds(45),
        }, output, timeout.Token);
        output.WriteLine(result.ToString());
        var (protocol, offered, firstBytes, bidirectional) = await serverSide;

        Assert.True(result.GetProperty("importOk").GetBoolean());
        Assert.Contains("Connection", result.GetProperty("exports").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("moqt-19", protocol);
        Assert.Contains("moqt-19", offered);
        Assert.Contains("moqt-20", offered);
        Assert.NotEmpty(firstBytes);
        output.WriteLine($"first bytes of @moq/net's {(bidirectional ? "bidirectional" : "unidirectional")} setup stream: {Convert.ToHexString(firstBytes)}");
        Assert.False(result.GetProperty("connected").GetBoolean());
        Assert.False(string.IsNullOrEmpty(result.GetProperty("error").GetString()));
        Assert.True(result.GetProperty("elapsedMs").GetDouble() < 15000, "connect should fail when the session closes, not at its timeout");
    }
}
