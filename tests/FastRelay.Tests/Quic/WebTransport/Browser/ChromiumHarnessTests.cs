using System.Collections.Concurrent;
using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Quic.WebTransport.Browser;

/// <summary>The harness itself: results come back, page errors surface, and a page that never answers times out —
/// each time without leaving its browser process or its profile directory behind (other browser tests may run at the
/// same time, so only this run's own process and directory are checked).</summary>
[Collection(ChromiumCollection.Name)]
public sealed class ChromiumHarnessTests(ITestOutputHelper output)
{
    private sealed class Runs
    {
        public readonly ConcurrentBag<(int Pid, string Profile)> Started = [];
        public void Add(int pid, string profile) => Started.Add((pid, profile));

        public void AssertAllGone()
        {
            Assert.NotEmpty(Started);
            foreach (var (pid, profile) in Started)
            {
                Assert.False(Directory.Exists(profile), $"profile {profile} left behind");
                Assert.False(IsRunning(pid), $"chromium {pid} still running");
            }
        }

        private static bool IsRunning(int pid)
        {
            try
            {
                using var p = Process.GetProcessById(pid);
                return !p.HasExited;
            }
            catch (ArgumentException)
            {
                return false;
            }
        }
    }

    [ChromiumFact]
    public async Task A_result_comes_back_as_json_and_log_lines_reach_the_test_output()
    {
        var runs = new Runs();
        var result = await ChromiumHarness.RunAsync(new ChromiumPage
        {
            Module = "export default async function (p) { log('hello from', p.name); return { sum: p.a + p.b, secure: isSecureContext, wt: typeof WebTransport }; }",
            Params = new { a = 2, b = 40, name = "the page" },
            Timeout = TimeSpan.FromSeconds(30),
            OnStarted = runs.Add,
        }, output);
        Assert.Equal(42, result.GetProperty("sum").GetInt32());
        Assert.True(result.GetProperty("secure").GetBoolean());
        Assert.Equal("function", result.GetProperty("wt").GetString());
        runs.AssertAllGone();
    }

    [ChromiumFact]
    public async Task A_throwing_page_fails_with_its_message_and_a_silent_page_times_out_both_cleaned_up()
    {
        var runs = new Runs();
        var failed = await Assert.ThrowsAsync<PageFailedException>(() => ChromiumHarness.RunAsync(new ChromiumPage
        {
            Module = "export default async function () { throw new Error('deliberate failure'); }",
            Timeout = TimeSpan.FromSeconds(30),
            OnStarted = runs.Add,
        }, output));
        Assert.Contains("deliberate failure", failed.PageError);

        var watch = Stopwatch.StartNew();
        var silent = new Runs();
        await Assert.ThrowsAsync<TimeoutException>(() => ChromiumHarness.RunAsync(new ChromiumPage
        {
            Module = "export default function () { return new Promise(() => {}); }",
            Timeout = TimeSpan.FromSeconds(4),
            OnStarted = silent.Add,
        }, output));
        Assert.InRange(watch.Elapsed.TotalSeconds, 3.5, 20);
        runs.AssertAllGone();
        silent.AssertAllGone();
    }
}
