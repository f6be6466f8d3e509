using System.Net.Sockets;
using FastRelay.Cli.Relay;
using FastRelay.Cli.Scenario;
using FastRelay.Tests.Lab;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>
/// The MoQ demo's processes (publisher → `moq relay --mode fastpath` → subscribers, each in its own namespace) with 5 %
/// of the UDP packets into one subscriber dropped. The kernel forwards that subscriber's media like the others'; the
/// copies its link loses are declared lost by the relay's QUIC stack (they are in its sent history) and sent again
/// from the relay's shadow copy, so every object arrives intact.
/// </summary>
public sealed class FastPathMoqLossLabTests(ITestOutputHelper output)
{
    [LabFact(needsClang: true)]
    public async Task Five_percent_loss_on_one_subscriber_link_every_object_arrives_through_retransmission_of_kernel_forwarded_data()
    {
        var result = await MoqDemoScenario.RunAsync(new MoqDemoOptions
        {
            Mode = RelayMode.FastPath,
            DurationSeconds = 6,
            Subscribers = [new(0, AddressFamily.InterNetwork), new(1, AddressFamily.InterNetwork, LossPercent: 5)],
            Progress = output.WriteLine,
        });
        var summary = MoqDemoSummary.From(result);
        foreach (var line in summary.Subscribers)
            output.WriteLine(line.ToString());

        Assert.True(summary.AllReceivedEverything, string.Join("\n", summary.Subscribers));
        var (clean, lossy) = (summary.Subscribers[0], summary.Subscribers[1]);
        Assert.True(clean.KernelShare >= 0.9, $"clean subscriber: {clean}");
        // The kernel still carried most of the lossy subscriber's bytes ...
        Assert.True(lossy.KernelShare >= 0.6, $"lossy subscriber: {lossy}");
        // ... the relay's QUIC stack declared packets lost on that connection (the kernel's copies are in its sent
        // history) and every object still arrived: their data was sent again from the relay's copy. About 5 % of the
        // roughly 1,100 packets; the clean link loses none (a few at most, from reordering under load).
        Assert.True(lossy.RelayPacketsLost >= 10, $"lossy subscriber: {lossy}");
        Assert.True(clean.RelayPacketsLost < lossy.RelayPacketsLost / 2, $"clean {clean.RelayPacketsLost}, lossy {lossy.RelayPacketsLost}");
    }
}
