using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Tests.Moq.Relay.Fakes;
using Xunit;

namespace FastRelay.Tests.Moq.Relay;

/// <summary>Peers that come and go leave nothing behind: asserted on the relay's own tables and counters.</summary>
public class RelayLeakTests
{
    [Fact]
    public async Task AThousandSubscriberJoinLeaveCyclesLeaveNoStateBehind()
    {
        var h = new RelayHarness(new RelayOptions { UpstreamLinger = TimeSpan.Zero });
        var sink = (IUpstreamTrackSink?)null;
        ulong group = 0;
        for (int cycle = 0; cycle < 1000; cycle++)
        {
            var peer = h.NewSubscriberPeer();
            var (accepted, port) = await h.SubscribeAsync(peer);
            sink = h.Publisher.SinkFor(RelayHarness.Video);
            // Half the subscribers leave mid-subgroup, half after it ended; some by cancelling, some by closing the session.
            var stream = sink.OpenSubgroup();
            stream.OnObject(RelayHarness.Obj(group, 0, 100));
            if (cycle % 2 == 0) stream.OnClosed(true);
            if (cycle % 3 == 0) h.Relay.SessionEnded(peer);
            else
            {
                accepted.Subscription.Cancel();
                h.Relay.SessionEnded(peer);
            }
            if (cycle % 2 == 1) stream.OnClosed(true);
            group++;
            h.Relay.SweepIdleTracks();
        }
        h.Registration!.Dispose();
        h.Relay.SessionEnded(h.Publisher);

        Assert.Equal(0, h.Relay.SessionCount);
        Assert.Equal(0, h.Relay.TrackCount);
        Assert.Equal((0, 0, 0), h.Relay.NamespaceState);
        Assert.Equal(0, h.Relay.GlobalCache.UsedBytes);
        Assert.Equal(0, h.Relay.GlobalCache.CacheCount);
        Assert.Equal(1000, h.Relay.Counters.SubscriptionsAccepted);
        // Every upstream subscription the relay made was cancelled again.
        Assert.All(h.Publisher.Subscribes, s => Assert.True(s.Subscription.IsCancelled));
    }

    [Fact]
    public async Task ASessionThatEndsTakesItsSubscriptionsNamespacesAndInterestsWithIt()
    {
        var h = new RelayHarness(new RelayOptions { UpstreamLinger = TimeSpan.Zero });
        var peer = h.NewSubscriberPeer();
        for (int i = 0; i < 20; i++)
            await h.SubscribeAsync(peer, new SubscribeRequest(RelayNames.Track("live/cam" + i, "video")));
        await h.Relay.SubscribeNamespaceAsync(peer, new NamespaceRequest(RelayNames.Namespace("live")), new FakeNamespaceListener(), default);
        await h.Relay.PublishNamespaceAsync(peer, new NamespaceRequest(RelayNames.Namespace("mine/a")), default);
        Assert.Equal(20, h.Relay.FindSession(peer)!.SubscriptionCount);
        h.Relay.SessionEnded(peer);
        Assert.Null(h.Relay.FindSession(peer));
        h.Relay.SweepIdleTracks();
        Assert.Equal(0, h.Relay.TrackCount);
        Assert.Equal(1, h.Relay.NamespaceState.Published); // the harness publisher's "live"
        Assert.Equal(0, h.Relay.NamespaceState.Interests);
    }

    [Fact]
    public async Task PerSessionLimitsRefuseWithExcessiveLoadInsteadOfAllocating()
    {
        var h = new RelayHarness(new RelayOptions
        {
            Limits = new RelayLimits { MaxSubscriptionsPerSession = 3, MaxPublishedNamespacesPerSession = 2, MaxNamespaceInterestsPerSession = 1, MaxSessions = 4 },
        });
        var peer = h.NewSubscriberPeer();
        for (int i = 0; i < 3; i++)
            await h.SubscribeAsync(peer, new SubscribeRequest(RelayNames.Track("live/c" + i, "v")));
        var fourth = await h.Relay.SubscribeAsync(peer, new SubscribeRequest(RelayNames.Track("live/c9", "v")), new FakeDownstreamPort(), default);
        Assert.Equal(MoqRequestErrorCode.ExcessiveLoad, fourth.Refusal!.Code);
        await h.Relay.PublishNamespaceAsync(peer, new NamespaceRequest(RelayNames.Namespace("a")), default);
        await h.Relay.PublishNamespaceAsync(peer, new NamespaceRequest(RelayNames.Namespace("b")), default);
        var third = await h.Relay.PublishNamespaceAsync(peer, new NamespaceRequest(RelayNames.Namespace("c")), default);
        Assert.Equal(MoqRequestErrorCode.ExcessiveLoad, third.Refusal!.Code);
        await h.Relay.SubscribeNamespaceAsync(peer, new NamespaceRequest(RelayNames.Namespace("x")), new FakeNamespaceListener(), default);
        var second = await h.Relay.SubscribeNamespaceAsync(peer, new NamespaceRequest(RelayNames.Namespace("y")), new FakeNamespaceListener(), default);
        Assert.Equal(MoqRequestErrorCode.ExcessiveLoad, second.Refusal!.Code);
        // Sessions: the harness publisher and `peer` are two of four.
        Assert.True(h.Relay.SessionStarted(new FakePeer()));
        Assert.True(h.Relay.SessionStarted(new FakePeer()));
        Assert.False(h.Relay.SessionStarted(new FakePeer()));
    }

    [Fact]
    public async Task RequestsFromAPeerWhoseSessionWasNotStartedAreRefusedWithoutState()
    {
        var h = new RelayHarness();
        var stranger = new FakePeer();
        var outcome = await h.Relay.SubscribeAsync(stranger, new SubscribeRequest(RelayHarness.Video), new FakeDownstreamPort(), default);
        Assert.False(outcome.IsAccepted);
        Assert.Equal(0, h.Relay.TrackCount);
        Assert.Null(h.Relay.FindSession(stranger));
    }
}
