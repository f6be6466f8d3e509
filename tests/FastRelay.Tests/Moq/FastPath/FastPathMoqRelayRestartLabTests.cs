using System.Globalization;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using FastRelay.Tests.Moq.Lab;
using Xunit;
using Xunit.Abstractions;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>
/// `kill -9` of a fast-path `moq relay` mid-stream (prefix frmk): its pinned maps stay behind, and a new relay of the
/// same name on the same bpffs starts over them (taking over the pins, no stale channel, slot or stream mapping), serves
/// a new publisher and subscriber with every object through the kernel, and removes its pins when it stops cleanly.
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class FastPathMoqRelayRestartLabTests(GeneratedObjects generated, ITestOutputHelper output)
{
    private const int Objects = 120;

    [LabFact(needsClang: true)]
    public async Task After_kill_9_a_new_fast_path_relay_starts_over_the_pins_and_forwards_in_the_kernel_again()
    {
        await using var lab = await MoqLab.UpAsync("frmk", subscribers: 2, output, relayInterfaces: 2);
        var net = lab.Network;
        string[] relayArgs = ["--mode", "fastpath", "--interface", net.RelayUpstream.Name, "--interface", net.RelayDownstream.Name,
            "--bpffs", net.BpfFsPath, "--object", generated.ObjectPath(G.Protocol)];
        var pins = Path.Combine(net.BpfFsPath, "fastrelay", "relay");

        var first = await lab.StartRelayAsync(net.Relay, "relay", relayArgs);
        var firstPublisher = Publisher(lab, "publisher1", "--duration", "60");
        // A SUBSCRIBE before the namespace is published is refused (DoesNotExist) and the subscriber exits: on a loaded
        // machine the publisher may well connect second.
        await first.WaitForLogAsync(l => l.Contains("publishes namespace"), "PUBLISH_NAMESPACE", MoqLab.StepTimeout);
        var firstSubscriber = lab.StartSubscriber(net.Subscribers[0], "subscriber1", MoqLab.UrlOf(net.RelayDownstream.IPv4), 1_000_000, "--fast-path");
        await lab.WaitForStatusAsync("relay", s => s.FastPath is { ForwardedPackets: > 50 }, "kernel-forwarded packets before the kill");

        await first.KillAsync();
        Assert.True(Directory.Exists(pins) && Directory.GetFiles(pins).Length > 0, "kill -9 leaves the pinned maps behind");
        await firstPublisher.StopAsync();
        await firstSubscriber.StopAsync();

        var second = await lab.StartRelayAsync(net.Relay, "relay", relayArgs);
        var publisher = Publisher(lab, "publisher2", "--count", Objects.ToString(CultureInfo.InvariantCulture), "--wait-for-subscriber", "--delay", "1");
        await second.WaitForLogAsync(l => l.Contains("publishes namespace"), "PUBLISH_NAMESPACE", MoqLab.StepTimeout);
        var subscriber = lab.StartSubscriber(net.Subscribers[1], "subscriber2", MoqLab.UrlOf(net.RelayDownstream.IPv4), Objects,
            "--start", "absolute 0/0", "--fast-path");
        Assert.True(await subscriber.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, "subscriber2 failed:\n" + subscriber.Log);
        Assert.True(await publisher.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, "publisher2 failed:\n" + publisher.Log);

        var report = lab.SubscriberReport("subscriber2");
        Assert.Equal((long)Objects, report.Verified);
        Assert.Equal(0, report.IntegrityFailures);
        var status = await lab.WaitForStatusAsync("relay", s => s.FastPath is { Slots: 0, Subscribers.Count: > 0 }, "the second subscriber's final figures");
        var figures = Assert.Single(status.FastPath!.Subscribers!);
        output.WriteLine(figures.ToString());
        // Relay over stale pins that kept the old channel, slot or mappings would leave the kernel forwarding nothing for the
        // new subscriber (0 %). The run's 4 groups are few: a loaded machine delaying the first group's mapping makes its key
        // object the relay's (86.6 % was seen once in a full suite run, 97-100 % otherwise), so the bar is the majority; the
        // demo's test and FastPathMoqRelayCliLabTests hold the kernel share of a fresh relay to its own bars.
        Assert.True(figures.KernelShare >= 0.5, $"after the restart the kernel forwarded only {figures.KernelShare:P1}: {figures}");

        await second.StopAsync();
        Assert.False(Directory.Exists(pins) && Directory.GetFiles(pins).Length > 0, "a clean stop removes the pins");
    }

    /// <summary>A synthetic fast-path track on the relay's upstream interface.</summary>
    private static FastRelay.Cli.Scenario.MoqLabProcess Publisher(MoqLab lab, string name, params string[] extra) =>
        lab.StartClient(lab.Network.Publisher, name,
            ["publish", MoqLab.UrlOf(lab.Network.RelayUpstream.IPv4), "-k", "-n", MoqLab.Namespace, "-t", MoqLab.TrackName, "--fast-path",
             "--fps", "30", "--gop", "30", "--json", Path.Combine(lab.Work, name + ".json"), .. extra]);
}
