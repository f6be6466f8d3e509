using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Http3.WebTransport;
using FastRelay.Protocols.Quic.Tls.Certificates;
using Microsoft.Extensions.Logging;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Quic.WebTransport.Browser;

/// <summary>Headless Chromium 156 against our WebTransport server over real UDP on loopback.</summary>
[Collection(ChromiumCollection.Name)]
public sealed class ChromiumWebTransportTests(ITestOutputHelper output)
{
    /// <summary>serverCertificateHashes needs ECDSA P-256 valid for less than 14 days.</summary>
    private static readonly Lazy<X509Certificate2> Certificate = new(() => SelfSignedCertificate.Create(validity: TimeSpan.FromDays(10)));

    internal static X509Certificate2 ServerCertificate => Certificate.Value;

    internal static string CertificateHashHex => Convert.ToHexString(SHA256.HashData(Certificate.Value.RawData)).ToLowerInvariant();

    internal static async Task<WebTransportServer> StartServerAsync(ITestOutputHelper output, Action<WebTransportServer> map, string? qlog = null)
    {
        var loggerFactory = LoggerFactory.Create(b => b.AddProvider(new TestOutputLoggerProvider(output)).SetMinimumLevel(LogLevel.Debug));
        var server = new WebTransportServer(logger: loggerFactory.CreateLogger("wt-server"));
        map(server);
        await server.StartAsync(new QuicListenerOptions
        {
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            ConnectionOptions = new QuicServerConnectionOptions { ServerCertificate = Certificate.Value, QlogDirectory = qlog },
        });
        return server;
    }

    private const string EchoPage = """
        const hex = s => new Uint8Array(s.match(/../g).map(h => parseInt(h, 16)));
        const bytes = n => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = (i * 7 + 3) & 0xff; return b; };
        async function readAll(readable) {
          const reader = readable.getReader(); const chunks = []; let total = 0;
          for (;;) { const { value, done } = await reader.read(); if (done) break; chunks.push(value); total += value.length; }
          const out = new Uint8Array(total); let o = 0; for (const c of chunks) { out.set(c, o); o += c.length; } return out;
        }
        let stage = "start";
        export default async function (p) {
          try { return await run(p); } catch (e) { throw new Error(`at stage '${stage}': ${e}`); }
        }
        async function run(p) {
          stage = "connect";
          const wt = new WebTransport(p.url, { serverCertificateHashes: [{ algorithm: "sha-256", value: hex(p.hash) }], protocols: ["moqt-19"] });
          await wt.ready;
          const result = { protocol: wt.protocol };
          stage = "bidi echo";
          // 1. bidi echo: we send, the server echoes, we compare.
          const bidi = await wt.createBidirectionalStream();
          const payload = bytes(p.bidiBytes);
          const writer = bidi.writable.getWriter(); await writer.write(payload); await writer.close();
          const echoed = await readAll(bidi.readable);
          result.echoLength = echoed.length;
          result.echoEqual = echoed.length === payload.length && echoed.every((b, i) => b === payload[i]);
          stage = "server uni stream";
          // 2. a uni stream the server opens.
          const uniReader = wt.incomingUnidirectionalStreams.getReader();
          const { value: uni } = await uniReader.read();
          const uniBytes = await readAll(uni);
          result.uni = Array.from(uniBytes);
          stage = "datagrams";
          // 3. datagrams: send until the server echoes one back (datagrams may be lost, so retry).
          const dw = wt.datagrams.writable.getWriter(); const dr = wt.datagrams.readable.getReader();
          let echoedDatagram = null;
          for (let i = 0; i < 50 && !echoedDatagram; i++) {
            await dw.write(new Uint8Array([0xd0, i, 1, 2, 3]));
            const r = await Promise.race([dr.read(), new Promise(res => setTimeout(() => res(null), 100))]);
            if (r && r.value) echoedDatagram = Array.from(r.value);
          }
          result.datagram = echoedDatagram;
          stage = "close";
          // 4. the server closes the session with a code and reason.
          const writer2 = (await wt.createBidirectionalStream()).writable.getWriter();
          await writer2.write(new TextEncoder().encode("close please")); await writer2.close();
          const closed = await wt.closed;
          result.closeCode = closed.closeCode; result.closeReason = closed.reason;
          return result;
        }
        """;

