using FastRelay.Tests.Infrastructure;
using System.Text.Json;
using FastRelay.Tests.Quic.WebTransport.Browser;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Moq.Browser;

/// <summary>
/// An independent MoQ implementation as subscriber: @moq/net 0.3.4 in headless Chromium, over WebTransport to our relay,
/// receives the synthetic track `fastrelay moq publish` sends over raw QUIC: every object intact and in order.
/// </summary>
// One browser at a time: see ChromiumCollection.
[Collection(ChromiumCollection.Name)]
public sealed class BrowserSubscriberTests(ITestOutputHelper output)
{
    [ChromiumMoqFact]
    public async Task A_moq_net_subscriber_in_chromium_receives_every_object_of_moq_publish_intact_and_in_order()
    {
        await using var relay = await BrowserRelay.StartAsync(output);
        const int count = 120;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(100));

        // The browser first: it connects, asks for the namespace (SUBSCRIBE_NAMESPACE) and subscribes once the
        // publisher announces it, which is before the publisher's first object (--delay).
        var page = ChromiumHarness.RunAsync(new ChromiumPage
        {
            Module = MoqNetPages.Subscriber,
            Params = new { url = BrowserRelay.WebTransportUrl(relay), hash = BrowserRelay.CertificateHashHex, @namespace = "browser/cam", track = "video", count, seconds = 40 },
            Timeout = TimeSpan.FromSeconds(90),
        }, output, timeout.Token);
        await Task.WhenAny(page, Eventually.TrueAsync(() => relay.SessionCount > 0, "the browser never set up a MoQ session", TimeSpan.FromSeconds(60)));
        if (page.IsCompleted) await page; // it failed: show why

        // @moq/net reads one subgroup per group (subgroup 0, objects from 0 up): --subgroups per-group. One group more
        // than the page checks: `moq publish` closes its session right after PUBLISH_DONE, and objects still in flight to
        // the relay then are lost (the relay resets those streams), which is the publisher's ending, not what is tested.
        var (exit, stdout, stderr) = await MoqCli.RunAsync("moq", "publish", BrowserRelay.QuicUrl(relay), "-k", "-n", "browser/cam", "-t", "video",
            "--fps", "50", "--gop", "25", "--bitrate", "400k", "--subgroups", "per-group", "--count", (count + 25).ToString(), "--delay", "2");
        output.WriteLine(stdout + stderr);
        Assert.True(exit == 0, stdout + stderr);

        var result = await page;
        var frames = BrowserFrames.Check(result.GetProperty("frames"));
        output.WriteLine($"@moq/net version {result.GetProperty("version")}: {frames.Checker.Objects} frames, {frames.Checker.Verified} verified, latency p50 {frames.Checker.Latency.ValueAt(0.5)} µs");

        Assert.Equal(count, frames.Checker.Objects);
        Assert.Equal(count, frames.Checker.Verified);
        Assert.Equal(0, frames.Checker.IntegrityFailures);
        Assert.Equal(0, frames.Checker.Unstamped);
        Assert.Equal(0, frames.Checker.Duplicates);
        Assert.Equal(0, frames.Checker.MissingObjects);
        Assert.Equal(Enumerable.Range(0, count).Select(i => (ulong)i), frames.Sequences);
    }
}
