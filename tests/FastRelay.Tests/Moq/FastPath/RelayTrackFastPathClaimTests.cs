using FastRelay.Tests.Moq.Relay.Fakes;
using Xunit;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>
/// The relay's side of "the kernel serves this subgroup to these subscribers" (RelayTrack.ClaimForFastPath, made by
/// RelayFastPath when the tap put an upstream stream on the fast path): the relay's own delivery skips exactly the
/// claimed subscriptions for exactly the claimed subgroup, and keeps serving everyone else and every other subgroup.
/// </summary>
public sealed class RelayTrackFastPathClaimTests
{
    [Fact]
    public async Task A_claimed_subgroup_skips_only_the_claimed_subscribers_and_only_that_subgroup()
    {
        var h = new RelayHarness();
        var (_, kernelServed) = await h.SubscribeAsync(h.NewSubscriberPeer());
        var (_, userspace) = await h.SubscribeAsync(h.NewSubscriberPeer());
        var track = h.Relay.FindTrack(RelayHarness.Video)!;
        var claimed = track.SubscribersSnapshot().Take(1).ToArray();
        var sink = h.Publisher.SinkFor(RelayHarness.Video);

        track.ClaimForFastPath(0, 0, claimed);      // group 0, subgroup 0
        track.ClaimForFastPath(2, null, claimed);   // group 2, whichever subgroup comes (id from the first object)
        RelayHarness.PublishGroups(sink, 0, 4, 3, 10);

        await userspace.WaitUntil(p => p.AllObjects().Count == 12 && p.Subgroups.All(s => s.Completed));
        await kernelServed.WaitUntil(p => p.AllObjects().Count == 6 && p.Subgroups.All(s => s.Completed));
        Assert.Equal(["1/0", "1/1", "1/2", "3/0", "3/1", "3/2"], kernelServed.AllObjects().Select(o => $"{o.Group}/{o.ObjectId}"));
        Assert.Equal(2, kernelServed.Subgroups.Count); // no downstream stream was even opened for the claimed subgroups
    }

    [Fact]
    public async Task A_claim_made_after_a_subgroup_started_does_not_cut_it()
    {
        var h = new RelayHarness();
        var (_, port) = await h.SubscribeAsync(h.NewSubscriberPeer());
        var track = h.Relay.FindTrack(RelayHarness.Video)!;
        var stream = h.Publisher.SinkFor(RelayHarness.Video).OpenSubgroup();
        stream.OnObject(RelayHarness.Obj(0, 0, 10));
        track.ClaimForFastPath(0, 0, track.SubscribersSnapshot().ToArray());   // belongs to a later stream, not this one
        stream.OnObject(RelayHarness.Obj(0, 1, 10));
        stream.OnClosed(true);
        await port.WaitUntil(p => p.Subgroups.Count == 1 && p.Subgroups.All(s => s.Completed));
        Assert.Equal(2, port.AllObjects().Count);
    }

    [Fact]
    public async Task Claims_are_bounded_per_track()
    {
        var h = new RelayHarness();
        var (_, port) = await h.SubscribeAsync(h.NewSubscriberPeer());
        var track = h.Relay.FindTrack(RelayHarness.Video)!;
        var subscribers = track.SubscribersSnapshot().ToArray();
        // A publisher opening streams whose objects never come would leave claims behind: the oldest go first.
        for (ulong g = 0; g <= 256; g++)
            track.ClaimForFastPath(g, 0, subscribers);
        RelayHarness.PublishGroups(h.Publisher.SinkFor(RelayHarness.Video), 0, 2, 1, 10);
        await port.WaitUntil(p => p.Subgroups.Count == 1 && p.Subgroups.All(s => s.Completed));
        Assert.Equal(["0/0"], port.AllObjects().Select(o => $"{o.Group}/{o.ObjectId}")); // group 0's claim was evicted
    }
}