    [ChromiumFact]
    public async Task Chromium_opens_a_session_echoes_a_stream_takes_a_uni_stream_swaps_datagrams_and_sees_our_close()
    {
        await using var server = await StartServerAsync(output, s => s.Map("/wt", new WebTransportPathOptions { Protocols = ["moqt-19"] }), Environment.GetEnvironmentVariable("FASTRELAY_QLOG"));
        int port = server.LocalEndPoint.Port;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var serverSide = Task.Run(async () =>
        {
            await using var session = await server.AcceptSessionAsync(timeout.Token);
            Assert.Equal("moqt-19", session.Protocol);
            // Echo the first bidi stream.
            var bidi = await session.AcceptStreamAsync(timeout.Token);
            Assert.True(bidi.IsBidirectional);
            var received = await ReadAllAsync(bidi, timeout.Token);
            // Every byte as the page made it: (i * 7 + 3) & 0xff.
            Assert.Equal(Enumerable.Range(0, received.Length).Select(i => (byte)((i * 7 + 3) & 0xff)), received);
            await bidi.WriteAsync(received, completeWrites: true, timeout.Token);
            // A uni stream of ours.
            var uni = await session.OpenUnidirectionalStreamAsync(timeout.Token);
            await uni.WriteAsync(new byte[] { 9, 8, 7, 6, 5 }, completeWrites: true, timeout.Token);
            // Echo datagrams until the close request arrives.
            var datagrams = Task.Run(async () =>
            {
                try
                {
                    while (true)
                    {
                        var d = await session.ReceiveDatagramAsync(timeout.Token);
                        session.SendDatagram(d.Span);
                    }
                }
                catch (WebTransportException)
                {
                }
            });
            var closeRequest = await session.AcceptStreamAsync(timeout.Token);
            var text = System.Text.Encoding.UTF8.GetString(await ReadAllAsync(closeRequest, timeout.Token));
            Assert.Equal("close please", text);
            await session.CloseAsync(4242, "bye from fastrelay");
            return received.Length;
        });
        var result = await ChromiumHarness.RunAsync(new ChromiumPage
        {
            Module = EchoPage,
            Params = new { url = $"https://127.0.0.1:{port}/wt", hash = CertificateHashHex, bidiBytes = 100_000 },
            Timeout = TimeSpan.FromSeconds(45),
            ExtraArguments = (Environment.GetEnvironmentVariable("FASTRELAY_CHROMIUM_ARGS") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries),
        }, output, timeout.Token);
        output.WriteLine(result.ToString());
        Assert.Equal(100_000, await serverSide);
        Assert.Equal("moqt-19", result.GetProperty("protocol").GetString());
        Assert.Equal(100_000, result.GetProperty("echoLength").GetInt32());
        Assert.True(result.GetProperty("echoEqual").GetBoolean());
        Assert.Equal([9, 8, 7, 6, 5], result.GetProperty("uni").EnumerateArray().Select(e => e.GetInt32()));
        var datagram = result.GetProperty("datagram").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(5, datagram.Length);
        Assert.Equal(0xd0, datagram[0]);
        Assert.Equal([1, 2, 3], datagram[2..]);
        Assert.Equal(4242, result.GetProperty("closeCode").GetInt32());
        Assert.Equal("bye from fastrelay", result.GetProperty("closeReason").GetString());
    }

