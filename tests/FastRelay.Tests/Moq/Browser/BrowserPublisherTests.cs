using FastRelay.Tests.Infrastructure;
using System.Text.Json;
using FastRelay.Protocols.Moq.Clients;
using FastRelay.Tests.Quic.WebTransport.Browser;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Moq.Browser;

/// <summary>
/// An independent MoQ implementation as publisher: @moq/net 0.3.4 in headless Chromium announces a namespace over
/// WebTransport to our relay and publishes a track; `fastrelay moq subscribe` (raw QUIC) receives every object intact
/// and in order, checked by its own integrity, gap and duplicate checks.
/// </summary>
// One browser at a time: see ChromiumCollection.
[Collection(ChromiumCollection.Name)]
public sealed class BrowserPublisherTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrelay-moq-browser-pub-").FullName;

    /// <summary>
    /// The objects the page publishes, stamped here with the test header (sequence, group, object, length, XxHash64)
    /// because the page has no XxHash64: groups of <paramref name="perGroup"/> objects, sizes varying, bodies random.
    /// The send time is when they were made, so `moq subscribe`'s latency figures include the browser's start-up.
    /// </summary>
    private static List<List<string>> StampedGroups(int groups, int perGroup)
    {
        var random = new Random(19);
        var result = new List<List<string>>();
        ulong sequence = 0;
        for (int g = 0; g < groups; g++)
        {
            var objects = new List<string>();
            for (int o = 0; o < perGroup; o++)
            {
                var body = new byte[o == 0 ? 2000 : 200 + random.Next(400)];
                random.NextBytes(body);
                objects.Add(Convert.ToBase64String(SyntheticPayload.Stamp(body, sequence++, (ulong)g, (ulong)o, isKey: o == 0, RealtimeClock.NowMicroseconds(TimeProvider.System))));
            }
            result.Add(objects);
        }
        return result;
    }

    [ChromiumMoqFact]
    public async Task A_moq_net_publisher_in_chromium_reaches_moq_subscribe_with_every_object_intact_and_in_order()
    {
        await using var relay = await BrowserRelay.StartAsync(output);
        const int groups = 6, perGroup = 20, count = groups * perGroup;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(100));

        var page = ChromiumHarness.RunAsync(new ChromiumPage
        {
            Module = MoqNetPages.Publisher,
            Params = new
            {
                url = BrowserRelay.WebTransportUrl(relay), hash = BrowserRelay.CertificateHashHex, @namespace = "browser/pub", track = "video",
                groups = StampedGroups(groups, perGroup), intervalMs = 10, lingerMs = 10000, seconds = 60,
            },
            Timeout = TimeSpan.FromSeconds(90),
        }, output, timeout.Token);
        await Task.WhenAny(page, Eventually.TrueAsync(() => relay.Relay.NamespaceState.Published > 0, "the browser never announced its namespace", TimeSpan.FromSeconds(60)));
        if (page.IsCompleted) await page; // it failed: show why

        // The page starts writing once the relay subscribes to it, which `moq subscribe` causes: so nothing is missed.
        var json = Path.Combine(_dir, "sub.json");
        var (exit, stdout, stderr) = await MoqCli.RunAsync("moq", "subscribe", BrowserRelay.QuicUrl(relay), "-k", "-n", "browser/pub", "-t", "video",
            "--expect", count.ToString(), "--duration", "40", "--json", json);
        output.WriteLine(stdout + stderr);
        var result = await page;
        output.WriteLine(result.ToString());

        Assert.True(exit == 0, stdout + stderr);
        Assert.Equal(count, result.GetProperty("sent").GetInt32());
        var report = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        Assert.Equal(count, report.GetProperty("verified").GetInt64());
        Assert.Equal(0, report.GetProperty("unstamped").GetInt64());
        Assert.Equal(0, report.GetProperty("missingObjects").GetInt64());
        Assert.Equal(0, report.GetProperty("duplicates").GetInt64());
        Assert.Equal(0, report.GetProperty("checksumFailures").GetInt64() + report.GetProperty("lengthFailures").GetInt64() + report.GetProperty("locationMismatches").GetInt64());
        Assert.Equal(0, report.GetProperty("outOfOrderInSubgroup").GetInt64());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
