using System.Buffers;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Http3;
using FastRelay.Protocols.Quic.Http3.Qpack;
using FastRelay.Protocols.Quic.Http3.WebTransport;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Quic.WebTransport;

/// <summary>What the server does with a peer that breaks the rules: the right error, at the right scope, and no hang.</summary>
public sealed class WebTransportHostileInputTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    private static async Task<long?> ConnectionCloseCodeAsync(WebTransportSession session, CancellationToken cancellationToken)
    {
        await session.Connection.Closed.WaitAsync(cancellationToken);
        var e = await Assert.ThrowsAsync<QuicException>(async () => await session.Connection.AcceptInboundStreamAsync(cancellationToken));
        return e.ApplicationErrorCode;
    }

    [Fact]
    public async Task A_datagram_without_a_quarter_stream_id_closes_the_connection_with_h3_datagram_error()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/wt"));
        using var timeout = new CancellationTokenSource(Limit);
        await using var client = await wt.ConnectAsync("/wt", cancellationToken: timeout.Token);
        _ = await wt.Server.AcceptSessionAsync(timeout.Token);
        // 0x40 starts a 2-byte varint that is not there.
        Assert.Equal(Protocols.Quic.Connection.DatagramSendResult.Queued, client.Connection.SendDatagram([0x40]));
        Assert.Equal(0x33, await ConnectionCloseCodeAsync(client, timeout.Token));
        Assert.True((await client.Closed.WaitAsync(timeout.Token)).Abrupt);
    }

    [Fact]
    public async Task A_stream_naming_a_session_id_that_is_not_a_client_bidi_stream_is_an_id_error()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/wt"));
        using var timeout = new CancellationTokenSource(Limit);
        await using var client = await wt.ConnectAsync("/wt", cancellationToken: timeout.Token);
        _ = await wt.Server.AcceptSessionAsync(timeout.Token);
        var s = await client.Connection.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
        await s.WriteAsync(new byte[] { 0x40, 0x54, 0x02 }, completeWrites: true, timeout.Token); // session id 2: server-initiated
        Assert.Equal((long)Http3ErrorCode.IdError, await ConnectionCloseCodeAsync(client, timeout.Token));
    }

    [Fact]
    public async Task A_malformed_connect_resets_only_its_stream()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/wt"));
        using var timeout = new CancellationTokenSource(Limit);
        await using var client = await wt.ConnectAsync("/wt", cancellationToken: timeout.Token);
        var stream = await client.Connection.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, timeout.Token);
        var request = new ArrayBufferWriter<byte>();
        Http3FrameCodec.WriteFrame(request, (ulong)Http3FrameType.Headers, QpackEncoder.Encode([
            new(":method", "CONNECT"), new(":protocol", "webtransport"), new(":authority", "x"), // no :scheme, no :path
        ]));
        await stream.WriteAsync(request.WrittenMemory, completeWrites: false, timeout.Token);
        var e = await Assert.ThrowsAsync<QuicException>(async () => await stream.ReadAsync(new byte[16], timeout.Token));
        Assert.Equal((long)Http3ErrorCode.MessageError, e.ApplicationErrorCode);
        // The established session is untouched.
        var server = await wt.Server.AcceptSessionAsync(timeout.Token);
        Assert.False(server.Closed.IsCompleted);
        Assert.False(client.Closed.IsCompleted);
    }

    [Fact]
    public async Task An_oversized_close_capsule_aborts_the_session_with_a_message_error_and_nothing_else()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/wt"), new WebTransportServerOptions { MaxSessionsPerConnection = 2 });
        using var timeout = new CancellationTokenSource(Limit);
        await using var client = await wt.ConnectAsync("/wt", cancellationToken: timeout.Token);
        var first = await wt.Server.AcceptSessionAsync(timeout.Token);
        // A second session by hand, then a DATA frame announcing a 2000-byte WT_CLOSE_SESSION.
        var stream = await client.Connection.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, timeout.Token);
        var bytes = new ArrayBufferWriter<byte>();
        Http3FrameCodec.WriteFrame(bytes, (ulong)Http3FrameType.Headers, QpackEncoder.Encode([
            new(":method", "CONNECT"), new(":protocol", "webtransport"), new(":scheme", "https"), new(":authority", "x"), new(":path", "/wt"),
        ]));
        var capsule = new ArrayBufferWriter<byte>();
        Capsule.Write(capsule, CapsuleType.CloseSession, new byte[2000]);
        Http3FrameCodec.WriteFrame(bytes, (ulong)Http3FrameType.Data, capsule.WrittenSpan);
        await stream.WriteAsync(bytes.WrittenMemory, completeWrites: false, timeout.Token);
        var second = await wt.Server.AcceptSessionAsync(timeout.Token);
        var info = await second.Closed.WaitAsync(timeout.Token);
        Assert.True(info.Abrupt);
        Assert.False(info.ByPeer);
        Assert.False(first.Closed.IsCompleted);
        Assert.False(client.Connection.Closed.IsCompleted);
    }

    [Fact]
    public async Task Losing_the_connection_ends_every_session_abruptly()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/wt"));
        using var timeout = new CancellationTokenSource(Limit);
        var client = await wt.ConnectAsync("/wt", cancellationToken: timeout.Token);
        var server = await wt.Server.AcceptSessionAsync(timeout.Token);
        var stream = await server.OpenUnidirectionalStreamAsync(timeout.Token);
        await client.Connection.CloseAsync(0x42);
        var info = await server.Closed.WaitAsync(timeout.Token);
        Assert.True(info.Abrupt);
        Assert.True(info.ByPeer);
        await Assert.ThrowsAsync<WebTransportException>(async () => await server.AcceptStreamAsync(timeout.Token));
        await client.DisposeAsync();
    }
}