    private const string ResetAndClosePage = """
        const hex = s => new Uint8Array(s.match(/../g).map(h => parseInt(h, 16)));
        export default async function (p) {
          const wt = new WebTransport(p.url, { serverCertificateHashes: [{ algorithm: "sha-256", value: hex(p.hash) }] });
          await wt.ready;
          const writers = [];
          for (const first of [1, 2]) {
            const writer = (await wt.createUnidirectionalStream()).getWriter();
            await writer.write(new Uint8Array([first, 2, 3]));
            writers.push(writer);
          }
          // Wait for the server's go-ahead (a datagram) so the resets cannot overtake the bytes.
          const go = await wt.datagrams.readable.getReader().read();
          // Chromium takes one init dictionary here (not the spec's (message, options)).
          await writers[0].abort(new WebTransportError({ message: "abandoned", streamErrorCode: 0x42 }));
          await writers[1].abort(new WebTransportError({ message: "abandoned", streamErrorCode: 0xbeef }));
          const bidi = await wt.createBidirectionalStream();
          const reader = bidi.readable.getReader();
          let resetCode = null;
          try { await reader.read(); } catch (e) { resetCode = e.streamErrorCode ?? null; }
          wt.close({ closeCode: 7, reason: "tab closed" });
          await wt.closed.catch(() => {});
          return { go: Array.from(go.value), resetCode, protocol: wt.protocol };
        }
        """;

    [ChromiumFact]
    public async Task Chromium_stream_resets_and_session_close_carry_their_codes_both_ways()
    {
        await using var server = await StartServerAsync(output, s => s.Map("/wt"));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var serverSide = Task.Run(async () =>
        {
            var session = await server.AcceptSessionAsync(timeout.Token);
            var resets = new Dictionary<byte, WebTransportException>();
            var streams = new Dictionary<byte, WebTransportStream>();
            for (int i = 0; i < 2; i++)
            {
                var uni = await session.AcceptStreamAsync(timeout.Token);
                var head = new byte[3];
                int n = 0;
                while (n < 3)
                    n += await uni.ReadAsync(head.AsMemory(n), timeout.Token);
                streams[head[0]] = uni;
            }
            Assert.Equal(DatagramSendResult.Queued, session.SendDatagram([0x60]));
            foreach (var (first, uni) in streams)
                resets[first] = await Assert.ThrowsAsync<WebTransportException>(async () => await uni.ReadAsync(new byte[8], timeout.Token));
            var bidi = await session.AcceptStreamAsync(timeout.Token);
            bidi.Reset(0xc0ffee);
            var closed = await session.Closed.WaitAsync(timeout.Token);
            return (resets, closed, session.Protocol);
        });
        var result = await ChromiumHarness.RunAsync(new ChromiumPage
        {
            Module = ResetAndClosePage,
            Params = new { url = $"https://127.0.0.1:{server.LocalEndPoint.Port}/wt", hash = CertificateHashHex },
            Timeout = TimeSpan.FromSeconds(45),
        }, output, timeout.Token);
        output.WriteLine(result.ToString());
        var (resets, closed, protocol) = await serverSide;
        Assert.All(resets.Values, r => Assert.Equal(WebTransportErrorKind.StreamAborted, r.Kind));
        Assert.Equal(0x42u, resets[1].ApplicationErrorCode);
        // Chromium 156 clamps the codes it sends to 8 bits (draft-02 stream errors were a byte): 0xbeef leaves as 255.
        // It decodes the full 32-bit mapping it receives (0xc0ffee below).
        Assert.Equal(255u, resets[2].ApplicationErrorCode);
        Assert.Equal(0xc0ffee, result.GetProperty("resetCode").GetInt32());
        Assert.Equal(new WebTransportCloseInfo(7, "tab closed", ByPeer: true), closed);
        // No protocols offered: none negotiated, on either side.
        Assert.Null(protocol);
        Assert.Equal("", result.GetProperty("protocol").GetString());
    }

    internal static async Task<byte[]> ReadAllAsync(WebTransportStream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[16384];
        var all = new MemoryStream();
        int n;
        while ((n = await stream.ReadAsync(buffer, cancellationToken)) > 0)
            all.Write(buffer, 0, n);
        return all.ToArray();
    }
}
