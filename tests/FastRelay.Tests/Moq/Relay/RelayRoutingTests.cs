using FastRelay.Tests.Infrastructure;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Tests.Moq.Relay.Fakes;
using Xunit;

namespace FastRelay.Tests.Moq.Relay;

/// <summary>Routing by namespace and the one refcounted upstream subscription per track.</summary>
public class RelayRoutingTests
{
    [Fact]
    public async Task SubscribeGoesToThePublisherOfTheLongestMatchingNamespace()
    {
        var h = new RelayHarness();
        var specific = new FakePeer("specific");
        Assert.True(h.Relay.SessionStarted(specific));
        var ns = await h.Relay.PublishNamespaceAsync(specific, new NamespaceRequest(RelayNames.Namespace("live/cam1")), default);
        Assert.True(ns.IsAccepted);
        await h.SubscribeAsync(h.NewSubscriberPeer());
        Assert.Single(specific.Subscribes);
        Assert.Empty(h.Publisher.Subscribes);
        // Another camera only the shorter prefix covers goes to the first publisher.
        await h.SubscribeAsync(h.NewSubscriberPeer(), new SubscribeRequest(RelayNames.Track("live/cam2", "video")));
        Assert.Single(h.Publisher.Subscribes);
    }

    [Fact]
    public async Task ANamespaceNobodyPublishesIsDoesNotExist()
    {
        var h = new RelayHarness();
        var outcome = await h.Relay.SubscribeAsync(h.NewSubscriberPeer(), new SubscribeRequest(RelayNames.Track("livex", "v")), new FakeDownstreamPort(), default);
        Assert.False(outcome.IsAccepted);
        Assert.Equal(MoqRequestErrorCode.DoesNotExist, outcome.Refusal!.Code);
        Assert.Equal(0, h.Relay.TrackCount);
    }

    [Fact]
    public async Task TheUpstreamRefusalIsPassedOnAndTheTrackForgotten()
    {
        var h = new RelayHarness();
        h.Publisher.RefuseWith = new RequestRefusal(MoqRequestErrorCode.DoesNotExist, "no such camera");
        var outcome = await h.Relay.SubscribeAsync(h.NewSubscriberPeer(), new SubscribeRequest(RelayHarness.Video), new FakeDownstreamPort(), default);
        Assert.Equal(MoqRequestErrorCode.DoesNotExist, outcome.Refusal!.Code);
        Assert.Equal(0, h.Relay.TrackCount);
    }

