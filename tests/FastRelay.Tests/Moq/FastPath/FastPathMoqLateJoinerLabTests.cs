using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using FastRelay.Tests.Moq.Lab;
using Xunit;
using Xunit.Abstractions;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>
/// A late joiner on the fast path, with the CLI in namespaces (prefix frlj): `moq publish --fast-path` → `moq relay --mode
/// fastpath` → an early `moq subscribe --fast-path` from the start and a late one that joins mid-group with a joining
/// FETCH (`--fetch 1`). The late one gets the current group's objects so far from the cache, the rest of that group
/// from the relay (its subgroup was claimed for the kernel before it came), and every later group from the kernel; both
/// get every object intact, once, in order within their subgroups.
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class FastPathMoqLateJoinerLabTests(GeneratedObjects generated, ITestOutputHelper output)
{
    private const int Gop = 30;
    private const int Rate = 150;

    [LabFact(needsClang: true)]
    public async Task A_late_fast_path_subscriber_gets_the_current_group_by_fetch_then_later_groups_from_the_kernel()
    {
        await using var lab = await MoqLab.UpAsync("frlj", subscribers: 2, output, relayInterfaces: 2);
        var net = lab.Network;
        var objects = new LabTrackObjects(300, seed: 21, minBytes: 600, maxBytes: 3000);
        var relay = await lab.StartFastPathRelayAsync(generated.ObjectPath(G.Protocol));
        var publisher = await lab.StartFastPathPublisherAsync(relay, Gop, Rate);
        var early = lab.StartSubscriber(net.Subscribers[0], "early", MoqLab.UrlOf(net.RelayDownstream.IPv4), objects.Count,
            "--start", "absolute 0/0", "--fast-path");
        await relay.WaitForLogAsync(l => MoqLab.AcceptedSubscriptions(l) >= 1, "the early SUBSCRIBE", MoqLab.StepTimeout);

        // Paced like media (see FastPathMoqRelayCliLabTests): two groups and a half, then the late joiner, then the rest.
        const int beforeJoin = 2 * Gop + Gop / 2;
        await MoqLab.FeedPacedAsync(publisher, objects, 0, beforeJoin);
        await lab.WaitForStatusAsync("relay", s => s.Totals.ObjectsIn >= beforeJoin, $"{beforeJoin} objects in");
        var late = lab.StartSubscriber(net.Subscribers[1], "late", MoqLab.UrlOf(net.RelayDownstream.IPv4), objects.Count - 2 * Gop,
            "--fetch", "1", "--fast-path");
        await lab.WaitForStatusAsync("relay", s => s.Totals.FetchesServed >= 1, "the joining FETCH");
        await MoqLab.FeedPacedAsync(publisher, objects, beforeJoin, objects.Count);
        publisher.EndFeed();

        Assert.True(await early.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, "early failed:\n" + early.Log);
        Assert.True(await late.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, "late failed:\n" + late.Log);
        Assert.True(await publisher.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, "publisher failed:\n" + publisher.Log);
        lab.AssertSubscriberComplete(objects, "early", from: 0, Gop);
        var report = lab.AssertSubscriberComplete(objects, "late", from: 2 * Gop, Gop);
        Assert.Equal(2UL, report.FirstGroup);
        Assert.Equal(beforeJoin - 2 * Gop, report.ViaFetch);   // exactly what the cache held of the current group

        // The late joiner's later groups came from the kernel: its connection got a slot and the kernel copied groups
        // 3..9 to it (group 2 came from the relay's own delivery, outside these counts: the cache's half by FETCH, the rest
        // because that subgroup's kernel mapping was made before the late one subscribed).
        var status = await lab.WaitForStatusAsync("relay", s => s.FastPath is { Slots: 0, Subscribers.Count: 2 }, "both subscribers' final counts");
        var lateSlot = Assert.Single(status.FastPath!.Subscribers!, s => s.Remote.Contains(net.Subscribers[1].IPv4.ToString()));
        long laterGroups = objects.Objects.Skip(3 * Gop).Sum(o => (long)o.Length);
        output.WriteLine($"late joiner: {lateSlot.KernelShare:P1} from the kernel ({lateSlot.KernelBytes} kernel, {lateSlot.UserspaceBytes} relay bytes; " +
                         $"groups 3..9 hold {laterGroups} payload bytes)");
        Assert.True(lateSlot.KernelBytes >= laterGroups * 7 / 10, $"the kernel copied {lateSlot.KernelBytes} bytes to the late joiner, groups 3..9 hold {laterGroups}");
        Assert.True(lateSlot.KernelShare >= 0.7, $"the late joiner's fast-path streams got {lateSlot.KernelShare:P1} of their bytes from the kernel");
    }
}
