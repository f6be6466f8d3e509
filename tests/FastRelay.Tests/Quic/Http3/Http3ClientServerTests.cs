using System.Buffers;
using System.Security.Cryptography;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Http3;
using FastRelay.Protocols.Quic.Http3.Qpack;
using Xunit;

namespace FastRelay.Tests.Quic.Http3;

/// <summary>Http3Client against Http3Server (and against hand-written peers) over the in-memory transport.</summary>
public sealed class Http3ClientServerTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrelay-h3-").FullName;
    private readonly CancellationTokenSource _shutdown = new(TimeSpan.FromSeconds(60));
    private string Root => Path.Combine(_dir, "root");
    private byte[] _big = [];
    private InMemoryHttp3Connection _clientSide = null!, _serverSide = null!;
    private Task _serving = Task.CompletedTask;
    private Http3Client _client = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Path.Combine(Root, "sub"));
        File.WriteAllText(Path.Combine(Root, "hello.txt"), "hello, http/3\n");
        File.WriteAllText(Path.Combine(Root, "sub", "index.html"), "<p>index</p>");
        File.WriteAllText(Path.Combine(Root, "empty.txt"), "");
        File.WriteAllText(Path.Combine(_dir, "secret.txt"), "outside the root");
        File.CreateSymbolicLink(Path.Combine(Root, "escape.txt"), Path.Combine(_dir, "secret.txt"));
        File.CreateSymbolicLink(Path.Combine(Root, "inside.txt"), Path.Combine(Root, "hello.txt"));
        Directory.CreateSymbolicLink(Path.Combine(Root, "up"), _dir);
        _big = RandomNumberGenerator.GetBytes(5 * 1024 * 1024 + 123);
        File.WriteAllBytes(Path.Combine(Root, "big.bin"), _big);

        (_clientSide, _serverSide) = InMemoryHttp3Connection.CreatePair();
        var server = new Http3Server(Root);
        _serving = server.ServeConnectionAsync(_serverSide, _shutdown.Token);
        _client = await Http3Client.StartAsync(_clientSide);
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        _shutdown.Cancel();
        await _serving.WaitAsync(TimeSpan.FromSeconds(10));
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<(Http3Response Response, byte[] Body)> Get(string path, string method = "GET")
    {
        var body = new MemoryStream();
        var response = await _client.SendAsync(method, "localhost", path, body).WaitAsync(TimeSpan.FromSeconds(30));
        return (response, body.ToArray());
    }

    [Fact]
    public async Task Get_small_file()
    {
        var (response, body) = await Get("/hello.txt");
        Assert.Equal(200, response.StatusCode);
        Assert.Equal("hello, http/3\n", System.Text.Encoding.ASCII.GetString(body));
        Assert.Equal(14, response.ContentLength);
        Assert.Equal(14, response.BodyLength);
        var settings = await _client.PeerSettings;
        Assert.Equal(0UL, settings.QpackMaxTableCapacity);
    }

    [Fact]
    public async Task Head_has_length_but_no_body()
    {
        var (response, body) = await Get("/big.bin", "HEAD");
        Assert.Equal(200, response.StatusCode);
        Assert.Equal(_big.Length, response.ContentLength);
        Assert.Empty(body);
    }

    [Fact]
    public async Task Large_body_streams_byte_identical()
    {
        var (response, body) = await Get("/big.bin");
        Assert.Equal(200, response.StatusCode);
        Assert.Equal(_big.Length, response.BodyLength);
        Assert.True(_big.AsSpan().SequenceEqual(body));
    }

    [Fact]
    public async Task Directory_serves_index_and_empty_file_works()
    {
        Assert.Equal("<p>index</p>", System.Text.Encoding.ASCII.GetString((await Get("/sub/")).Body));
        var (empty, body) = await Get("/empty.txt?x=1");
        Assert.Equal((200, 0L), (empty.StatusCode, empty.BodyLength));
        Assert.Empty(body);
    }

    [Theory]
    [InlineData("/missing.txt", 404)]
    [InlineData("/", 404)]                        // no index.html at the root
    [InlineData("/../secret.txt", 400)]
    [InlineData("/sub/../../secret.txt", 400)]
    [InlineData("/%2e%2e/secret.txt", 400)]
    [InlineData("/%2E%2E%2Fsecret.txt", 400)]
    [InlineData("/sub/%2e%2e/hello.txt", 400)]
    [InlineData("/escape.txt", 404)]             // symlink pointing outside the root
    [InlineData("/up/secret.txt", 404)]          // directory symlink outside the root
    [InlineData("/hello.txt%00", 400)]
    [InlineData("/bad%zzescape", 400)]
    [InlineData("/..%5csecret.txt", 400)]
    [InlineData("secret.txt", 400)]
    public async Task Bad_paths_are_refused(string path, int status)
    {
        var (response, body) = await Get(path);
        Assert.Equal(status, response.StatusCode);
        Assert.Empty(body);
        Assert.DoesNotContain("outside", System.Text.Encoding.ASCII.GetString(body));
    }

    [Fact]
    public async Task Symlink_inside_the_root_is_served()
    {
        var (response, body) = await Get("/inside.txt");
        Assert.Equal(200, response.StatusCode);
        Assert.Equal(14, body.Length);
    }

    [Fact]
    public async Task Other_methods_get_405()
    {
        var (response, _) = await Get("/hello.txt", "POST");
        Assert.Equal(405, response.StatusCode);
        Assert.Contains(new HttpField("allow", "GET, HEAD"), response.Headers);
    }

    [Fact]
    public async Task Many_concurrent_requests_on_one_connection()
    {
        var tasks = Enumerable.Range(0, 60).Select(i => Get(i % 3 == 0 ? "/big.bin" : "/hello.txt")).ToList();
        var results = await Task.WhenAll(tasks);
        for (int i = 0; i < results.Length; i++)
        {
            Assert.Equal(200, results[i].Response.StatusCode);
            Assert.Equal(i % 3 == 0 ? _big.Length : 14, results[i].Body.Length);
        }
    }

    [Fact]
    public async Task Server_aborts_malformed_request_with_message_error()
    {
        var stream = (InMemoryHttp3Connection.Endpoint)await _clientSide.OpenOutboundStreamAsync(QuicStreamType.Bidirectional);
        // Upper-case name and no :path: malformed (§4.2, §4.3.1).
        var section = QpackEncoder.Encode([new HttpField(":method", "GET"), new HttpField(":scheme", "https"), new HttpField("X-Upper", "1")]);
        var output = new ArrayBufferWriter<byte>();
        Http3FrameCodec.WriteFrame(output, (ulong)Http3FrameType.Headers, section);
        await stream.WriteAsync(output.WrittenMemory, true);
        var error = await Assert.ThrowsAsync<QuicException>(async () => await stream.ReadAsync(new byte[10]).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal((long)Http3ErrorCode.MessageError, error.ApplicationErrorCode);
        Assert.Equal((long)Http3ErrorCode.MessageError, stream.Writes!.StopSendingCode);
        // The connection survives a stream error.
        Assert.Equal(200, (await Get("/hello.txt")).Response.StatusCode);
    }

    [Fact]
    public async Task Server_closes_connection_on_dynamic_table_reference()
    {
        var stream = await _clientSide.OpenOutboundStreamAsync(QuicStreamType.Bidirectional);
        var output = new ArrayBufferWriter<byte>();
        Http3FrameCodec.WriteFrame(output, (ulong)Http3FrameType.Headers, [0x02, 0x00, 0x80]); // RIC 2, indexed dynamic
        await stream.WriteAsync(output.WrittenMemory, true);
        await WaitForClose(_serverSide);
        Assert.Equal((long)Http3ErrorCode.QpackDecompressionFailed, _serverSide.ClosedWith);
    }

    [Fact]
    public async Task Server_closes_connection_on_data_before_headers()
    {
        var stream = await _clientSide.OpenOutboundStreamAsync(QuicStreamType.Bidirectional);
        var output = new ArrayBufferWriter<byte>();
        Http3FrameCodec.WriteFrame(output, (ulong)Http3FrameType.Data, [1, 2]);
        await stream.WriteAsync(output.WrittenMemory, true);
        await WaitForClose(_serverSide);
        Assert.Equal((long)Http3ErrorCode.FrameUnexpected, _serverSide.ClosedWith);
    }

    [Fact]
    public async Task Second_control_stream_is_a_stream_creation_error()
    {
        var control = await _clientSide.OpenOutboundStreamAsync(QuicStreamType.Unidirectional);
        var output = new ArrayBufferWriter<byte>();
        Http3FrameCodec.WriteVarint(output, 0);
        Http3Settings.Ours.WriteFrame(output);
        await control.WriteAsync(output.WrittenMemory, false);
        await WaitForClose(_serverSide);
        Assert.Equal((long)Http3ErrorCode.StreamCreationError, _serverSide.ClosedWith);
    }

    [Fact]
    public async Task Unknown_unidirectional_stream_type_gets_stop_sending()
    {
        var stream = (InMemoryHttp3Connection.Endpoint)await _clientSide.OpenOutboundStreamAsync(QuicStreamType.Unidirectional);
        await stream.WriteAsync(new byte[] { 0x21, 1, 2, 3 }, false);
        for (int i = 0; i < 200 && stream.Writes!.StopSendingCode is null; i++)
            await Task.Delay(10);
        Assert.Equal((long)Http3ErrorCode.StreamCreationError, stream.Writes!.StopSendingCode);
        Assert.Null(_serverSide.ClosedWith);
    }

    [Fact]
    public async Task Server_shutdown_sends_goaway_then_closes_with_no_error()
    {
        Assert.Equal(200, (await Get("/hello.txt")).Response.StatusCode);
        _shutdown.Cancel();
        await _serving.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((long)Http3ErrorCode.NoError, _serverSide.ClosedWith);
    }

    /// <summary>The close is recorded right after the failing task completes: wait for it rather than race it.</summary>
    internal static async Task WaitForClose(InMemoryHttp3Connection side)
    {
        for (int i = 0; i < 500 && side.ClosedWith is null; i++)
            await Task.Delay(10);
    }
}