    [Fact]
    public async Task ManySubscribersShareOneUpstreamSubscriptionUntilTheLastLeavesAndTheLingerPasses()
    {
        var h = new RelayHarness(new RelayOptions { UpstreamLinger = TimeSpan.FromSeconds(2) });
        var subscriptions = new List<SubscribeAccepted>();
        // Concurrent SUBSCRIBEs while the upstream answer is held: still one upstream SUBSCRIBE.
        h.Publisher.HoldAnswers = new TaskCompletionSource();
        var pending = Enumerable.Range(0, 10).Select(_ => h.SubscribeAsync(h.NewSubscriberPeer())).ToList();
        await Task.Delay(50);
        h.Publisher.HoldAnswers.SetResult();
        foreach (var p in pending) subscriptions.Add((await p).Accepted);
        Assert.Single(h.Publisher.Subscribes);
        var upstream = h.Publisher.Subscribes.Single().Subscription;
        Assert.Equal(10, h.Relay.FindTrack(RelayHarness.Video)!.SubscriberCount);

        foreach (var s in subscriptions.Take(9)) s.Subscription.Cancel();
        h.Time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(0, h.Relay.SweepIdleTracks());
        Assert.False(upstream.IsCancelled);

        subscriptions[9].Subscription.Cancel();
        h.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, h.Relay.SweepIdleTracks());
        Assert.False(upstream.IsCancelled, "unsubscribed before the linger passed");
        h.Time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.Equal(1, h.Relay.SweepIdleTracks());
        Assert.True(upstream.IsCancelled);
        Assert.Equal(0, h.Relay.TrackCount);
    }

    [Fact]
    public async Task ASubscriberReturningWithinTheLingerReusesTheUpstreamSubscription()
    {
        var h = new RelayHarness();
        var (first, _) = await h.SubscribeAsync(h.NewSubscriberPeer());
        first.Subscription.Cancel();
        h.Time.Advance(TimeSpan.FromSeconds(1));
        await h.SubscribeAsync(h.NewSubscriberPeer());
        h.Time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(0, h.Relay.SweepIdleTracks());
        Assert.Single(h.Publisher.Subscribes);
        Assert.False(h.Publisher.Subscribes.Single().Subscription.IsCancelled);
    }

    [Fact]
    public async Task WhenThePublisherEndsTheTrackEverySubscriberGetsPublishDoneAndANewSubscribeStartsAfresh()
    {
        var h = new RelayHarness();
        var (_, port1) = await h.SubscribeAsync(h.NewSubscriberPeer());
        var (_, port2) = await h.SubscribeAsync(h.NewSubscriberPeer());
        h.Publisher.Subscribes.Single().Subscription.End(MoqPublishDoneCode.TrackEnded);
        Assert.Equal(MoqPublishDoneCode.TrackEnded, await port1.Finished.Task.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(MoqPublishDoneCode.TrackEnded, await port2.Finished.Task.WaitAsync(TimeSpan.FromSeconds(5)));
        // The ports hear PUBLISH_DONE before the relay's pump removes the track, on another thread.
        await Eventually.TrueAsync(() => h.Relay.TrackCount == 0, "the ended track was never forgotten");
        await h.SubscribeAsync(h.NewSubscriberPeer());
        Assert.Equal(2, h.Publisher.Subscribes.Count);
    }

    [Fact]
    public async Task AnEdgeSubscribesAtItsUpstreamRelayForNamespacesItDoesNotHave()
    {
        var origin = new FakePeer("origin");
        var upstream = new FakeUpstreamRelay(origin);
        var h = new RelayHarness(new RelayOptions { Upstream = upstream, UpstreamTokens = [AuthToken.FromText("edge-token")] }, publishNamespace: false);
        Assert.True(h.Relay.SessionStarted(origin));
        var (_, port) = await h.SubscribeAsync(h.NewSubscriberPeer());
        var (request, sink, _) = origin.Subscribes.Single();
        Assert.Equal(RelayHarness.Video, request.Track);
        Assert.Equal("edge-token", System.Text.Encoding.UTF8.GetString(request.AuthorizationTokens.Single().Value.Span));
        RelayHarness.PublishGroups(sink, 0, 2, 3, 100);
        await port.WaitUntil(p => p.AllObjects().Count == 6);
    }

    [Fact]
    public async Task APublishedTrackIsServedWithoutAnUpstreamSubscribe()
    {
        var h = new RelayHarness(publishNamespace: false);
        var source = new FakeUpstreamSubscription();
        var published = await h.Relay.PublishAsync(h.Publisher, new PublishRequest(RelayHarness.Video, source), default);
        Assert.True(published.IsAccepted);
        var sink = published.Value!;
        RelayHarness.PublishGroups(sink, 0, 1, 2, 50);
        var (accepted, port) = await h.SubscribeAsync(h.NewSubscriberPeer());
        Assert.Equal(new MoqLocation(0, 1), accepted.Info.Largest);
        RelayHarness.PublishGroups(sink, 1, 1, 2, 50);
        await port.WaitUntil(p => p.AllObjects().Count == 2);
        Assert.Empty(h.Publisher.Subscribes);
        // A pushed track stays when its subscribers leave: the publisher decides.
        accepted.Subscription.Cancel();
        h.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, h.Relay.SweepIdleTracks());
        Assert.False(source.IsCancelled);
        source.End(MoqPublishDoneCode.TrackEnded);
        await Eventually.TrueAsync(() => h.Relay.TrackCount == 0, "the ended track was never forgotten");
    }
}

internal sealed class FakeUpstreamRelay(FakePeer origin) : IUpstreamRelay
{
    public string Address => "moqt://origin.test";
    public ValueTask<IRelayPeer> GetPeerAsync(CancellationToken cancellationToken) => ValueTask.FromResult<IRelayPeer>(origin);
}
