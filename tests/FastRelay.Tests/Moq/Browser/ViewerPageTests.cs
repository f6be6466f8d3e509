using FastRelay.Tests.Infrastructure;
using System.Net.Http;
using System.Text.RegularExpressions;
using FastRelay.Cli.Moq;
using FastRelay.Protocols.Moq.Relay.Status;
using FastRelay.Tests.Quic.WebTransport.Browser;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Moq.Browser;

/// <summary>
/// `fastrelay moq relay --web PORT` (the CLI's runner, in-process): its viewer page, loaded in headless Chromium, receives
/// `moq publish`'s track through the relay over WebTransport and shows every object, no gaps.
/// </summary>
// One browser at a time: see ChromiumCollection.
[Collection(ChromiumCollection.Name)]
public sealed partial class ViewerPageTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _statusDir = Directory.CreateTempSubdirectory("fastrelay-moq-viewer-").FullName;

    /// <summary>The harness page frames the viewer and returns the stats it posts (window.viewerStats) once enough arrived.</summary>
    private const string FramingPage = """
        export default async function (p) {
          const frame = document.createElement("iframe");
          frame.style.width = "900px"; frame.style.height = "700px";
          let last = null;
          const done = new Promise((resolve, reject) => {
            addEventListener("message", e => {
              if (!e.data || !e.data.viewerStats) return;
              last = e.data.viewerStats;
              if (last.status.startsWith("error")) reject(new Error("viewer: " + last.status));
              if (last.received >= p.count) resolve(last);
            });
            setTimeout(() => resolve(last), p.seconds * 1000);
          });
          frame.src = p.viewer;
          document.body.appendChild(frame);
          return await done;
        }
        """;

    [GeneratedRegex(@"viewer on (http://\S+?)/\?")]
    private static partial Regex ViewerLine();

    [ChromiumMoqFact]
    public async Task The_viewer_page_of_moq_relay_web_shows_every_object_moq_publish_sends()
    {
        var console = new StringWriter();
        var relayOut = TextWriter.Synchronized(console);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(110));
        var relay = MoqRelayRunner.RunAsync(new MoqRelayCliOptions { Port = 0, WebPort = 0, StatusDirectory = _statusDir, Name = "viewer-test" }, relayOut, stop.Token);
        try
        {
            await Eventually.TrueAsync(() => relay.IsCompleted || ViewerLine().IsMatch(console.ToString()), "moq relay --web never printed its viewer URL", TimeSpan.FromSeconds(30));
            if (relay.IsCompleted) await relay;
            var text = console.ToString();
            output.WriteLine(text);
            var viewerBase = ViewerLine().Match(text).Groups[1].Value;
            var quicUrl = Regex.Match(text, @"listening on (moqt://\S+)").Groups[1].Value + "/";

            // What @moq/net fetches for http:// URLs: the hex SHA-256 of the relay's certificate.
            using var http = new HttpClient();
            var hash = (await http.GetStringAsync(viewerBase + "/certificate.sha256")).Trim();
            Assert.Matches("^[0-9a-f]{64}$", hash);
            Assert.Contains(hash, text);

            const int count = 90;
            var page = ChromiumHarness.RunAsync(new ChromiumPage
            {
                Module = FramingPage,
                Params = new { viewer = $"{viewerBase}/?namespace=viewer/cam&track=video", count, seconds = 45 },
                Timeout = TimeSpan.FromSeconds(80),
            }, output, stop.Token);
            // The viewer's WebTransport session is up (it then waits for the namespace): start the publisher. One group more
            // than checked: objects in flight when `moq publish` closes its session right after PUBLISH_DONE are lost.
            var statusFile = MoqRelayRunner.StatusFile(_statusDir, "viewer-test");
            await Task.WhenAny(page, Eventually.TrueAsync(() => SessionsAccepted(statusFile) > 0, "the viewer never connected", TimeSpan.FromSeconds(60)));
            if (page.IsCompleted) await page;

            var (exit, stdout, stderr) = await MoqCli.RunAsync("moq", "publish", quicUrl, "-k", "-n", "viewer/cam", "-t", "video",
                "--fps", "50", "--gop", "30", "--bitrate", "300k", "--subgroups", "per-group", "--count", (count + 30).ToString(), "--delay", "2");
            output.WriteLine(stdout + stderr);
            Assert.True(exit == 0, stdout + stderr);

            var stats = await page;
            output.WriteLine(stats.ToString());
            Assert.Equal("receiving", stats.GetProperty("status").GetString());
            Assert.Equal(count, stats.GetProperty("received").GetInt32());
            Assert.Equal(0, stats.GetProperty("missing").GetInt32());
            Assert.Equal(0, stats.GetProperty("duplicates").GetInt32());
            Assert.Equal(0, stats.GetProperty("unstamped").GetInt32());
            Assert.Equal(3, stats.GetProperty("groups").GetInt32());
            Assert.True(stats.GetProperty("p50LatencyMs").GetDouble() is > 0 and < 5000);
        }
        finally
        {
            stop.Cancel();
            await relay;
        }
    }

    [Fact]
    public async Task Without_the_built_viewer_moq_relay_web_stops_with_a_clear_error()
    {
        var missing = Path.Combine(_statusDir, "no-viewer-here");
        var error = await Assert.ThrowsAsync<FastRelay.Cli.UserFacingException>(() => MoqRelayRunner.RunAsync(
            new MoqRelayCliOptions { Port = 0, WebPort = 0, StatusDirectory = _statusDir, WebDirectory = missing }, TextWriter.Null, CancellationToken.None));
        Assert.Contains("scripts/setup.sh", error.Message);
        Assert.Contains("moq.js", error.Message);
    }

    private static long SessionsAccepted(string statusFile)
    {
        try
        {
            return MoqRelayStatus.FromJson(File.ReadAllText(statusFile))?.Totals.SessionsAccepted ?? 0;
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException)
        {
            return 0;
        }
    }

    public void Dispose() => Directory.Delete(_statusDir, recursive: true);
}
