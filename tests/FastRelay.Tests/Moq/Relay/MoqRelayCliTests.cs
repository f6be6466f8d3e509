using FastRelay.Cli;
using FastRelay.Cli.Moq;
using Xunit;

namespace FastRelay.Tests.Moq.Relay;

/// <summary>`fastrelay moq relay` / `moq status` driven in-process: start, status, stop, and one-line errors.</summary>
public class MoqRelayCliTests
{
    [Fact]
    public async Task TheRelayVerbListensWritesStatusThatTheStatusVerbPrintsAndStops()
    {
        var dir = Directory.CreateTempSubdirectory("moq-relay-cli-").FullName;
        var output = new SyncWriter();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var run = MoqRelayRunner.RunAsync(new MoqRelayCliOptions { Port = 0, StatusDirectory = dir, Name = "t1", AuthToken = "secret" }, output, stop.Token);
        try
        {
            for (int i = 0; i < 200 && !File.Exists(Path.Combine(dir, "t1.json")); i++)
                await Task.Delay(25);
            Assert.Contains("listening on moqt://127.0.0.1:", output.Text);
            Assert.Contains("https://127.0.0.1:", output.Text);
            Assert.DoesNotContain("OPEN", output.Text);
            var printed = new StringWriter();
            Assert.Equal(0, MoqRelayStatusPrinter.Print(dir, "t1", json: false, printed));
            Assert.Contains("moq relay t1: pid " + Environment.ProcessId + " (running)", printed.ToString());
            Assert.DoesNotContain("kernel fast path", printed.ToString()); // userspace is the default
            Assert.Equal(1, MoqRelayStatusPrinter.Print(dir, "other", json: false, new StringWriter()));
        }
        finally
        {
            stop.Cancel();
            Assert.Equal(0, await run);
        }
        Assert.Contains("stopped", output.Text);
        Assert.False(File.Exists(Path.Combine(dir, "t1.json")));
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>SIGUSR1 asks for the status file now (the bench reads its window's edges so), long before the timer's
    /// next rewrite.</summary>
    [Fact]
    public async Task SigusrOneRewritesTheStatusFileAtOnce()
    {
        var dir = Directory.CreateTempSubdirectory("moq-relay-cli-").FullName;
        var file = Path.Combine(dir, "t2.json");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var output = new SyncWriter();
        var run = MoqRelayRunner.RunAsync(new MoqRelayCliOptions { Port = 0, StatusDirectory = dir, Name = "t2", AuthToken = "secret", StatusInterval = TimeSpan.FromSeconds(60) },
            output, stop.Token);
        try
        {
            // The handler is registered once the relay says where it listens.
            await FastRelay.Tests.Infrastructure.Eventually.TrueAsync(() => File.Exists(file) && output.Text.Contains("listening on"), "the first status file");
            var first = File.GetLastWriteTimeUtc(file);
            await Task.Delay(20);
            FastRelay.Cli.Scenario.ProcessSignals.RequestStatus(Environment.ProcessId);
            await FastRelay.Tests.Infrastructure.Eventually.TrueAsync(() => File.Exists(file) && File.GetLastWriteTimeUtc(file) > first,
                "the status file rewritten on SIGUSR1", TimeSpan.FromSeconds(10));
        }
        finally
        {
            stop.Cancel();
            Assert.Equal(0, await run);
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("--address")]
    [InlineData("--upstream")]
    [InlineData("--both-auth")]
    [InlineData("--auth-file")]
    public async Task BadArgumentsAreOneLineUserErrors(string what)
    {
        var options = what switch
        {
            "--address" => new MoqRelayCliOptions { Address = "not-an-ip" },
            "--upstream" => new MoqRelayCliOptions { Upstream = "https://x:1" },
            "--both-auth" => new MoqRelayCliOptions { AuthFile = "/nonexistent", AuthToken = "t" },
            _ => new MoqRelayCliOptions { AuthFile = "/nonexistent/auth.json" },
        };
        var e = await Assert.ThrowsAsync<UserFacingException>(() => MoqRelayRunner.RunAsync(options with { Port = 0 }, TextWriter.Null, default));
        Assert.DoesNotContain('\n', e.Message);
    }

    private sealed class SyncWriter : StringWriter
    {
        public string Text { get { lock (this) return ToString(); } }
        public override void WriteLine(string? value) { lock (this) base.WriteLine(value); }
    }
}
