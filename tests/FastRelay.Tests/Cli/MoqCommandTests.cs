using System.CommandLine;
using System.Text.Json;
using FastRelay.Cli.Commands;
using FastRelay.Protocols.Moq.Clients;
using FastRelay.Tests.Moq.Clients;
using Xunit;

namespace FastRelay.Tests.Cli;

/// <summary>`fastrelay moq publish | subscribe`: help, argument errors, exit codes and reports, over an in-memory connector.</summary>
[Collection(MoqTimingCollection.Name)]
public sealed class MoqCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrelay-moqcli-").FullName;

    private static async Task<(int Exit, string Out, string Error)> Run(IMoqClientConnector? connector, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var env = new MoqCommandEnvironment
        {
            Out = output,
            Error = error,
            Connector = connector is null ? MoqCommandEnvironment.Default.Connector : _ => connector,
        };
        var root = new RootCommand { MoqCommand.Create(env) };
        var exit = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        return (exit, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("publish", "--bitrate", "--gop", "--key-ratio", "--subgroups", "--input", "--framing", "--stamp", "--auth-token", "--insecure", "--trust-cert", "--json", "--count")]
    [InlineData("subscribe", "--start", "--fetch", "--expect", "--json", "--output", "--auth-token", "--duration")]
    public async Task Help_lists_every_option(string verb, params string[] options)
    {
        var (exit, output, _) = await Run(null, "moq", verb, "--help");
        Assert.Equal(0, exit);
        Assert.Contains("moqt://HOST:PORT/PATH", output);
        foreach (var option in options) Assert.Contains(option, output);
    }

    [Theory]
    [InlineData("fastrelay: --bitrate: '3Q'", "moq", "publish", "moqt://127.0.0.1:1/", "-n", "a", "-t", "v", "--bitrate", "3Q")]
    [InlineData("fastrelay: --gop must be", "moq", "publish", "moqt://127.0.0.1:1/", "-n", "a", "-t", "v", "--gop", "0")]
    [InlineData("fastrelay: --subgroups per-frame", "moq", "publish", "moqt://127.0.0.1:1/", "-n", "a", "-t", "v", "--subgroups", "per-frame")]
    [InlineData("fastrelay: --framing: 'chunks'", "moq", "publish", "moqt://127.0.0.1:1/", "-n", "a", "-t", "v", "--input", "-", "--framing", "chunks")]
    [InlineData("does not exist", "moq", "publish", "moqt://127.0.0.1:1/", "-n", "a", "-t", "v", "--input", "/nonexistent/file.mp4")]
    [InlineData("the scheme must be moqt://", "moq", "subscribe", "http://127.0.0.1:1/", "-n", "a", "-t", "v")]
    [InlineData("--namespace/--track: 'a//b'", "moq", "subscribe", "moqt://127.0.0.1:1/", "-n", "a//b", "-t", "v")]
    [InlineData("fastrelay: --start: 'yesterday'", "moq", "subscribe", "moqt://127.0.0.1:1/", "-n", "a", "-t", "v", "--start", "yesterday")]
    [InlineData("--trust-cert /nonexistent.pem does not exist", "moq", "subscribe", "moqt://127.0.0.1:1/", "-n", "a", "-t", "v", "--trust-cert", "/nonexistent.pem")]
    [InlineData("--priority must be 0..255", "moq", "subscribe", "moqt://127.0.0.1:1/", "-n", "a", "-t", "v", "--priority", "300")]
    public async Task Bad_arguments_are_one_line_errors_with_exit_1(string message, params string[] args)
    {
        var (exit, _, error) = await Run(new InMemoryMoqConnector(), args);
        Assert.Equal(1, exit);
        Assert.Contains(message, error);
        Assert.DoesNotContain("   at ", error); // no stack trace
    }

    [Fact]
    public async Task A_missing_required_option_is_a_parse_error()
    {
        var (exit, _, error) = await Run(null, "moq", "publish", "moqt://127.0.0.1:1/", "-t", "v");
        Assert.NotEqual(0, exit);
        Assert.Contains("--namespace", error);
    }

    [Fact]
    public async Task Publish_and_subscribe_report_as_json_and_exit_0_when_everything_arrived()
    {
        var connector = new InMemoryMoqConnector();
        var subscriberJson = Path.Combine(_dir, "sub.json");
        var publisherJson = Path.Combine(_dir, "pub.json");
        var subscribe = Run(connector, "moq", "subscribe", "moqt://127.0.0.1:4443/", "-n", "live/cam", "-t", "video", "--expect", "40", "--duration", "20", "--json", subscriberJson);
        while (connector.SubscriptionCount == 0) await Task.Delay(10);

        var publish = await Run(connector, "moq", "publish", "moqt://127.0.0.1:4443/", "-n", "live/cam", "-t", "video",
            "--fps", "400", "--gop", "8", "--layers", "3", "--bitrate", "4M", "--count", "40", "--json", publisherJson);
        var (exit, output, error) = await subscribe;

        Assert.Equal(0, publish.Exit);
        Assert.Contains("sent       40 objects in 5 groups (5 key)", publish.Out);
        Assert.True(exit == 0, error);
        Assert.Contains("40 verified", output);
        Assert.Contains("latency µs p50", output);
        using var report = JsonDocument.Parse(File.ReadAllText(subscriberJson));
        Assert.Equal(40, report.RootElement.GetProperty("verified").GetInt64());
        Assert.Equal(0, report.RootElement.GetProperty("missingObjects").GetInt64());
        Assert.Equal(40, report.RootElement.GetProperty("latency").GetProperty("count").GetInt64());
        using var sent = JsonDocument.Parse(File.ReadAllText(publisherJson));
        Assert.Equal(40, sent.RootElement.GetProperty("objects").GetInt64());
    }

    [Fact]
    public async Task A_corrupted_object_exits_3()
    {
        var connector = new InMemoryMoqConnector();
        var n = 0;
        connector.Tamper = o => ++n == 3 ? [o with { Payload = o.Payload.ToArray().Select((b, i) => i == o.Payload.Length - 1 ? (byte)~b : b).ToArray() }] : [o];
        var subscribe = Run(connector, "moq", "subscribe", "moqt://127.0.0.1:4443/", "-n", "a", "-t", "v", "--expect", "20", "--duration", "20");
        while (connector.SubscriptionCount == 0) await Task.Delay(10);
        await Run(connector, "moq", "publish", "moqt://127.0.0.1:4443/", "-n", "a", "-t", "v", "--fps", "500", "--count", "21");

        var (exit, output, error) = await subscribe;
        Assert.Equal(MoqCommand.IntegrityFailureExitCode, exit);
        Assert.Contains("1 checksum", output);
        Assert.Contains("1 object(s) failed integrity", error);
    }

    [Fact]
    public async Task Fewer_objects_than_expected_exit_4()
    {
        var connector = new InMemoryMoqConnector();
        var subscribe = Run(connector, "moq", "subscribe", "moqt://127.0.0.1:4443/", "-n", "a", "-t", "v", "--duration", "1.5", "--expect", "1000");
        while (connector.SubscriptionCount == 0) await Task.Delay(10);
        await Run(connector, "moq", "publish", "moqt://127.0.0.1:4443/", "-n", "a", "-t", "v", "--fps", "500", "--count", "20");

        var (exit, _, error) = await subscribe;
        Assert.Equal(MoqCommand.IncompleteExitCode, exit);
        Assert.Contains("expected 1000 objects, 20 arrived", error);
    }

    [Fact]
    public async Task Stdin_cmaf_is_published_unstamped_and_reassembles_byte_for_byte()
    {
        var connector = new InMemoryMoqConnector();
        var mp4 = Path.Combine(_dir, "in.mp4");
        var copy = Path.Combine(_dir, "out.mp4");
        byte[] Box(string type, int body) => [.. new byte[] { 0, 0, (byte)((body + 8) >> 8), (byte)(body + 8) }, .. System.Text.Encoding.ASCII.GetBytes(type), .. Enumerable.Repeat((byte)type[0], body)];
        File.WriteAllBytes(mp4, [.. Box("ftyp", 12), .. Box("moov", 200), .. Box("moof", 40), .. Box("mdat", 900), .. Box("moof", 40), .. Box("mdat", 300)]);
        var subscribe = Run(connector, "moq", "subscribe", "moqt://127.0.0.1:4443/", "-n", "a", "-t", "v", "--expect", "3", "--duration", "20", "--output", copy);
        while (connector.SubscriptionCount == 0) await Task.Delay(10);

        var publish = await Run(connector, "moq", "publish", "moqt://127.0.0.1:4443/", "-n", "a", "-t", "v", "--input", mp4, "--gop", "1");
        var (exit, output, _) = await subscribe;

        Assert.Equal(0, publish.Exit);
        Assert.Contains("input:cmaf", publish.Out);
        Assert.Equal(0, exit);
        Assert.Contains("3 unstamped", output);
        Assert.Equal(File.ReadAllBytes(mp4), File.ReadAllBytes(copy));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
