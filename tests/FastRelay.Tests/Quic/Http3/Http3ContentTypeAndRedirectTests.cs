using System.Buffers;
using FastRelay.Cli.Quic;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Http3;
using FastRelay.Protocols.Quic.Http3.Qpack;
using Xunit;

namespace FastRelay.Tests.Quic.Http3;

/// <summary>What browsers and `quic get` need from responses: a content-type on every file, and redirects followed.</summary>
public sealed class Http3ContentTypeAndRedirectTests
{
    [Theory]
    [InlineData("app.mjs", "text/javascript; charset=utf-8")]
    [InlineData("app.JS", "text/javascript; charset=utf-8")]
    [InlineData("index.html", "text/html; charset=utf-8")]
    [InlineData("style.css", "text/css; charset=utf-8")]
    [InlineData("data.json", "application/json")]
    [InlineData("module.wasm", "application/wasm")]
    [InlineData("image.png", "image/png")]
    [InlineData("icon.svg", "image/svg+xml")]
    [InlineData("notes.txt", "text/plain; charset=utf-8")]
    [InlineData("blob.bin", "application/octet-stream")]
    [InlineData("no-extension", "application/octet-stream")]
    public void Content_type_by_extension(string file, string expected) => Assert.Equal(expected, Http3StaticFiles.ContentTypeFor(file));

    [Fact]
    public async Task The_server_sends_the_content_type_of_each_file()
    {
        var dir = Directory.CreateTempSubdirectory("fastrelay-ct-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "app.mjs"), "export const x = 1;\n");
            File.WriteAllText(Path.Combine(dir, "empty.css"), "");
            var (clientSide, serverSide) = InMemoryHttp3Connection.CreatePair();
            using var shutdown = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var serving = new Http3Server(dir).ServeConnectionAsync(serverSide, shutdown.Token);
            await using (var client = await Http3Client.StartAsync(clientSide))
            {
                var module = await client.GetAsync("localhost", "/app.mjs", new MemoryStream()).WaitAsync(TimeSpan.FromSeconds(30));
                Assert.Contains(new HttpField("content-type", "text/javascript; charset=utf-8"), module.Headers);
                var empty = await client.SendAsync("HEAD", "localhost", "/empty.css", new MemoryStream()).WaitAsync(TimeSpan.FromSeconds(30));
                Assert.Contains(new HttpField("content-type", "text/css; charset=utf-8"), empty.Headers);
            }
            shutdown.Cancel();
            await serving.WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static byte[] Answer(IEnumerable<HttpField> fields, byte[]? body = null)
    {
        var output = new ArrayBufferWriter<byte>();
        Http3FrameCodec.WriteFrame(output, (ulong)Http3FrameType.Headers, QpackEncoder.Encode(fields));
        if (body is not null) Http3FrameCodec.WriteFrame(output, (ulong)Http3FrameType.Data, body);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>A fake server that answers its request streams in order with <paramref name="answers"/> and records the paths.</summary>
    private static async Task<(Http3Client Client, List<string> Paths, Task Serving)> FakeServer(params byte[][] answers)
    {
        var (clientSide, serverSide) = InMemoryHttp3Connection.CreatePair();
        var control = await serverSide.OpenOutboundStreamAsync(QuicStreamType.Unidirectional);
        var settings = new ArrayBufferWriter<byte>();
        Http3FrameCodec.WriteVarint(settings, 0);
        Http3Settings.Ours.WriteFrame(settings);
        await control.WriteAsync(settings.WrittenMemory, false);
        var client = await Http3Client.StartAsync(clientSide);
        var paths = new List<string>();
        var serving = Task.Run(async () =>
        {
            foreach (var answer in answers)
            {
                IHttp3Stream stream;
                do
                    stream = await serverSide.AcceptInboundStreamAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
                while (stream.Type != QuicStreamType.Bidirectional);
                var reader = new Http3StreamReader(stream);
                var head = await reader.ReadFrameHeaderAsync(CancellationToken.None);
                var fields = await reader.ReadFieldSectionAsync((long)head!.Value.Length, CancellationToken.None);
                lock (paths) paths.Add(fields.First(f => f.Name == ":path").Value);
                await stream.WriteAsync(answer, true);
            }
        });
        return (client, paths, serving);
    }

    [Fact]
    public async Task Quic_get_follows_a_same_origin_redirect_and_keeps_only_the_final_body()
    {
        var (client, paths, serving) = await FakeServer(
            Answer([new HttpField(":status", "301"), new HttpField("location", "/real/file.txt")], "moved"u8.ToArray()),
            Answer([new HttpField(":status", "200")], "the file"u8.ToArray()));
        await using (client)
        {
            var sink = new MemoryStream();
            var (response, final, refusal) = await QuicGetRunner.GetFollowingRedirectsAsync(client, new Uri("https://localhost:4433/old"), sink, null,
                CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
            await serving.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(200, response.StatusCode);
            Assert.Equal(new Uri("https://localhost:4433/real/file.txt"), final);
            Assert.Null(refusal);
            Assert.Equal("the file", System.Text.Encoding.ASCII.GetString(sink.ToArray()));
            Assert.Equal(["/old", "/real/file.txt"], paths);
        }
    }

    [Fact]
    public async Task Quic_get_reports_a_redirect_to_another_origin_instead_of_following_it()
    {
        var (client, paths, serving) = await FakeServer(
            Answer([new HttpField(":status", "302"), new HttpField("location", "https://elsewhere.example/x")]));
        await using (client)
        {
            var (response, final, refusal) = await QuicGetRunner.GetFollowingRedirectsAsync(client, new Uri("https://localhost:4433/old"), new MemoryStream(),
                null, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(302, response.StatusCode);
            Assert.Equal(new Uri("https://localhost:4433/old"), final);
            Assert.Contains("another origin", refusal);
            Assert.Contains("https://elsewhere.example/x", refusal);
        }
    }

    [Fact]
    public void A_redirect_loop_is_bounded()
    {
        var redirect = new Http3Response(308, 0, 0, [new HttpField("location", "/same")]);
        Assert.Equal(new Uri("https://h:1/same"), QuicGetRunner.SameOriginRedirect(new Uri("https://h:1/x"), redirect, out _));
        Assert.Null(QuicGetRunner.SameOriginRedirect(new Uri("https://h:1/x"), new Http3Response(304, 0, 0, []), out var none));
        Assert.Null(none);
    }
}
