using FastRelay.Protocols.Quic.Api;
using FastRelay.Tests.Quic.Api;
using Xunit;

namespace FastRelay.Tests.Quic.Io;

/// <summary>
/// Our QUIC server sending to our client over loopback with UDP GSO on, off, and switched off on a live connection
/// (what the kernel fast path needs for its subscribers: it must see, and renumber, each packet on its own).
/// </summary>
public sealed class SegmentationOffloadLoopbackTests
{
    private static byte[] Payload(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        return bytes;
    }

    /// <summary>The server writes <paramref name="payload"/> on a stream it opens; the client reads it to the end.</summary>
    private static async Task<byte[]> ServerToClientAsync(LoopbackPair pair, byte[] payload)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var serverStream = await pair.Server.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
        var write = serverStream.WriteAsync(payload, completeWrites: true, timeout.Token).AsTask();
        var clientStream = await pair.Client.AcceptInboundStreamAsync(timeout.Token);
        var received = new MemoryStream();
        await clientStream.CopyToAsync(received, timeout.Token);
        await write;
        return received.ToArray();
    }

    [Fact]
    public async Task A_bulk_transfer_goes_out_in_super_packets_and_arrives_byte_exact()
    {
        await using var pair = await LoopbackPair.StartAsync();
        Assert.True(pair.Server.AllowSegmentationOffload);
        var payload = Payload(8 << 20);
        Assert.Equal(payload, await ServerToClientAsync(pair, payload));
        var stats = pair.Listener.SocketStatistics;
        Assert.True(stats.SegmentationOffload);
        Assert.True(stats.SegmentedMessages > 0, "no super-packet sent");
        // 8 MiB is over 5,800 full packets: with bursts in one call each, far fewer send calls than packets.
        Assert.True(stats.SendCalls < 5_800 / 2, $"{stats.SendCalls} send calls");
    }

    [Fact]
    public async Task A_connection_that_disallows_segmentation_never_sends_a_super_packet()
    {
        await using var pair = await LoopbackPair.StartAsync(server: s => s.AllowSegmentationOffload = false);
        Assert.False(pair.Server.AllowSegmentationOffload);
        var payload = Payload(4 << 20);
        Assert.Equal(payload, await ServerToClientAsync(pair, payload));
        Assert.Equal(0, pair.Listener.SocketStatistics.SegmentedMessages);
        Assert.True(pair.Listener.SocketStatistics.SegmentationOffload, "the socket still has it; this connection does not use it");
    }

    [Fact]
    public async Task A_listener_without_receive_coalescing_still_takes_a_clients_super_packets_one_datagram_at_a_time()
    {
        await using var pair = await LoopbackPair.StartAsync(listener: l => l.ReceiveCoalescing = false);
        Assert.False(pair.Listener.SocketStatistics.ReceiveCoalescing);
        Assert.True(pair.Client.SocketStatistics.ReceiveCoalescing);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var payload = Payload(4 << 20);
        var stream = await pair.Client.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
        var write = stream.WriteAsync(payload, completeWrites: true, timeout.Token).AsTask();
        var reader = await pair.Server.AcceptInboundStreamAsync(timeout.Token);
        var received = new MemoryStream();
        await reader.CopyToAsync(received, timeout.Token);
        await write;
        Assert.Equal(payload, received.ToArray());
        // The client sent super-packets; the kernel cut them up for the listener, which read them as plain datagrams.
        Assert.True(pair.Client.SocketStatistics.SegmentedMessages > 0);
    }

    [Fact]
    public async Task Switching_segmentation_off_on_a_live_connection_stops_super_packets_from_the_next_burst()
    {
        await using var pair = await LoopbackPair.StartAsync();
        var first = Payload(4 << 20);
        Assert.Equal(first, await ServerToClientAsync(pair, first));
        long segmented = pair.Listener.SocketStatistics.SegmentedMessages;
        Assert.True(segmented > 0);

        pair.Server.AllowSegmentationOffload = false;
        var second = Payload(3 << 20);
        Assert.Equal(second, await ServerToClientAsync(pair, second));
        Assert.Equal(segmented, pair.Listener.SocketStatistics.SegmentedMessages);
    }
}
