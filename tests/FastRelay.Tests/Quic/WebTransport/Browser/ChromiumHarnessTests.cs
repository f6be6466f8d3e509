using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Quic.WebTransport.Browser;

/// <summary>The harness itself: results come back, page errors surface, and a page that never answers times out —
/// each time without leaving a browser process or a profile directory behind.</summary>
public sealed class ChromiumHarnessTests(ITestOutputHelper output)
{
    private static HashSet<string> Profiles() =>
        Directory.GetDirectories(Path.GetTempPath(), "fastrelay-chromium-*").ToHashSet();

    private static int BrowsersUsing(IEnumerable<string> profiles)
    {
        int count = 0;
        foreach (var p in Process.GetProcessesByName("chromium"))
        {
            try
            {
                var cmdline = File.ReadAllText($"/proc/{p.Id}/cmdline");
                if (profiles.Any(dir => cmdline.Contains(dir, StringComparison.Ordinal))) count++;
            }
            catch (IOException)
            {
            }
        }
        return count;
    }

    [ChromiumFact]
    public async Task A_result_comes_back_as_json_and_log_lines_reach_the_test_output()
    {
        var before = Profiles();
        var result = await ChromiumHarness.RunAsync(new ChromiumPage
        {
            Module = "export default async function (p) { log('hello from', p.name); return { sum: p.a + p.b, secure: isSecureContext, wt: typeof WebTransport }; }",
            Params = new { a = 2, b = 40, name = "the page" },
            Timeout = TimeSpan.FromSeconds(30),
        }, output);
        Assert.Equal(42, result.GetProperty("sum").GetInt32());
        Assert.True(result.GetProperty("secure").GetBoolean());
        Assert.Equal("function", result.GetProperty("wt").GetString());
        Assert.Empty(Profiles().Except(before));
    }

    [ChromiumFact]
    public async Task A_throwing_page_fails_with_its_message_and_a_silent_page_times_out_both_cleaned_up()
    {
        var before = Profiles();
        var failed = await Assert.ThrowsAsync<PageFailedException>(() => ChromiumHarness.RunAsync(new ChromiumPage
        {
            Module = "export default async function () { throw new Error('deliberate failure'); }",
            Timeout = TimeSpan.FromSeconds(30),
        }, output));
        Assert.Contains("deliberate failure", failed.PageError);

        var watch = Stopwatch.StartNew();
        var created = new List<string>();
        var run = ChromiumHarness.RunAsync(new ChromiumPage
        {
            Module = "export default function () { return new Promise(() => {}); }",
            Timeout = TimeSpan.FromSeconds(4),
        }, output);
        // While it runs, its profile and browser exist...
        for (int i = 0; i < 40 && created.Count == 0; i++)
        {
            await Task.Delay(100);
            created = Profiles().Except(before).ToList();
        }
        Assert.NotEmpty(created);
        await Assert.ThrowsAsync<TimeoutException>(() => run);
        Assert.InRange(watch.Elapsed.TotalSeconds, 3.5, 20);
        // ...and afterwards neither does.
        Assert.Empty(Profiles().Except(before));
        Assert.Equal(0, BrowsersUsing(created));
    }
}
