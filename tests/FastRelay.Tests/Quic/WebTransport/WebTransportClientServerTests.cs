using System.Buffers;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Http3;
using FastRelay.Protocols.Quic.Http3.Qpack;
using FastRelay.Protocols.Quic.Http3.WebTransport;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Quic.WebTransport;

/// <summary>Our WebTransport client against our WebTransport server over real UDP on loopback.</summary>
public sealed class WebTransportClientServerTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    private static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static async Task<byte[]> ReadAllAsync(WebTransportStream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[16384];
        var all = new MemoryStream();
        int n;
        while ((n = await stream.ReadAsync(buffer, cancellationToken)) > 0)
            all.Write(buffer, 0, n);
        return all.ToArray();
    }

    [Fact]
    public async Task Streams_of_every_kind_carry_every_byte_both_ways()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/wt"));
        using var timeout = new CancellationTokenSource(Limit);
        await using var client = await wt.ConnectAsync("/wt", cancellationToken: timeout.Token);
        var server = await wt.Server.AcceptSessionAsync(timeout.Token);
        Assert.Equal("/wt", server.Path);
        Assert.Equal("https://fastrelay.test", server.Origin);
        Assert.Equal(client.SessionId, server.SessionId);

        // Client bidi, echoed by the server.
        var up = Pattern(300_000, 1);
        var clientBidi = await client.OpenBidirectionalStreamAsync(timeout.Token);
        var write = clientBidi.WriteAsync(up, completeWrites: true, timeout.Token).AsTask();
        var serverBidi = await server.AcceptStreamAsync(timeout.Token);
        Assert.True(serverBidi.IsBidirectional);
        Assert.False(serverBidi.IsLocallyOpened);
        var atServer = await ReadAllAsync(serverBidi, timeout.Token);
        await write;
        await serverBidi.WriteAsync(atServer, completeWrites: true, timeout.Token);
        Assert.Equal(up, await ReadAllAsync(clientBidi, timeout.Token));

        // Server bidi, echoed by the client.
        var down = Pattern(50_000, 2);
        var serverOpened = await server.OpenBidirectionalStreamAsync(timeout.Token);
        await serverOpened.WriteAsync(down, completeWrites: true, timeout.Token);
        var clientAccepted = await client.AcceptStreamAsync(timeout.Token);
        Assert.True(clientAccepted.IsBidirectional);
        await clientAccepted.WriteAsync(await ReadAllAsync(clientAccepted, timeout.Token), completeWrites: true, timeout.Token);
        Assert.Equal(down, await ReadAllAsync(serverOpened, timeout.Token));

        // Uni streams both ways.
        var uniUp = await client.OpenUnidirectionalStreamAsync(timeout.Token);
        uniUp.SendPriority = -2; // the QUIC stream's priority: it orders this stream against the whole connection
        Assert.Equal(-2, uniUp.QuicStream.SendPriority);
        await uniUp.WriteAsync(Pattern(7000, 3), completeWrites: true, timeout.Token);
        var uniAtServer = await server.AcceptStreamAsync(timeout.Token);
        Assert.False(uniAtServer.IsBidirectional);
        Assert.False(uniAtServer.CanWrite);
        Assert.Equal(Pattern(7000, 3), await ReadAllAsync(uniAtServer, timeout.Token));
        var uniDown = await server.OpenUnidirectionalStreamAsync(timeout.Token);
        await uniDown.WriteAsync(Pattern(9000, 4), completeWrites: true, timeout.Token);
        Assert.Equal(Pattern(9000, 4), await ReadAllAsync(await client.AcceptStreamAsync(timeout.Token), timeout.Token));
    }

    [Fact]
    public async Task Datagrams_travel_both_ways_within_the_session()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/wt"));
        using var timeout = new CancellationTokenSource(Limit);
        await using var client = await wt.ConnectAsync("/wt", cancellationToken: timeout.Token);
        var server = await wt.Server.AcceptSessionAsync(timeout.Token);
        Assert.InRange(client.MaxDatagramPayload, 1000, 1450);
        for (int i = 0; i < 10; i++)
            Assert.Equal(DatagramSendResult.Queued, client.SendDatagram(Pattern(100 + i, i)));
        for (int i = 0; i < 10; i++)
            Assert.Equal(Pattern(100 + i, i), (await server.ReceiveDatagramAsync(timeout.Token)).ToArray());
        var big = Pattern(server.MaxDatagramPayload, 77);
        Assert.Equal(DatagramSendResult.Queued, server.SendDatagram(big));
        Assert.Equal(big, (await client.ReceiveDatagramAsync(timeout.Token)).ToArray());
        Assert.Equal(DatagramSendResult.TooLarge, server.SendDatagram(new byte[server.MaxDatagramPayload + 1]));
    }

    [Fact]
    public async Task Closing_with_a_code_and_reason_reaches_the_peer_and_ends_every_stream()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/wt"));
        using var timeout = new CancellationTokenSource(Limit);
        await using var client = await wt.ConnectAsync("/wt", cancellationToken: timeout.Token);
        var server = await wt.Server.AcceptSessionAsync(timeout.Token);
        var clientStream = await client.OpenBidirectionalStreamAsync(timeout.Token);
        await clientStream.WriteAsync(new byte[] { 1 }, cancellationToken: timeout.Token);
        var serverStream = await server.AcceptStreamAsync(timeout.Token);
        Assert.Equal(1, await serverStream.ReadAsync(new byte[10], timeout.Token));

        await client.CloseAsync(0xfeedf00d, "done here");
        var atServer = await server.Closed.WaitAsync(timeout.Token);
        Assert.Equal(new WebTransportCloseInfo(0xfeedf00d, "done here", ByPeer: true), atServer);
        Assert.Equal(new WebTransportCloseInfo(0xfeedf00d, "done here", ByPeer: false), await client.Closed.WaitAsync(timeout.Token));
        // Streams of an ended session are reset with WT_SESSION_GONE; nothing new opens.
        var e = await Assert.ThrowsAsync<WebTransportException>(async () => await serverStream.ReadAsync(new byte[10], timeout.Token));
        Assert.Equal(WebTransportErrorKind.SessionClosed, e.Kind);
        await Assert.ThrowsAsync<WebTransportException>(async () => await server.OpenUnidirectionalStreamAsync(timeout.Token));
        await Assert.ThrowsAsync<WebTransportException>(async () => await server.AcceptStreamAsync(timeout.Token));
        await Assert.ThrowsAsync<WebTransportException>(async () => await server.ReceiveDatagramAsync(timeout.Token));
        Assert.Equal(DatagramSendResult.Closed, server.SendDatagram([1]));
    }

    [Fact]
    public async Task A_server_close_reaches_the_client_with_its_code_and_reason()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/wt"));
        using var timeout = new CancellationTokenSource(Limit);
        await using var client = await wt.ConnectAsync("/wt", cancellationToken: timeout.Token);
        var server = await wt.Server.AcceptSessionAsync(timeout.Token);
        await server.CloseAsync(3, "server says bye");
        Assert.Equal(new WebTransportCloseInfo(3, "server says bye", ByPeer: true), await client.Closed.WaitAsync(timeout.Token));

    }

    [Fact]
    public async Task Drain_reaches_the_peer_and_a_bare_fin_on_the_connect_stream_means_code_zero()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/wt"));
        using var timeout = new CancellationTokenSource(Limit);
        await using var client = await wt.ConnectAsync("/wt", cancellationToken: timeout.Token);
        var first = await wt.Server.AcceptSessionAsync(timeout.Token);
        await first.DrainAsync(timeout.Token);
        await client.Draining.WaitAsync(timeout.Token);
        Assert.False(client.Closed.IsCompleted); // draining is advice, not an end
        // A second session by hand whose CONNECT stream we end with FIN only, as a peer without WT_CLOSE_SESSION does.
        var (status, connectStream) = await ConnectOnSameConnectionAsync(client, "/wt", timeout.Token);
        Assert.Equal(200, status);
        var second = await wt.Server.AcceptSessionAsync(timeout.Token);
        Assert.Equal(connectStream.Id, second.SessionId);
        connectStream.CompleteWrites();
        Assert.Equal(new WebTransportCloseInfo(0, "", ByPeer: true), await second.Closed.WaitAsync(timeout.Token));
        Assert.False(first.Closed.IsCompleted);
    }

    [Fact]
    public async Task Goaway_from_the_server_makes_client_sessions_drain()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/wt"));
        using var timeout = new CancellationTokenSource(Limit);
        await using var client = await wt.ConnectAsync("/wt", cancellationToken: timeout.Token);
        var server = await wt.Server.AcceptSessionAsync(timeout.Token);
        Assert.False(client.Draining.IsCompleted);
        await wt.Server.GoAwayAsync(timeout.Token);
        await client.Draining.WaitAsync(timeout.Token);
        // Still usable: draining is a request to wind down, not an end.
        var uni = await client.OpenUnidirectionalStreamAsync(timeout.Token);
        await uni.WriteAsync(new byte[] { 5 }, completeWrites: true, timeout.Token);
        Assert.Equal([5], await ReadAllAsync(await server.AcceptStreamAsync(timeout.Token), timeout.Token));
    }

    [Fact]
    public async Task Stream_reset_codes_arrive_as_the_applications_32_bit_codes()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/wt"));
        using var timeout = new CancellationTokenSource(Limit);
        await using var client = await wt.ConnectAsync("/wt", cancellationToken: timeout.Token);
        var server = await wt.Server.AcceptSessionAsync(timeout.Token);
        var stream = await client.OpenUnidirectionalStreamAsync(timeout.Token);
        await stream.WriteAsync(new byte[] { 1, 2, 3 }, cancellationToken: timeout.Token);
        var atServer = await server.AcceptStreamAsync(timeout.Token);
        Assert.Equal(3, await atServer.ReadAsync(new byte[3], timeout.Token));
        stream.Reset(0xabcdef12);
        var e = await Assert.ThrowsAsync<WebTransportException>(async () => await atServer.ReadAsync(new byte[3], timeout.Token));
        Assert.Equal(WebTransportErrorKind.StreamAborted, e.Kind);
        Assert.Equal(0xabcdef12u, e.ApplicationErrorCode);
        Assert.Equal(WebTransportErrorCodes.ToHttp3(0xabcdef12), e.Http3ErrorCode);

        var bidi = await server.OpenBidirectionalStreamAsync(timeout.Token);
        var atClient = await client.AcceptStreamAsync(timeout.Token);
        atClient.StopSending(99);
        var stop = await Assert.ThrowsAsync<WebTransportException>(async () =>
        {
            for (int i = 0; i < 100; i++)
            {
                await bidi.WriteAsync(new byte[1000], cancellationToken: timeout.Token);
                await Task.Delay(10, timeout.Token);
            }
        });
        Assert.Equal(99u, stop.ApplicationErrorCode);
    }

    [Theory]
    [InlineData(new[] { "moqt-20", "moqt-19" }, new[] { "moqt-19", "moqt-20" }, "moqt-20")] // the client's preference wins
    [InlineData(new[] { "moqt-18", "moqt-19" }, new[] { "moqt-19" }, "moqt-19")]
    [InlineData(new[] { "other" }, new[] { "moqt-19" }, null)]                              // not required: no protocol
    [InlineData(new string[0], new[] { "moqt-19" }, null)]
    public async Task Subprotocols_are_negotiated_from_the_clients_list(string[] offered, string[] spoken, string? expected)
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/moq", new WebTransportPathOptions { Protocols = spoken }));
        using var timeout = new CancellationTokenSource(Limit);
        await using var client = await wt.ConnectAsync("/moq", offered, cancellationToken: timeout.Token);
        var server = await wt.Server.AcceptSessionAsync(timeout.Token);
        Assert.Equal(expected, client.Protocol);
        Assert.Equal(expected, server.Protocol);
    }

    [Fact]
    public async Task Unknown_paths_missing_protocols_and_refusing_checks_are_refused_with_their_status()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s =>
        {
            s.Map("/moq", new WebTransportPathOptions { Protocols = ["moqt-19"], RequireProtocol = true });
            s.Map("/private", new WebTransportPathOptions { Authorize = r => r.Origin == "https://allowed.test" ? 200 : 403 });
        });
        using var timeout = new CancellationTokenSource(Limit);
        async Task<int?> StatusOf(Func<Task<WebTransportSession>> connect)
        {
            var e = await Assert.ThrowsAsync<WebTransportException>(connect);
            Assert.Equal(WebTransportErrorKind.SessionRefused, e.Kind);
            return e.StatusCode;
        }
        Assert.Equal(404, await StatusOf(() => wt.ConnectAsync("/nope", ["moqt-19"], cancellationToken: timeout.Token)));
        Assert.Equal(400, await StatusOf(() => wt.ConnectAsync("/moq", ["moqt-18"], cancellationToken: timeout.Token)));
        Assert.Equal(400, await StatusOf(() => wt.ConnectAsync("/moq", cancellationToken: timeout.Token)));
        Assert.Equal(403, await StatusOf(() => wt.ConnectAsync("/private", cancellationToken: timeout.Token)));
        await using var ok = await wt.ConnectAsync("/moq", ["moqt-19"], requireProtocol: true, cancellationToken: timeout.Token);
        Assert.Equal("moqt-19", ok.Protocol);
    }

    [Fact]
    public async Task A_client_that_requires_a_protocol_fails_when_the_server_chose_none()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/wt"));
        using var timeout = new CancellationTokenSource(Limit);
        var e = await Assert.ThrowsAsync<WebTransportException>(() => wt.ConnectAsync("/wt", ["moqt-19"], requireProtocol: true, cancellationToken: timeout.Token));
        Assert.Equal(WebTransportErrorKind.ProtocolError, e.Kind);
        Assert.Equal(WebTransportHttp3Error.AlpnError, e.Http3ErrorCode);
    }

    /// <summary>A second CONNECT on the same connection, written by hand (our client opens one connection per session).</summary>
    private static async Task<(int Status, QuicStream Stream)> ConnectOnSameConnectionAsync(WebTransportSession existing, string path, CancellationToken cancellationToken)
    {
        var stream = await existing.Connection.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, cancellationToken);
        var request = new ArrayBufferWriter<byte>();
        Http3FrameCodec.WriteFrame(request, (ulong)Http3FrameType.Headers, QpackEncoder.Encode([
            new(":method", "CONNECT"), new(":protocol", "webtransport"), new(":scheme", "https"), new(":authority", "127.0.0.1"), new(":path", path),
        ]));
        await stream.WriteAsync(request.WrittenMemory, completeWrites: false, cancellationToken);
        var reader = new Http3StreamReader(new QuicHttp3Connection(existing.Connection).Wrap(stream));
        var frame = await reader.ReadFrameHeaderAsync(cancellationToken);
        Assert.Equal((ulong)Http3FrameType.Headers, frame!.Value.Type);
        var fields = await reader.ReadFieldSectionAsync(frame.Value.Length, cancellationToken);
        return (int.Parse(fields.Single(f => f.Name == ":status").Value), stream);
    }

    [Fact]
    public async Task Sessions_per_connection_are_capped()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/wt"), new WebTransportServerOptions { MaxSessionsPerConnection = 2 });
        using var timeout = new CancellationTokenSource(Limit);
        await using var client = await wt.ConnectAsync("/wt", cancellationToken: timeout.Token);
        Assert.Equal(200, (await ConnectOnSameConnectionAsync(client, "/wt", timeout.Token)).Status);
        Assert.Equal(429, (await ConnectOnSameConnectionAsync(client, "/wt", timeout.Token)).Status);
        Assert.Equal(404, (await ConnectOnSameConnectionAsync(client, "/elsewhere", timeout.Token)).Status);
    }

    [Fact]
    public async Task Streams_for_sessions_that_do_not_exist_yet_are_buffered_up_to_the_limit_then_rejected()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/wt"), new WebTransportServerOptions { MaxBufferedStreamsPerConnection = 2 });
        using var timeout = new CancellationTokenSource(Limit);
        await using var client = await wt.ConnectAsync("/wt", cancellationToken: timeout.Token);
        _ = await wt.Server.AcceptSessionAsync(timeout.Token);
        // Streams naming session 400 (a client bidirectional id no CONNECT used yet): two wait, the third is rejected.
        var streams = new List<QuicStream>();
        for (int i = 0; i < 3; i++)
        {
            var s = await client.Connection.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, timeout.Token);
            await s.WriteAsync(new byte[] { 0x40, 0x41, 0x41, 0x90, 0x77 }, completeWrites: false, timeout.Token); // 0x41, varint 400, payload
            streams.Add(s);
            await Task.Delay(100, timeout.Token); // keep the arrival order
        }
        var e = await Assert.ThrowsAsync<QuicException>(async () => await streams[2].ReadAsync(new byte[1], timeout.Token));
        Assert.Equal(WebTransportHttp3Error.BufferedStreamRejected, e.ApplicationErrorCode);
        // The buffered two are still open: nothing came back on them.
        using var quiet = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await streams[0].ReadAsync(new byte[1], quiet.Token));
    }

    [Fact]
    public async Task A_stream_that_arrives_before_its_connect_is_handed_to_the_session_once_it_exists()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/wt"), new WebTransportServerOptions { MaxSessionsPerConnection = 2 });
        using var timeout = new CancellationTokenSource(Limit);
        await using var client = await wt.ConnectAsync("/wt", cancellationToken: timeout.Token);
        _ = await wt.Server.AcceptSessionAsync(timeout.Token);
        // Stream 4 names session 8, whose CONNECT (on stream 8) is only sent afterwards.
        var early = await client.Connection.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, timeout.Token);
        Assert.Equal(4, early.Id);
        await early.WriteAsync(new byte[] { 0x40, 0x41, 0x08, 0xee, 0xff }, completeWrites: true, timeout.Token);
        await Task.Delay(100, timeout.Token);
        var (status, connect) = await ConnectOnSameConnectionAsync(client, "/wt", timeout.Token);
        Assert.Equal(200, status);
        Assert.Equal(8, connect.Id);
        var session = await wt.Server.AcceptSessionAsync(timeout.Token);
        Assert.Equal(8, session.SessionId);
        var stream = await session.AcceptStreamAsync(timeout.Token);
        Assert.Equal(4, stream.Id);
        Assert.Equal([0xee, 0xff], await ReadAllAsync(stream, timeout.Token));
    }

    [Fact]
    public async Task A_stream_for_a_refused_session_is_reset_with_session_gone()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/wt"));
        using var timeout = new CancellationTokenSource(Limit);
        await using var client = await wt.ConnectAsync("/wt", cancellationToken: timeout.Token);
        Assert.Equal(404, (await ConnectOnSameConnectionAsync(client, "/refused", timeout.Token)).Status); // stream 4: session 4 refused
        var s = await client.Connection.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
        await s.WriteAsync(new byte[] { 0x40, 0x54, 0x04, 1, 2 }, completeWrites: false, timeout.Token);
        // The server stops the stream: our writes fail with WT_SESSION_GONE.
        var e = await Assert.ThrowsAsync<QuicException>(async () =>
        {
            for (int i = 0; i < 100; i++)
            {
                await s.WriteAsync(new byte[100], completeWrites: false, timeout.Token);
                await Task.Delay(10, timeout.Token);
            }
        });
        Assert.Equal(WebTransportHttp3Error.SessionGone, e.ApplicationErrorCode);
    }

    [Fact]
    public async Task A_server_without_webtransport_is_reported_as_such()
    {
        var root = Directory.CreateTempSubdirectory("wt-plain-h3-").FullName;
        try
        {
            await using var plain = new Http3Server(root);
            await plain.ListenAsync(new QuicListenerOptions
            {
                ListenEndPoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0),
                ConnectionOptions = new QuicServerConnectionOptions { ServerCertificate = FastRelay.Tests.Quic.Api.LoopbackPair.Certificate.Value, MaxDatagramFrameSize = 1200 },
            });
            using var stop = new CancellationTokenSource();
            var run = plain.RunAsync(stop.Token);
            var e = await Assert.ThrowsAsync<WebTransportException>(() => WebTransportClient.ConnectAsync(
                new Uri($"https://127.0.0.1:{plain.LocalEndPoint.Port}/wt"), new WebTransportClientOptions { SkipCertificateValidation = true }));
            Assert.Equal(WebTransportErrorKind.ProtocolError, e.Kind);
            Assert.Contains("does not offer WebTransport", e.Message);
            stop.Cancel();
            await run;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
