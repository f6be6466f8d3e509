using System.Text;
using FastRelay.Protocols.Quic.Api;
using Xunit;

namespace FastRelay.Tests.Quic.Api;

/// <summary>Our client against our server over real UDP sockets on loopback, through the public API.</summary>
public sealed class LoopbackConnectionTests
{
    private static readonly byte[] Marker = Encoding.ASCII.GetBytes("FASTRELAY-PLAINTEXT-MARKER-0xBAAD-0123456789");

    private static async Task<byte[]> SendOneStreamAsync(LoopbackPair pair, byte[] payload)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var clientStream = await pair.Client.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, timeout.Token);
        await clientStream.WriteAsync(payload, completeWrites: true, timeout.Token);
        var serverStream = await pair.Server.AcceptInboundStreamAsync(timeout.Token);
        var received = new MemoryStream();
        await serverStream.CopyToAsync(received, timeout.Token);
        return received.ToArray();
    }

    private static byte[] MarkerPayload(int repeats) => Enumerable.Repeat(Marker, repeats).SelectMany(m => m).ToArray();

    private static bool WireContains(IEnumerable<byte[]> datagrams, byte[] needle) =>
        datagrams.Any(d => (d[0] & 0x80) == 0 && d.AsSpan().IndexOf(needle) >= 0);

    [Fact]
    public async Task Disable_1rtt_encryption_negotiated_by_both_leaves_stream_data_readable_on_the_wire()
    {
        await using var pair = await LoopbackPair.StartAsync(proxy: true,
            client: c => c.Disable1RttEncryption = true, server: s => s.Disable1RttEncryption = true);
        Assert.True(pair.Client.Is1RttEncryptionDisabled);
        Assert.True(pair.Server.Is1RttEncryptionDisabled);
        var payload = MarkerPayload(200);
        Assert.Equal(payload, await SendOneStreamAsync(pair, payload));
        // Short-header packets carry the stream bytes as they are: the marker is visible in the capture...
        Assert.True(WireContains(pair.Proxy!.Snapshot(toServer: true), Marker), "marker not found in 1-RTT packets on the wire");
        // ...while the handshake stayed encrypted: the server's Handshake packets (EncryptedExtensions carry the ALPN)
        // never show it in clear. The client's Handshake packets hold only its Finished, so look at the server's.
        var serverHandshake = pair.Proxy.Snapshot(toServer: false).Where(d => (d[0] & 0x80) != 0).ToList();
        Assert.NotEmpty(serverHandshake);
        Assert.DoesNotContain(serverHandshake, d => d.AsSpan().IndexOf("test"u8) >= 0);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public async Task One_side_alone_cannot_turn_off_1rtt_encryption(bool client, bool server)
    {
        await using var pair = await LoopbackPair.StartAsync(proxy: true,
            client: c => c.Disable1RttEncryption = client, server: s => s.Disable1RttEncryption = server);
        Assert.False(pair.Client.Is1RttEncryptionDisabled);
        Assert.False(pair.Server.Is1RttEncryptionDisabled);
        var payload = MarkerPayload(200);
        Assert.Equal(payload, await SendOneStreamAsync(pair, payload));
        Assert.False(WireContains(pair.Proxy!.Snapshot(toServer: true), Marker), "marker readable although 1-RTT should be encrypted");
    }

    [Fact]
    public async Task Streams_both_ways_and_many_in_parallel_arrive_intact()
    {
        await using var pair = await LoopbackPair.StartAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var rng = new Random(11);
        var payloads = Enumerable.Range(0, 20).Select(i => { var b = new byte[1000 + i * 5000]; rng.NextBytes(b); return b; }).ToArray();
        var serverSide = Task.Run(async () =>
        {
            for (int i = 0; i < payloads.Length; i++)
            {
                var stream = await pair.Server.AcceptInboundStreamAsync(timeout.Token);
                _ = Task.Run(async () =>
                {
                    // Echo: whatever arrives goes back on the same stream.
                    var buffer = new MemoryStream();
                    await stream.CopyToAsync(buffer, timeout.Token);
                    await stream.WriteAsync(buffer.ToArray(), completeWrites: true, timeout.Token);
                });
            }
        });
        var echoes = await Task.WhenAll(payloads.Select(async p =>
        {
            var stream = await pair.Client.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, timeout.Token);
            await stream.WriteAsync(p, completeWrites: true, timeout.Token);
            var back = new MemoryStream();
            await stream.CopyToAsync(back, timeout.Token);
            return back.ToArray();
        }));
        await serverSide;
        for (int i = 0; i < payloads.Length; i++) Assert.Equal(payloads[i], echoes[i]);
    }

    [Fact]
    public async Task Closing_with_an_application_error_code_reaches_the_peer()
    {
        await using var pair = await LoopbackPair.StartAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var accept = pair.Server.AcceptInboundStreamAsync(timeout.Token).AsTask();
        await pair.Client.CloseAsync(0x42, timeout.Token);
        var error = await Assert.ThrowsAsync<QuicException>(() => accept);
        Assert.Equal(QuicErrorKind.ConnectionAborted, error.Kind);
        Assert.Equal(0x42, error.ApplicationErrorCode);
    }

    [Fact]
    public async Task A_stream_reset_by_the_peer_fails_the_reader_with_its_code()
    {
        await using var pair = await LoopbackPair.StartAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var stream = await pair.Client.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, timeout.Token);
        await stream.WriteAsync(new byte[100], timeout.Token);
        var serverStream = await pair.Server.AcceptInboundStreamAsync(timeout.Token);
        stream.Abort(QuicAbortDirection.Write, 7);
        var error = await Assert.ThrowsAsync<QuicException>(async () =>
        {
            var buffer = new byte[1000];
            while (await serverStream.ReadAsync(buffer, timeout.Token) > 0) { }
        });
        Assert.Equal(QuicErrorKind.StreamAborted, error.Kind);
        Assert.Equal(7, error.ApplicationErrorCode);
    }

    [Fact]
    public async Task Retry_validates_the_address_before_the_server_commits_state()
    {
        await using var pair = await LoopbackPair.StartAsync(proxy: true, retry: true);
        var payload = MarkerPayload(10);
        Assert.Equal(payload, await SendOneStreamAsync(pair, payload));
        // The server's first answer was a Retry (long header, type 3).
        var first = pair.Proxy!.Snapshot(toServer: false)[0];
        Assert.Equal(0xF0, first[0] & 0xF0);
        // The client's second Initial carries the token (its token length byte is non-zero).
        Assert.True(pair.Proxy.Snapshot(toServer: true).Count >= 2);
    }

    [Fact]
    public async Task An_idle_connection_closes_itself_after_the_idle_timeout()
    {
        await using var pair = await LoopbackPair.StartAsync(client: c => c.IdleTimeout = TimeSpan.FromSeconds(1),
            server: s => s.IdleTimeout = TimeSpan.FromSeconds(1));
        var bothClosed = Task.WhenAll(pair.Server.Closed, pair.Client.Closed);
        Assert.Same(bothClosed, await Task.WhenAny(bothClosed, Task.Delay(TimeSpan.FromSeconds(10))));
        var error = await Assert.ThrowsAsync<QuicException>(() => pair.Client.OpenOutboundStreamAsync(QuicStreamType.Bidirectional).AsTask());
        Assert.Equal(QuicErrorKind.ConnectionIdle, error.Kind);
    }

    [Fact]
    public async Task An_untrusted_certificate_fails_the_handshake_unless_trusted_explicitly()
    {
        var error = await Assert.ThrowsAsync<QuicException>(() => LoopbackPair.StartAsync(client: c => c.SkipCertificateValidation = false));
        Assert.Equal(QuicErrorKind.HandshakeFailed, error.Kind);
        await using var pair = await LoopbackPair.StartAsync(client: c =>
        {
            c.SkipCertificateValidation = false;
            c.TargetHost = "localhost";
            c.TrustedCertificates = [LoopbackPair.Certificate.Value];
        });
        Assert.Equal("test", pair.Client.NegotiatedApplicationProtocol);
    }
}