/// <summary>The client against hand-written server behaviour.</summary>
public sealed class Http3ClientValidationTests
{
    private static byte[] Response(IEnumerable<HttpField> fields, params byte[][] data)
    {
        var output = new ArrayBufferWriter<byte>();
        Http3FrameCodec.WriteFrame(output, (ulong)Http3FrameType.Headers, QpackEncoder.Encode(fields));
        foreach (var chunk in data)
            Http3FrameCodec.WriteFrame(output, (ulong)Http3FrameType.Data, chunk);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>Runs one GET against a fake server that answers the request stream with <paramref name="answer"/>.</summary>
    private static async Task<(Task<Http3Response> Request, InMemoryHttp3Connection.Endpoint ServerStream, InMemoryHttp3Connection Client)> Run(byte[] answer)
    {
        var (clientSide, serverSide) = InMemoryHttp3Connection.CreatePair();
        var control = await serverSide.OpenOutboundStreamAsync(QuicStreamType.Unidirectional);
        var settings = new ArrayBufferWriter<byte>();
        Http3FrameCodec.WriteVarint(settings, 0);
        Http3Settings.Ours.WriteFrame(settings);
        await control.WriteAsync(settings.WrittenMemory, false);
        var client = await Http3Client.StartAsync(clientSide);
        var request = client.GetAsync("localhost", "/x", new MemoryStream());
        IHttp3Stream stream;
        do
            stream = await serverSide.AcceptInboundStreamAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        while (stream.Type != QuicStreamType.Bidirectional);
        await stream.WriteAsync(answer, true);
        return (request, (InMemoryHttp3Connection.Endpoint)stream, clientSide);
    }

    [Fact]
    public async Task Well_formed_response_with_interim_and_unknown_frames()
    {
        var output = new ArrayBufferWriter<byte>();
        Http3FrameCodec.WriteFrame(output, (ulong)Http3FrameType.Headers, QpackEncoder.Encode([new HttpField(":status", "103")]));
        Http3FrameCodec.WriteFrame(output, 0x21, [9, 9, 9]);
        output.Write(Response([new HttpField(":status", "200"), new HttpField("content-length", "5")], [1, 2], [3, 4, 5]));
        var (request, _, _) = await Run(output.WrittenSpan.ToArray());
        var response = await request.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((200, 5L), (response.StatusCode, response.BodyLength));
    }

    [Theory]
    [InlineData("content-length", "9")]   // fewer body bytes than announced
    [InlineData("content-length", "1")]   // more body bytes than announced
    [InlineData("connection", "close")]   // connection-specific field
    [InlineData(":path", "/")]            // request pseudo-header in a response
    public async Task Malformed_response_aborts_the_stream_with_message_error(string name, string value)
    {
        var (request, serverStream, client) = await Run(Response([new HttpField(":status", "200"), new HttpField(name, value)], [1, 2, 3]));
        var error = await Assert.ThrowsAsync<Http3Exception>(() => request.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(Http3ErrorCode.MessageError, error.Code);
        Assert.Equal((long)Http3ErrorCode.MessageError, serverStream.Writes!.StopSendingCode);
        Assert.Null(client.ClosedWith);
    }

    [Fact]
    public async Task Missing_status_is_message_error()
    {
        var (request, _, _) = await Run(Response([new HttpField("server", "x")]));
        Assert.Equal(Http3ErrorCode.MessageError, (await Assert.ThrowsAsync<Http3Exception>(() => request.WaitAsync(TimeSpan.FromSeconds(10)))).Code);
    }

    [Fact]
    public async Task Push_promise_closes_the_connection_with_id_error()
    {
        var output = new ArrayBufferWriter<byte>();
        Http3FrameCodec.WriteFrame(output, (ulong)Http3FrameType.PushPromise, [0x00, 0x00, 0x00]);
        var (request, _, client) = await Run(output.WrittenSpan.ToArray());
        Assert.Equal(Http3ErrorCode.IdError, (await Assert.ThrowsAsync<Http3Exception>(() => request.WaitAsync(TimeSpan.FromSeconds(10)))).Code);
        await Http3ClientServerTests.WaitForClose(client);
        Assert.Equal((long)Http3ErrorCode.IdError, client.ClosedWith);
    }

    [Fact]
    public async Task Control_stream_without_settings_first_is_missing_settings()
    {
        var (clientSide, serverSide) = InMemoryHttp3Connection.CreatePair();
        await using var client = await Http3Client.StartAsync(clientSide);
        var control = await serverSide.OpenOutboundStreamAsync(QuicStreamType.Unidirectional);
        var output = new ArrayBufferWriter<byte>();
        Http3FrameCodec.WriteVarint(output, 0);
        Http3FrameCodec.WriteSingleVarintFrame(output, Http3FrameType.GoAway, 0);
        await control.WriteAsync(output.WrittenMemory, false);
        await Assert.ThrowsAsync<Http3Exception>(() => client.PeerSettings.WaitAsync(TimeSpan.FromSeconds(10)));
        await Http3ClientServerTests.WaitForClose(clientSide);
        Assert.Equal((long)Http3ErrorCode.MissingSettings, clientSide.ClosedWith);
    }

    [Fact]
    public async Task Closing_the_control_stream_is_closed_critical_stream()
    {
        var (clientSide, serverSide) = InMemoryHttp3Connection.CreatePair();
        await using var client = await Http3Client.StartAsync(clientSide);
        var control = await serverSide.OpenOutboundStreamAsync(QuicStreamType.Unidirectional);
        var output = new ArrayBufferWriter<byte>();
        Http3FrameCodec.WriteVarint(output, 0);
        Http3Settings.Ours.WriteFrame(output);
        await control.WriteAsync(output.WrittenMemory, true);
        for (int i = 0; i < 500 && clientSide.ClosedWith is null; i++)
            await Task.Delay(10);
        Assert.Equal((long)Http3ErrorCode.ClosedCriticalStream, clientSide.ClosedWith);
    }
}
