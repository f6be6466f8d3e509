using System.Buffers.Binary;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Tests.Quic.Api;
using Xunit;

namespace FastRelay.Tests.Quic.WebTransport;

/// <summary>RFC 9221 DATAGRAM through the public API: both directions over loopback, negotiation, size and queue bounds.</summary>
public sealed class QuicDatagramTests
{
    private static Task<LoopbackPair> StartAsync(int? client = 65535, int? server = 65535) =>
        LoopbackPair.StartAsync(client: c => c.MaxDatagramFrameSize = client, server: s => s.MaxDatagramFrameSize = server);

    private static byte[] Numbered(int n, int length)
    {
        var bytes = new byte[length];
        new Random(n).NextBytes(bytes);
        BinaryPrimitives.WriteInt32BigEndian(bytes, n);
        return bytes;
    }

    [Fact]
    public async Task Datagrams_travel_both_ways_byte_for_byte()
    {
        await using var pair = await StartAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Assert.InRange(pair.Client.MaxDatagramPayload, 1100, 1452);
        for (int i = 0; i < 20; i++)
            Assert.Equal(DatagramSendResult.Queued, pair.Client.SendDatagram(Numbered(i, 10 + i * 50)));
        for (int i = 0; i < 20; i++)
        {
            var received = await pair.Server.ReceiveDatagramAsync(timeout.Token);
            Assert.Equal(Numbered(i, 10 + i * 50), received.ToArray());
        }
        var largest = Numbered(99, pair.Server.MaxDatagramPayload);
        Assert.Equal(DatagramSendResult.Queued, pair.Server.SendDatagram(largest));
        Assert.Equal(largest, (await pair.Client.ReceiveDatagramAsync(timeout.Token)).ToArray());
    }

    [Theory]
    [InlineData(null, 65535)]
    [InlineData(65535, null)]
    public async Task Without_the_peers_transport_parameter_datagrams_are_refused(int? client, int? server)
    {
        await using var pair = await StartAsync(client, server);
        // Each end may send only if the other advertised max_datagram_frame_size.
        var sender = client is null ? pair.Server : pair.Client;
        Assert.Equal(0, sender.MaxDatagramPayload);
        Assert.Equal(DatagramSendResult.NotNegotiated, sender.SendDatagram([1, 2, 3]));
    }

    [Fact]
    public async Task The_peers_max_datagram_frame_size_bounds_the_payload()
    {
        await using var pair = await StartAsync(client: 65535, server: 200);
        // 200 bytes of frame: type (1) + length varint (2) leave 197 of payload.
        Assert.Equal(197, pair.Client.MaxDatagramPayload);
        Assert.Equal(DatagramSendResult.TooLarge, pair.Client.SendDatagram(new byte[198]));
        Assert.Equal(DatagramSendResult.Queued, pair.Client.SendDatagram(new byte[197]));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal(197, (await pair.Server.ReceiveDatagramAsync(timeout.Token)).Length);
    }

    [Fact]
    public async Task Under_congestion_the_send_queue_stays_bounded_and_refuses_rather_than_grows()
    {
        await using var pair = await LoopbackPair.StartAsync(proxy: true, client: c => c.MaxDatagramFrameSize = 65535, server: s => s.MaxDatagramFrameSize = 65535);
        // Nothing reaches the server during the burst, so no ACK opens the window: the client can send about its initial
        // window (ten packets) and must refuse the rest rather than queue it. (With ACKs flowing, how much drains during the
        // loop depends on the machine: 431 of 1000 were accepted once.)
        pair.Proxy!.DropToServer = _ => true;
        var results = new List<DatagramSendResult>();
        for (int i = 0; i < 1000; i++)
            results.Add(pair.Client.SendDatagram(new byte[1100]));
        pair.Proxy.DropToServer = _ => false;
        int queued = results.Count(r => r == DatagramSendResult.Queued);
        Assert.Contains(DatagramSendResult.QueueFull, results);
        Assert.InRange(queued, QuicConnectionCore.MaxQueuedOutboundDatagrams, QuicConnectionCore.MaxQueuedOutboundDatagrams + 32);
        Assert.All(results, r => Assert.True(r is DatagramSendResult.Queued or DatagramSendResult.QueueFull, r.ToString()));
    }

    [Fact]
    public async Task A_slow_reader_loses_the_oldest_datagrams_and_keeps_the_newest()
    {
        await using var pair = await StartAsync();
        const int total = QuicConnectionCore.MaxQueuedInboundDatagrams + 144;
        for (int i = 0; i < total; i++)
        {
            while (pair.Client.SendDatagram(Numbered(i, 8)) == DatagramSendResult.QueueFull)
                await Task.Delay(5);
        }
        // Nobody reads on the server while they arrive; then drain what stayed.
        var received = new List<int>();
        await Task.Delay(500);
        while (true)
        {
            using var quiet = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            try
            {
                var d = await pair.Server.ReceiveDatagramAsync(quiet.Token);
                received.Add(BinaryPrimitives.ReadInt32BigEndian(d.Span));
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        Assert.Equal(QuicConnectionCore.MaxQueuedInboundDatagrams, received.Count);
        Assert.Equal(total - 1, received[^1]);
        Assert.Equal(Enumerable.Range(total - received.Count, received.Count), received);
    }

    [Fact]
    public async Task Receiving_after_close_throws_and_sending_reports_closed()
    {
        var pair = await StartAsync();
        await pair.Client.CloseAsync(7);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var e = await Assert.ThrowsAsync<QuicException>(async () => await pair.Server.ReceiveDatagramAsync(timeout.Token));
        Assert.Equal(7, e.ApplicationErrorCode);
        Assert.Equal(DatagramSendResult.Closed, pair.Client.SendDatagram([1]));
        await pair.DisposeAsync();
    }
}
