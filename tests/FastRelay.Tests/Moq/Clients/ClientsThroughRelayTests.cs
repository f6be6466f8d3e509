using FastRelay.Tests.Infrastructure;
using System.CommandLine;
using System.Text.Json;
using FastRelay.Cli.Commands;
using FastRelay.Protocols.Moq.Relay;
using FastRelay.Tests.Moq.Relay.EndToEnd;
using Xunit;

namespace FastRelay.Tests.Moq.Clients;

/// <summary>`moq publish` and two `moq subscribe`s (the CLI verbs, on the real session) through the MoQ relay on loopback.</summary>
[Collection(MoqTimingCollection.Name)]
public sealed class ClientsThroughRelayTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrelay-moq-e2e-").FullName;

    private static async Task<(int Exit, string Out, string Error)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var root = new RootCommand { MoqCommand.Create(new MoqCommandEnvironment { Out = output, Error = error }) };
        var exit = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        return (exit, output.ToString(), error.ToString());
    }


    [Fact]
    public async Task Every_object_reaches_both_subscribers_intact_through_the_relay()
    {
        await using var relay = await LoopbackRelay.StartAsync();
        var url = $"moqt://127.0.0.1:{relay.LocalEndPoint.Port}/";
        const int count = 150;

        // The publisher announces at once and sends its first object after 2 s: time for both subscriptions to be set up.
        var publish = Run("moq", "publish", url, "-k", "-n", "e2e/cam", "-t", "video", "--fps", "100", "--gop", "25", "--layers", "3",
            "--bitrate", "3M", "--count", count.ToString(), "--delay", "2", "--json", Path.Combine(_dir, "pub.json"));
        await Eventually.TrueAsync(() => relay.Relay.NamespaceState.Published > 0, "the publisher's namespace never reached the relay");
        var subscribers = Enumerable.Range(0, 2).Select(i => Run("moq", "subscribe", url, "-k", "-n", "e2e/cam", "-t", "video",
            "--start", "absolute 0/0", "--expect", count.ToString(), "--duration", "30", "--json", Path.Combine(_dir, $"sub{i}.json"))).ToList();

        var published = await publish;
        var results = await Task.WhenAll(subscribers);

        Assert.True(published.Exit == 0, published.Out + published.Error);
        foreach (var (exit, output, error) in results)
        {
            Assert.True(exit == 0, output + error);
            Assert.Contains($"{count} verified", output);
        }
        foreach (var i in new[] { 0, 1 })
        {
            var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, $"sub{i}.json"))).RootElement;
            Assert.Equal(count, report.GetProperty("verified").GetInt64());
            Assert.Equal(0, report.GetProperty("missingObjects").GetInt64());
            Assert.Equal(0, report.GetProperty("duplicates").GetInt64());
            Assert.Equal(0, report.GetProperty("checksumFailures").GetInt64() + report.GetProperty("lengthFailures").GetInt64() + report.GetProperty("locationMismatches").GetInt64());
            Assert.Equal(count, report.GetProperty("latency").GetProperty("count").GetInt64());
        }
    }

    [Fact]
    public async Task A_late_joiner_with_fetch_gets_the_current_group_from_its_start_contiguous_with_its_subscription()
    {
        await using var relay = await LoopbackRelay.StartAsync();
        var url = $"moqt://127.0.0.1:{relay.LocalEndPoint.Port}/";
        // Groups of 100 objects at 100/s: joining after ~1.5 s lands in the middle of group 1.
        var publish = Run("moq", "publish", url, "-k", "-n", "e2e/late", "-t", "video", "--fps", "100", "--gop", "100", "--subgroups", "per-group",
            "--count", "300");
        await Eventually.TrueAsync(() => relay.Relay.NamespaceState.Published > 0, "the publisher's namespace never reached the relay");
        var early = Run("moq", "subscribe", url, "-k", "-n", "e2e/late", "-t", "video", "--duration", "6"); // makes the relay subscribe upstream
        await Task.Delay(1500);

        var json = Path.Combine(_dir, "late.json");
        var (exit, output, error) = await Run("moq", "subscribe", url, "-k", "-n", "e2e/late", "-t", "video", "--fetch", "1", "--duration", "2.5", "--json", json);
        await publish;
        await early;

        Assert.True(exit == 0, output + error);
        var report = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        Assert.True(report.GetProperty("viaFetch").GetInt64() > 0, output);
        Assert.Equal(0, report.GetProperty("duplicates").GetInt64());
        Assert.Equal(0, report.GetProperty("missingObjects").GetInt64()); // fetch and subscription meet without a hole
        Assert.Equal(0, report.GetProperty("checksumFailures").GetInt64() + report.GetProperty("locationMismatches").GetInt64());
    }

    [Fact]
    public async Task A_subscriber_without_the_relays_token_is_refused_and_exits_1()
    {
        await using var relay = await LoopbackRelay.StartAsync(new RelayOptions { Auth = Protocols.Moq.Relay.Auth.RelayAuthPolicy.SingleToken("letmein") });
        var url = $"moqt://127.0.0.1:{relay.LocalEndPoint.Port}/";
        var publish = Run("moq", "publish", url, "-k", "-n", "e2e/cam", "-t", "video", "--auth-token", "letmein", "--fps", "50", "--count", "20", "--delay", "1");
        await Eventually.TrueAsync(() => relay.Relay.NamespaceState.Published > 0, "the publisher's namespace never reached the relay");

        var (exit, _, error) = await Run("moq", "subscribe", url, "-k", "-n", "e2e/cam", "-t", "video", "--auth-token", "wrong", "--duration", "5");
        var publisherResult = await publish;

        Assert.Equal(1, exit);
        Assert.Contains("refused: Unauthorized", error);
        Assert.Equal(0, publisherResult.Exit);
    }

    [Fact]
    public async Task A_metrics_scrape_counts_the_objects_published_and_the_copies_each_subscriber_got()
    {
        await using var relay = await LoopbackRelay.StartAsync();
        using var metrics = new Protocols.Moq.Relay.Status.MoqRelayMetrics(relay.Snapshot);
        await using var exporter = FastRelay.Cli.Metrics.PrometheusEndpoint.Start($"127.0.0.1:{FreePorts.Tcp()}", Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, metrics.Meter);
        var url = $"moqt://127.0.0.1:{relay.LocalEndPoint.Port}/";
        const int count = 40;
        var publish = Run("moq", "publish", url, "-k", "-n", "m/cam", "-t", "video", "--fps", "50", "--count", count.ToString(), "--delay", "2");
        await Eventually.TrueAsync(() => relay.Relay.NamespaceState.Published > 0, "the publisher's namespace never reached the relay");
        // Per-track and per-session series leave with the track and the sessions; the relay-wide totals stay.
        var subscribe = Run("moq", "subscribe", url, "-k", "-n", "m/cam", "-t", "video", "--start", "absolute 0/0", "--duration", "10");
        Assert.Equal(0, (await publish).Exit);
        await Eventually.TrueAsync(() => relay.Snapshot().Totals.ObjectsOut >= count, "the relay never sent every object");

        using var http = new HttpClient();
        var page = await http.GetStringAsync(exporter.Url);
        Assert.Equal(0, (await subscribe).Exit);

        long Series(string metric, string label) => page.Split('\n').Where(l => l.StartsWith(metric + "{", StringComparison.Ordinal) && l.Contains(label, StringComparison.Ordinal)).ToList() is [var line]
            ? long.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture)
            : throw new Xunit.Sdk.XunitException($"no single {metric} with {label} in\n{page}");
        Assert.Equal(count, Series("fastrelay_moq_objects_total", "direction=\"in\""));
        Assert.Equal(count, Series("fastrelay_moq_objects_total", "direction=\"out\""));
        Assert.True(Series("fastrelay_moq_relay_events_total", "event=\"session_accepted\"") >= 2);
    }


    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
