using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Tests.Moq.Relay.Fakes;
using Xunit;

namespace FastRelay.Tests.Moq.Relay;

/// <summary>Per-subscriber bounded send queues: a stalled subscriber loses low-priority subgroups, never memory or others' data.</summary>
public class RelayCongestionTests
{
    private const byte High = 0, Low = 200;
    private const int Objects = 5, Bytes = 1000;

    private static void PublishTwoPriorityGroups(IUpstreamTrackSink sink, ulong groups, Action afterEachObject)
    {
        for (ulong g = 0; g < groups; g++)
        {
            var high = sink.OpenSubgroup();
            var low = sink.OpenSubgroup();
            for (ulong o = 0; o < Objects; o++)
            {
                high.OnObject(RelayHarness.Obj(g, o * 2, Bytes, subgroup: 0, priority: High));
                afterEachObject();
                low.OnObject(RelayHarness.Obj(g, o * 2 + 1, Bytes, subgroup: 1, priority: Low));
                afterEachObject();
            }
            high.OnClosed(true);
            low.OnClosed(true);
        }
    }

    [Fact]
    public async Task AStalledSubscriberDropsLowPrioritySubgroupsFirstWithinItsBoundAndOthersGetEverything()
    {
        const long bound = 20_000;
        var h = new RelayHarness(new RelayOptions { Limits = new RelayLimits { SendQueueBytesPerSession = bound } });
        var slowPeer = h.NewSubscriberPeer();
        var (_, slow) = await h.SubscribeAsync(slowPeer);
        slow.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (_, fast) = await h.SubscribeAsync(h.NewSubscriberPeer());
        var slowSession = h.Relay.FindSession(slowPeer)!;
        long maxQueued = 0;

        PublishTwoPriorityGroups(h.Publisher.SinkFor(RelayHarness.Video), 20, () =>
        {
            maxQueued = Math.Max(maxQueued, slowSession.SendQueueBytes);
        });

        Assert.InRange(maxQueued, 1, bound);
        // Everything reached the subscriber that keeps up, complete and in order.
        await fast.WaitUntil(p => p.Subgroups.Count == 40 && p.Subgroups.All(s => s.Completed));
        Assert.All(fast.Subgroups, s => Assert.Equal(Objects, s.Objects.Count));
        foreach (var g in fast.Subgroups.GroupBy(s => s.Group))
            Assert.True(g.Single(s => s.Subgroup == 0).SendPriority < g.Single(s => s.Subgroup == 1).SendPriority,
                "the high-priority subgroup has the lower (earlier) transport priority");

        slow.Gate.SetResult();
        await slow.WaitUntil(p => slowSession.OpenSubgroups == 0);
        var kept = slow.Subgroups.Where(s => s.Completed).ToList();
        Assert.True(slowSession.SubgroupsDropped > 0);
        Assert.Contains(kept, s => s.Group == 0 && s.Subgroup == 0);
        Assert.True(kept.Count(s => s.PublisherPriority == High) > kept.Count(s => s.PublisherPriority == Low),
            $"kept {kept.Count(s => s.PublisherPriority == High)} high, {kept.Count(s => s.PublisherPriority == Low)} low");
        // Never a hole: a stream either carries its whole subgroup and a FIN, or it was reset.
        foreach (var stream in slow.Subgroups)
        {
            if (stream.Completed)
                Assert.Equal(Objects, stream.Objects.Count);
            else
                Assert.Equal(MoqStreamResetCode.TooFarBehind, stream.ResetCode);
        }
        Assert.Equal(0, slowSession.SendQueueBytes);
    }

    [Fact]
    public async Task ASubscriberWithAHigherSubscriberPriorityKeepsItsTrackOverAnotherOfTheSameSession()
    {
        var h = new RelayHarness(new RelayOptions { Limits = new RelayLimits { SendQueueBytesPerSession = 15_000 } });
        var audio = RelayNames.Track("live/cam1", "audio");
        var peer = h.NewSubscriberPeer();
        var (_, videoPort) = await h.SubscribeAsync(peer, new SubscribeRequest(RelayHarness.Video) { SubscriberPriority = 200 });
        var (_, audioPort) = await h.SubscribeAsync(peer, new SubscribeRequest(audio) { SubscriberPriority = 10 });
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        videoPort.Gate = gate;
        audioPort.Gate = gate;
        var video = h.Publisher.SinkFor(RelayHarness.Video);
        var audioSink = h.Publisher.SinkFor(audio);
        for (ulong g = 0; g < 10; g++)
        {
            var v = video.OpenSubgroup();
            var a = audioSink.OpenSubgroup();
            for (ulong o = 0; o < 3; o++)
            {
                v.OnObject(RelayHarness.Obj(g, o, Bytes));
                a.OnObject(RelayHarness.Obj(g, o, 200));
            }
            v.OnClosed(true);
            a.OnClosed(true);
        }
        gate.SetResult();
        var session = h.Relay.FindSession(peer)!;
        await audioPort.WaitUntil(_ => session.OpenSubgroups == 0);
        Assert.Equal(10, audioPort.Subgroups.Count(s => s.Completed));
        Assert.Contains(videoPort.Subgroups, s => s.ResetCode == MoqStreamResetCode.TooFarBehind);
    }
}
