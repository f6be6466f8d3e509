using System.Text.Json;
using CliWrap;
using CliWrap.Buffered;
using FastRelay.Cli.Scenario;
using FastRelay.Tests.Lab;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Cli;

/// <summary>
/// The README's first command, run as a user runs it: `fastrelay demo --json` as its own process (it builds a lab of
/// network namespaces, runs every relay, publisher and subscriber as processes, and removes the lab), then the summary
/// it printed is checked.
/// </summary>
public sealed class DemoCommandTests(ITestOutputHelper output)
{
    private static async Task<string> RunDemoAsync(ITestOutputHelper output, params string[] args)
    {
        var result = await CliWrap.Cli.Wrap("dotnet").WithArguments([RelayScenario.FastRelayDll, "demo", .. args, "--json"])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(new CancellationTokenSource(TimeSpan.FromMinutes(4)).Token);
        output.WriteLine(result.StandardOutput);
        output.WriteLine(result.StandardError);
        Assert.True(result.ExitCode == 0, $"demo exited {result.ExitCode}:\n{result.StandardOutput}\n{result.StandardError}");
        return result.StandardOutput;
    }

    [LabFact(needsClang: true)]
    public async Task The_moq_demo_delivers_every_object_to_every_subscriber_with_the_fast_path_subscribers_served_by_the_kernel()
    {
        var summary = JsonSerializer.Deserialize<MoqDemoSummary>(await RunDemoAsync(output), MoqDemoSummary.JsonOptions)!;

        Assert.Equal("fastpath", summary.Mode);
        Assert.True(summary.AllReceivedEverything);
        Assert.Equal(180, summary.Published);   // 6 s at 30 objects/s
        Assert.Equal(["IPv4", "IPv4", "IPv6"], summary.Subscribers.Select(s => s.Family));
        Assert.All(summary.Subscribers, s => Assert.Equal((180L, 180L, 0L, 0L), (s.Sent, s.Received, s.Missing, s.IntegrityFailures)));
        // The subscribers that reach the relay in the publisher's family are served by TC: their streams' bytes were
        // forwarded by the kernel, the relay wrote only the subgroup headers (the publisher opens each group's streams
        // ahead, and the relay activates a subscriber's slot at SUBSCRIBE).
        foreach (var s in summary.Subscribers.Where(s => s.Family == "IPv4"))
        {
            Assert.True(s.KernelShare >= 0.95, $"{s.Subscriber}: kernel share {s.KernelShare:P1} ({s.KernelBytes} kernel, {s.RelayBytes} relay bytes)");
            Assert.True(s.KernelBytes >= summary.PublishedBytes, $"{s.Subscriber}: the kernel forwarded {s.KernelBytes} of {summary.PublishedBytes} object bytes");
        }
        Assert.NotNull(summary.FastPath);
        Assert.True(summary.FastPath!.ForwardedPackets > 0);
    }

    [LabFact(needsClang: true)]
    public async Task The_custom_udp_demo_is_there_by_name()
    {
        using var summary = JsonDocument.Parse(await RunDemoAsync(output, "custom-udp"));
        Assert.Equal("fastpath", summary.RootElement.GetProperty("mode").GetString());
        Assert.True(summary.RootElement.GetProperty("allReceivedEverything").GetBoolean());
        Assert.Equal(3, summary.RootElement.GetProperty("subscribers").GetArrayLength());
    }
}
