using System.Text.Json;
using CliWrap.Buffered;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using FastRelay.Tests.Moq.Lab;
using Xunit;
using Xunit.Abstractions;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>
/// Subscriber churn on the fast path with the CLI in namespaces (prefix frcn, issue 11's "subscriber churn with no stale
/// kernel state"): while a steady `moq subscribe --fast-path` takes the whole track, fast-path subscribers come one after
/// another, get a subgroup from the kernel and leave in the middle of it (stopped, or done after the objects they
/// wanted; SIGTERM closes the session like the end of the run). After each departure the relay's pinned maps hold the steady subscriber's state only: one active slot, one
/// endpoint, one channel member, and stream mappings of that slot alone; once everyone is gone, nothing. The steady
/// subscriber gets every object intact, once.
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class FastPathMoqChurnLabTests(GeneratedObjects generated, ITestOutputHelper output)
{
    private const int Gop = 30;
    private const int Rate = 150;
    private const int Churners = 4;

    [LabFact(needsClang: true)]
    public async Task Subscribers_leaving_in_the_middle_of_kernel_forwarded_subgroups_leave_no_kernel_state_behind()
    {
        await using var lab = await MoqLab.UpAsync("frcn", subscribers: 2, output, relayInterfaces: 2);
        var net = lab.Network;
        var pins = Path.Combine(net.BpfFsPath, "fastrelay", "relay");
        // A group per churner and two more: the churner's first group is the relay's, the next one the kernel's.
        var objects = new LabTrackObjects((2 * Churners + 2) * Gop, seed: 33, minBytes: 600, maxBytes: 3000);
        var relay = await lab.StartFastPathRelayAsync(generated.ObjectPath(G.Protocol));
        var publisher = await lab.StartFastPathPublisherAsync(relay, Gop, Rate);
        var steady = lab.StartSubscriber(net.Subscribers[0], "steady", MoqLab.UrlOf(net.RelayDownstream.IPv4), objects.Count,
            "--start", "absolute 0/0", "--fast-path");
        await lab.WaitForStatusAsync("relay", s => s.FastPath is { Slots: 1 }, "the steady subscriber's slot");

        var churnAddress = net.Subscribers[1].IPv4.ToString();
        var fed = 0;
        async Task FeedUntil(int end)
        {
            await MoqLab.FeedPacedAsync(publisher, objects, fed, end);
            fed = Math.Max(fed, end);
        }

        await FeedUntil(Gop);
        for (var k = 0; k < Churners; k++)
        {
            // The rest of the current group (the relay's: its subgroup was claimed before the churner came), then half of
            // the next, whose subgroup the kernel copies to both: the churner leaves while that subgroup still runs. Odd
            // churners leave by themselves once they have the objects they asked for (a few before the half: the
            // subscription starts at the largest object or the one after it), even ones are stopped (SIGTERM).
            var groupStart = fed / Gop * Gop;
            var halfOfNext = groupStart + Gop + Gop / 2;
            var wanted = k % 2 == 1 ? halfOfNext - fed - 2 : objects.Count;
            var name = $"churn{k}";
            var churner = lab.StartSubscriber(net.Subscribers[1], name, MoqLab.UrlOf(net.RelayDownstream.IPv4), wanted, "--fast-path");
            await lab.WaitForStatusAsync("relay", s => s.FastPath is { Slots: 2 }, $"{name}'s slot");
            // Active in the kernel too (the address resolved) before the next group's subgroup starts: under load that
            // can take a while, and a subgroup routed before it would reach the churner from userspace alone.
            var activeBy = DateTime.UtcNow + MoqLab.StepTimeout;
            while ((await KernelStateAsync(pins)).Active.Count < 2)
            {
                Assert.True(DateTime.UtcNow < activeBy, $"{name}'s slot never became active in the kernel");
                await Task.Delay(20);
            }
            await FeedUntil(halfOfNext);
            var left = System.Diagnostics.Stopwatch.StartNew();
            if (k % 2 == 1)
            {
                Assert.True(await churner.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, $"{name} failed:\n" + churner.Log);
                left.Restart();
                Assert.Equal(wanted, lab.SubscriberReport(name).Verified);
            }
            else
            {
                await lab.WaitForStatusAsync("relay", s => s.FastPath?.Subscribers?.Any(c => c.Live && c.Remote.Contains(churnAddress) && c.KernelBytes > 0) == true,
                    $"kernel bytes to {name}");
                left.Restart();
                await churner.StopAsync();
                // SIGTERM ends `moq subscribe` as its own end would: its report, then its session closed.
                Assert.True(lab.SubscriberReport(name).Verified > 0, $"{name} wrote no report:\n" + churner.Log);
            }
            Assert.Equal(0, lab.SubscriberReport(name).IntegrityFailures);
            var status = await lab.WaitForStatusAsync("relay", s => s.FastPath is { Slots: 1 }, $"{name}'s slot gone");
            // Freed because the subscriber closed its session, not by the relay's 30 s idle timeout (a subscriber killed by
            // SIGTERM before StopSignals took that long to leave).
            Assert.True(left.Elapsed < TimeSpan.FromSeconds(15), $"{name}'s slot went {left.Elapsed.TotalSeconds:0.0} s after it left");
            var departed = status.FastPath!.Subscribers!.Where(c => !c.Live && c.Remote.Contains(churnAddress)).ToList();
            Assert.Equal(k + 1, departed.Count);
            // It left in the middle of a subgroup the kernel was copying to it (the group's second half is still to come).
            Assert.All(departed, c => Assert.True(c.KernelBytes > 0, $"{c.Session} {c.Remote}: no kernel bytes ({c})"));
            await AssertOnlyOneSubscribersStateAsync(pins, $"after {name} left");
        }

        await FeedUntil(objects.Count);
        publisher.EndFeed();
        Assert.True(await steady.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, "steady failed:\n" + steady.Log);
        Assert.True(await publisher.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, "publisher failed:\n" + publisher.Log);
        lab.AssertSubscriberComplete(objects, "steady", from: 0, Gop);

        await lab.FinalFastPathStatusAsync();
        var (active, endpoints, members, streams) = await KernelStateAsync(pins);
        Assert.Empty(active);
        Assert.Equal(0, endpoints);
        Assert.Empty(members);
        Assert.Empty(streams);
    }

    /// <summary>The pinned maps hold one subscriber's state: one active slot, its endpoint, a channel with that slot as its
    /// only member, and stream mappings of that slot only (the steady subscriber's running subgroups).</summary>
    private async Task AssertOnlyOneSubscribersStateAsync(string pins, string when)
    {
        var (active, endpoints, members, streams) = await KernelStateAsync(pins);
        output.WriteLine($"{when}: active slots [{string.Join(", ", active)}], {endpoints} endpoint(s), channel members [{string.Join(", ", members)}], " +
                         $"stream mappings of slots [{string.Join(", ", streams)}]");
        var slot = Assert.Single(active);
        Assert.Equal(1, endpoints);
        Assert.Equal([slot], members);
        Assert.All(streams, s => Assert.Equal(slot, s));
    }

    /// <summary>Read from the relay's pins with bpftool: the active slots, the endpoint entries, every channel's member
    /// slots and the slot of every stream mapping.</summary>
    private static async Task<(List<uint> Active, int Endpoints, List<uint> Members, List<uint> StreamSlots)> KernelStateAsync(string pins)
    {
        var subscribers = await DumpAsync(pins, "fr_subscribers");
        var active = subscribers.Where(e => e.GetProperty("value").GetProperty("active").GetUInt32() == 1)
            .Select(e => e.GetProperty("key").GetUInt32()).ToList();
        var endpoints = (await DumpAsync(pins, "fr_sub_by_endpoint")).Count;
        var members = new List<uint>();
        foreach (var channel in await DumpAsync(pins, "fr_channels"))
        {
            var value = channel.GetProperty("value");
            members.AddRange(value.GetProperty("slots").EnumerateArray().Take((int)value.GetProperty("count").GetUInt32()).Select(s => s.GetUInt32()));
        }
        var streams = (await DumpAsync(pins, "fr_streams")).Select(e => e.GetProperty("key").GetProperty("slot").GetUInt32()).ToList();
        return (active, endpoints, members, streams);
    }

    private static async Task<List<JsonElement>> DumpAsync(string pins, string map)
    {
        var json = (await CliWrap.Cli.Wrap("bpftool").WithArguments(["-j", "map", "dump", "pinned", Path.Combine(pins, map)]).ExecuteBufferedAsync()).StandardOutput;
        return [.. JsonDocument.Parse(json).RootElement.EnumerateArray().Select(e => e.GetProperty("formatted").Clone())];
    }
}
