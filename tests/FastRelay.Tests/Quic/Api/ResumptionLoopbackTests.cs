using System.Net;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Tls.Handshake;
using FastRelay.Protocols.Quic.Tls.Resumption;
using Xunit;

namespace FastRelay.Tests.Quic.Api;

/// <summary>Our client resuming with our server over loopback: session tickets, 0-RTT accepted, 0-RTT refused and resent.</summary>
public sealed class ResumptionLoopbackTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static async Task<QuicListener> ListenAsync(bool earlyData = true) => await QuicListener.ListenAsync(new QuicListenerOptions
    {
        ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
        ApplicationProtocols = ["test"],
        ConnectionOptions = new QuicServerConnectionOptions
        {
            ServerCertificate = LoopbackPair.Certificate.Value, ApplicationProtocols = ["test"], EnableEarlyData = earlyData,
        },
    });

    private static QuicClientConnectionOptions ClientOptions(IPEndPoint server, SessionTicketCache cache, bool earlyData = true) => new()
    {
        RemoteEndPoint = server,
        ApplicationProtocols = ["test"],
        SkipCertificateValidation = true,
        SessionTickets = cache,
        EnableEarlyData = earlyData,
    };

    /// <summary>A full handshake whose ticket lands in <paramref name="cache"/> (it comes after the handshake, in 1-RTT).</summary>
    private static async Task FirstConnectionAsync(QuicListener listener, IPEndPoint target, SessionTicketCache cache, CancellationToken token)
    {
        var accept = listener.AcceptConnectionAsync(token).AsTask();
        await using var client = await QuicConnection.ConnectAsync(ClientOptions(target, cache), token);
        await using var server = await accept;
        Assert.False(client.IsResumed);
        Assert.NotNull(client.RemoteCertificate);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (cache.Count == 0 && DateTime.UtcNow < deadline) await Task.Delay(10, token);
        Assert.Equal(1, cache.Count);
    }

    /// <summary>Opens a stream at once (0-RTT when possible), sends <paramref name="payload"/>, and returns what the server read.</summary>
    private static async Task<(QuicConnection Client, QuicConnection Server, byte[] Received)> ResumeAndSendAsync(QuicListener listener,
        IPEndPoint target, SessionTicketCache cache, byte[] payload, CancellationToken token)
    {
        var accept = listener.AcceptConnectionAsync(token).AsTask();
        var client = await QuicConnection.ConnectAsync(ClientOptions(target, cache), token);
        // Handed out before the handshake completed (on loopback the answer may already be in by now).
        Assert.NotEqual(EarlyDataState.NotAttempted, client.EarlyDataState);
        var stream = await client.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, token);
        await stream.WriteAsync(payload, completeWrites: true, token);
        var server = await accept;
        var incoming = await server.AcceptInboundStreamAsync(token);
        var received = new MemoryStream();
        await incoming.CopyToAsync(received, token);
        await client.WaitForHandshakeAsync(token);
        return (client, server, received.ToArray());
    }

    private static bool IsZeroRttPacket(byte first) => (first & 0x80) != 0 && (first & 0x30) == 0x10;

    [Fact]
    public async Task Resumed_connection_sends_its_request_in_0rtt_and_the_server_accepts_it()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var listener = await ListenAsync();
        using var proxy = new UdpCapturingProxy(listener.LocalEndPoint);
        var cache = new SessionTicketCache();
        await FirstConnectionAsync(listener, proxy.EndPoint, cache, timeout.Token);

        var payload = new byte[3000];
        new Random(3).NextBytes(payload);
        // On loopback the server's answer can beat the application's first write, and then the data rightly goes in
        // 1-RTT; each attempt resumes with the ticket the previous one left, until one request travelled in 0-RTT.
        bool seenZeroRtt = false;
        for (int attempt = 0; attempt < 5 && !seenZeroRtt; attempt++)
        {
            int before = proxy.Snapshot(toServer: true).Count;
            var (client, server, received) = await ResumeAndSendAsync(listener, proxy.EndPoint, cache, payload, timeout.Token);
            await using (client)
            await using (server)
            {
                Assert.Equal(payload, received);
                Assert.True(client.IsResumed);
                Assert.True(server.IsResumed);
                Assert.Null(client.RemoteCertificate);
                Assert.Equal(EarlyDataState.Accepted, client.EarlyDataState);
                Assert.Equal(EarlyDataState.Accepted, server.EarlyDataState);
                var sent = proxy.Snapshot(toServer: true).Skip(before).ToList();
                Assert.True((sent[0][0] & 0xb0) == 0x80 && sent[0].Length >= 1200, "first datagram is not an Initial");
                seenZeroRtt = sent.Any(ContainsZeroRtt);
                // The resumed connection gets a new ticket (the used one is gone: single use).
                var deadline = DateTime.UtcNow.AddSeconds(10);
                while (cache.Count == 0 && DateTime.UtcNow < deadline) await Task.Delay(10, timeout.Token);
                Assert.Equal(1, cache.Count);
            }
        }
        Assert.True(seenZeroRtt, "no request travelled in a 0-RTT packet in 5 resumed connections");
    }

    [Fact]
    public async Task Replayed_ticket_resumes_but_its_0rtt_is_refused_and_the_data_arrives_in_1rtt()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var listener = await ListenAsync();
        var cache = new SessionTicketCache();
        await FirstConnectionAsync(listener, listener.LocalEndPoint, cache, timeout.Token);
        // The same ticket twice: the server's anti-replay cache must refuse the second 0-RTT.
        var key = SessionTicketCache.KeyFor(IPAddress.Loopback.ToString(), listener.LocalEndPoint.Port);
        Assert.True(cache.TryTake(key, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), out var ticket));
        cache.Add(key, ticket!);
        var first = await ResumeAndSendAsync(listener, listener.LocalEndPoint, cache, [1, 2, 3], timeout.Token);
        await first.Client.DisposeAsync();
        await first.Server.DisposeAsync();
        Assert.Equal(EarlyDataState.Accepted, first.Client.EarlyDataState);

        var replayCache = new SessionTicketCache();
        replayCache.Add(key, ticket!);
        var payload = new byte[20_000];
        new Random(4).NextBytes(payload);
        var (client, server, received) = await ResumeAndSendAsync(listener, listener.LocalEndPoint, replayCache, payload, timeout.Token);
        await using (client)
        await using (server)
        {
            Assert.Equal(EarlyDataState.Rejected, client.EarlyDataState);
            Assert.True(client.IsResumed);
            Assert.Equal(payload, received);
        }
    }

    [Fact]
    public async Task Server_without_early_data_still_resumes_in_one_round_trip_without_a_certificate()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var listener = await ListenAsync(earlyData: false);
        var cache = new SessionTicketCache();
        await FirstConnectionAsync(listener, listener.LocalEndPoint, cache, timeout.Token);
        var accept = listener.AcceptConnectionAsync(timeout.Token).AsTask();
        await using var client = await QuicConnection.ConnectAsync(ClientOptions(listener.LocalEndPoint, cache), timeout.Token);
        await using var server = await accept;
        Assert.True(client.IsResumed);
        Assert.Null(client.RemoteCertificate);
        Assert.Equal(EarlyDataState.NotAttempted, client.EarlyDataState);
    }

    /// <summary>
    /// A measurement with a check: connect + one 100-byte request echoed back, warm, in one process (no JIT, no process
    /// start), full handshakes against resumed ones with 0-RTT. Medians go to the test output (README, "Resumption").
    /// Every resumed run must have had its 0-RTT accepted.
    /// </summary>
    [Fact]
    public async Task Time_to_first_response_full_handshake_vs_resumed_with_0rtt()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await using var listener = await ListenAsync();
        var echo = Task.Run(async () =>
        {
            while (!timeout.IsCancellationRequested)
            {
                var connection = await listener.AcceptConnectionAsync(timeout.Token);
                _ = Task.Run(async () =>
                {
                    await using (connection)
                    {
                        var stream = await connection.AcceptInboundStreamAsync(timeout.Token);
                        var buffer = new MemoryStream();
                        await stream.CopyToAsync(buffer, timeout.Token);
                        await stream.WriteAsync(buffer.ToArray(), completeWrites: true, timeout.Token);
                        await connection.Closed.WaitAsync(timeout.Token);
                    }
                });
            }
        });
        var request = new byte[100];
        async Task<double> OnceAsync(SessionTicketCache? cache, bool expectEarly)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var options = ClientOptions(listener.LocalEndPoint, cache ?? new SessionTicketCache());
            await using var client = await QuicConnection.ConnectAsync(options, timeout.Token);
            var stream = await client.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, timeout.Token);
            await stream.WriteAsync(request, completeWrites: true, timeout.Token);
            var answer = new MemoryStream();
            await stream.CopyToAsync(answer, timeout.Token);
            double ms = watch.Elapsed.TotalMilliseconds;
            Assert.Equal(request.Length, answer.Length);
            if (expectEarly) Assert.Equal(EarlyDataState.Accepted, client.EarlyDataState);
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (cache is not null && cache.Count == 0 && DateTime.UtcNow < deadline) await Task.Delay(1, timeout.Token);
            await client.CloseAsync(0, timeout.Token);
            return ms;
        }
        const int Runs = 15;
        var cache = new SessionTicketCache();
        for (int i = 0; i < 3; i++) { await OnceAsync(null, false); await OnceAsync(cache, i > 0); } // warm-up (JIT)
        var full = new List<double>();
        var resumed = new List<double>();
        for (int i = 0; i < Runs; i++)
        {
            full.Add(await OnceAsync(null, false));
            resumed.Add(await OnceAsync(cache, true));
        }
        static double Median(List<double> v) { v.Sort(); return v[v.Count / 2]; }
        output.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"connect + 100-byte echo on loopback, median of {Runs}: full handshake {Median(full):F2} ms, resumed with 0-RTT {Median(resumed):F2} ms"));
        await timeout.CancelAsync();
    }

    private static bool ContainsZeroRtt(byte[] datagram)
    {
        // Walk coalesced long-header packets: type, version, DCID, SCID, [token], length.
        int p = 0;
        while (p + 7 < datagram.Length && (datagram[p] & 0x80) != 0)
        {
            if (IsZeroRttPacket(datagram[p])) return true;
            bool initial = (datagram[p] & 0x30) == 0;
            int q = p + 5;
            q += 1 + datagram[q];
            q += 1 + datagram[q];
            if (initial)
            {
                long token = ReadVarint(datagram, ref q);
                q += (int)token;
            }
            long length = ReadVarint(datagram, ref q);
            p = q + (int)length;
        }
        return false;
    }

    private static long ReadVarint(byte[] b, ref int p)
    {
        int n = 1 << (b[p] >> 6);
        long v = b[p] & 0x3f;
        for (int i = 1; i < n; i++) v = v << 8 | b[p + i];
        p += n;
        return v;
    }
}
