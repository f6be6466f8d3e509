using System.Net.Sockets;
using FastRelay.Cli.Relay;
using FastRelay.Cli.Scenario;
using FastRelay.Tests.Lab;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>
/// Budget pressure on the fast path: the MoQ demo's processes (publisher → `moq relay --mode fastpath` → two fast-path
/// subscribers), one subscriber behind a link capped below the track's rate. The track has two temporal layers: the key
/// object alone in subgroup 0 (the most urgent), the delta objects in subgroup 1. The capped subscriber's congestion
/// controller (losses and queueing at the cap) drives its kernel budget and drop threshold; whole delta subgroups are
/// then not started for it (decided at the subgroup's start), never a key subgroup, and every subgroup that did start is
/// delivered whole: the objects missing are exactly the skipped subgroups' objects. The other subscriber gets everything.
/// </summary>
public sealed class FastPathMoqCongestionLabTests(ITestOutputHelper output)
{
    [LabFact(needsClang: true)]
    public async Task A_congested_subscriber_loses_whole_low_priority_subgroups_never_a_key_subgroup_and_no_stream_is_left_with_a_hole()
    {
        const int gop = 30;
        var result = await MoqDemoScenario.RunAsync(new MoqDemoOptions
        {
            Mode = RelayMode.FastPath,
            DurationSeconds = 8,
            GopFrames = gop,
            Bitrate = "2M",
            // 1.2 Mbit/s towards s1: the key layer (about a fifth of the 2 Mbit/s) fits, the whole track does not.
            Subscribers = [new(0, AddressFamily.InterNetwork), new(1, AddressFamily.InterNetwork, RateLimitBitsPerSecond: 1_200_000)],
            Progress = output.WriteLine,
        });
        var summary = MoqDemoSummary.From(result);
        foreach (var line in summary.Subscribers)
            output.WriteLine(line.ToString());
        var relaySide = result.RelayStatus!.FastPath!.Subscribers!;
        foreach (var s in relaySide)
            output.WriteLine(s.ToString());

        var published = result.Publisher;
        var (clean, capped) = (result.Subscribers[0].Report, result.Subscribers[1].Report);
        // The uncapped subscriber: every object, intact.
        Assert.Equal(published.Objects, clean.Verified);
        Assert.Equal(0, clean.IntegrityFailures);

        // The capped one: the relay skipped delta subgroups for it ...
        var cappedSlot = Assert.Single(relaySide, s => s.Remote.Contains(result.Subscribers[1].Address));
        var cleanSlot = Assert.Single(relaySide, s => s.Remote.Contains(result.Subscribers[0].Address));
        Assert.True(cappedSlot.SubgroupsSkipped > 0, $"no subgroup skipped for the capped subscriber: {cappedSlot}");
        Assert.Equal(0, cleanSlot.SubgroupsSkipped);
        // ... never a key subgroup (the most urgent): every key object arrived, intact and once ...
        Assert.Equal(published.KeyObjects, capped.KeyObjects);
        Assert.Equal(0, capped.IntegrityFailures);
        Assert.Equal(0, capped.Duplicates);
        // ... and what it misses is whole skipped subgroups (gop - 1 deltas each): a subgroup that started was finished
        // whole, none was cut short or left with a hole. One skip may be of a subgroup that never carried an object: the
        // publisher opens the next group's streams ahead, and after its last object that group never comes.
        var missing = published.Objects - capped.Verified;
        Assert.True(missing % (gop - 1) == 0, $"{missing} objects missing: not whole delta subgroups of {gop - 1}");
        Assert.InRange(missing / (gop - 1), cappedSlot.SubgroupsSkipped - 1, cappedSlot.SubgroupsSkipped);
        // No stalled stream: the subscription ended with the track, not by the subscriber's own deadline.
        Assert.NotNull(capped.EndedBecause);
    }
}
