using FastRelay.Protocols.Quic.Api;
using Xunit;

namespace FastRelay.Tests.Quic.Api;

/// <summary>
/// What the peer sent before its CONNECTION_CLOSE was acknowledged to it, so it must stay readable after the close:
/// reads return the buffered bytes (and the FIN), and only a read past them fails with the close.
/// </summary>
public sealed class ReceiveAfterCloseTests
{
    private static byte[] Pattern(int length, int seed) => Enumerable.Range(0, length).Select(i => (byte)(i * 7 + seed)).ToArray();

    private static async Task<byte[]> ReadToEndAsync(QuicStream stream, CancellationToken cancellationToken)
    {
        var received = new MemoryStream();
        await stream.CopyToAsync(received, cancellationToken);
        return received.ToArray();
    }

    [Fact]
    public async Task Streams_received_before_the_peers_close_are_accepted_and_read_to_their_FIN_after_it()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var pair = await LoopbackPair.StartAsync();
        var payloads = Enumerable.Range(0, 4).Select(i => Pattern(3000 + i * 1000, i)).ToList();
        var streams = new List<QuicStream>();
        foreach (var payload in payloads)
        {
            var stream = await pair.Client.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
            await stream.WriteAsync(payload, completeWrites: true, timeout.Token);
            streams.Add(stream);
        }
        // Every byte and FIN acknowledged by the server's QUIC, none read by its application yet: now close (code 0).
        await Task.WhenAll(streams.Select(s => s.WritesClosed)).WaitAsync(timeout.Token);
        await pair.Client.CloseAsync(0, timeout.Token);
        await pair.Server.Closing.WaitAsync(timeout.Token);

        for (int i = 0; i < payloads.Count; i++)
        {
            var accepted = await pair.Server.AcceptInboundStreamAsync(timeout.Token);
            Assert.Equal(payloads[i], await ReadToEndAsync(accepted, timeout.Token));
        }
        var more = await Assert.ThrowsAsync<QuicException>(async () => await pair.Server.AcceptInboundStreamAsync(timeout.Token));
        Assert.Equal(QuicErrorKind.ConnectionAborted, more.Kind);
    }

    [Fact]
    public async Task A_stream_without_FIN_yields_what_arrived_then_the_close_error()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var pair = await LoopbackPair.StartAsync();
        var payload = Pattern(2000, 3);
        var open = await pair.Client.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
        await open.WriteAsync(payload, completeWrites: false, timeout.Token);
        var serverStream = await pair.Server.AcceptInboundStreamAsync(timeout.Token);
        // A second stream, written after the first and finished: once it is acknowledged, the first one's bytes (sent
        // earlier, on loopback without loss) arrived too.
        var marker = await pair.Client.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
        await marker.WriteAsync(new byte[] { 1 }, completeWrites: true, timeout.Token);
        await marker.WritesClosed.WaitAsync(timeout.Token);
        await pair.Client.CloseAsync(7, timeout.Token);
        await pair.Server.Closing.WaitAsync(timeout.Token);

        var received = new MemoryStream();
        var buffer = new byte[512];
        var error = await Assert.ThrowsAsync<QuicException>(async () =>
        {
            while (true)
            {
                int n = await serverStream.ReadAsync(buffer, timeout.Token);
                Assert.True(n > 0, "a stream cut by the close must not look finished");
                received.Write(buffer, 0, n);
            }
        });
        Assert.Equal(payload, received.ToArray());
        Assert.Equal(QuicErrorKind.ConnectionAborted, error.Kind);
        Assert.Equal(7, error.ApplicationErrorCode);
    }
}
