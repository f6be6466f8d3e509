using FastRelay.Protocols.Moq.Relay;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using Xunit;

namespace FastRelay.Tests.Moq.Relay.EndToEnd;

/// <summary>Over loopback QUIC: PUBLISH, namespace discovery, and what the relay lets go of when peers leave.</summary>
public class RelayLoopbackLifecycleTests
{
    private static readonly MoqFullTrackName Track = RelayNames.Track("live/cam1", "video");

    [Fact]
    public async Task APublishedTrackReachesSubscribersWithoutAnUpstreamSubscribe()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var relay = await LoopbackRelay.StartAsync();
        await using var pub = await LoopbackRelay.ConnectAsync(relay, cancellationToken: timeout.Token);
        var publication = await pub.Session.PublishAsync(Track, cancellationToken: timeout.Token);
        Assert.True(publication.Forward);
        await AcceptingPublisher.PublishGroupsAsync(publication, 0, 2, 2, 300);

        await using var client = await LoopbackRelay.ConnectAsync(relay, cancellationToken: timeout.Token);
        var subscription = await client.Session.SubscribeAsync(Track, cancellationToken: timeout.Token);
        Assert.Equal(new MoqLocation(1, 1), subscription.LargestObject);
        await AcceptingPublisher.PublishGroupsAsync(publication, 2, 1, 2, 300);
        var objects = new List<MoqObject> { await subscription.Objects.ReadAsync(timeout.Token), await subscription.Objects.ReadAsync(timeout.Token) };
        Assert.Equal(new[] { "2/0", "2/1" }, objects.Select(o => $"{o.GroupId}/{o.ObjectId}"));

        // The publisher ends the track: the subscriber gets PUBLISH_DONE and the relay forgets the track.
        await publication.FinishAsync(MoqPublishDoneCode.TrackEnded);
        var done = await subscription.Done.WaitAsync(timeout.Token);
        Assert.Equal((ulong)MoqPublishDoneCode.TrackEnded, done!.StatusCode);
        for (int i = 0; i < 100 && relay.Relay.TrackCount > 0; i++) await Task.Delay(20, timeout.Token);
        Assert.Equal(0, relay.Relay.TrackCount);
    }

    [Fact]
    public async Task ANamespaceSubscriberLearnsOfPublishedNamespacesAndTheirWithdrawal()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var relay = await LoopbackRelay.StartAsync();
        await using var watcher = await LoopbackRelay.ConnectAsync(relay, cancellationToken: timeout.Token);
        var events = await watcher.Session.SubscribeNamespaceAsync(RelayNames.Namespace("live"), cancellationToken: timeout.Token);
        await using var pub = await LoopbackRelay.ConnectAsync(relay, new AcceptingPublisher(), cancellationToken: timeout.Token);
        var published = await pub.Session.PublishNamespaceAsync(RelayNames.Namespace("live/cam1"), cancellationToken: timeout.Token);
        var added = await events.Events.ReadAsync(timeout.Token);
        Assert.True(added.Active);
        Assert.Equal(RelayNames.Namespace("live/cam1"), added.Namespace);
        await published.DisposeAsync();
        var removed = await events.Events.ReadAsync(timeout.Token);
        Assert.False(removed.Active);
        Assert.Equal(RelayNames.Namespace("live/cam1"), removed.Namespace);
    }

    [Fact]
    public async Task WhenSubscribersAndThePublisherLeaveTheRelayHoldsNothing()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var relay = await LoopbackRelay.StartAsync(new RelayOptions { UpstreamLinger = TimeSpan.FromMilliseconds(200) });
        var publisher = new AcceptingPublisher();
        var pub = await LoopbackRelay.ConnectAsync(relay, publisher, cancellationToken: timeout.Token);
        await pub.Session.PublishNamespaceAsync(RelayNames.Namespace("live"), cancellationToken: timeout.Token);
        for (int round = 0; round < 3; round++)
        {
            var client = await LoopbackRelay.ConnectAsync(relay, cancellationToken: timeout.Token);
            var subscription = await client.Session.SubscribeAsync(Track, cancellationToken: timeout.Token);
            var publication = await publisher.FirstSubscription.WaitAsync(timeout.Token);
            await AcceptingPublisher.PublishGroupsAsync(publication, (ulong)round, 1, 2, 100);
            await subscription.Objects.ReadAsync(timeout.Token);
            await client.DisposeAsync(); // the session goes; the relay ends its subscription
            // After the linger the relay unsubscribes upstream: the publisher sees its publication cancelled.
            await publication.Cancelled.WaitAsync(timeout.Token);
            Assert.Equal(0, relay.Relay.TrackCount);
            publisher.Reset();
        }
        Assert.Equal(3, relay.Relay.Counters.UpstreamSubscriptions);
        await pub.DisposeAsync();
        for (int i = 0; i < 100 && relay.Relay.SessionCount > 0; i++) await Task.Delay(20, timeout.Token);
        Assert.Equal(0, relay.Relay.SessionCount);
        Assert.Equal((0, 0, 0), relay.Relay.NamespaceState);
        Assert.Equal(0, relay.Relay.GlobalCache.UsedBytes);
    }
}
