using FastRelay.Protocols.Moq.Relay;
using FastRelay.Protocols.Moq.Relay.Auth;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Status;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Subscriber;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using Xunit;

namespace FastRelay.Tests.Moq.Relay.EndToEnd;

/// <summary>The relay end to end over our QUIC on loopback: real sessions for publisher, subscribers and relays.</summary>
public class RelayLoopbackTests
{
    private static readonly MoqFullTrackName Track = RelayNames.Track("live/cam1", "video");

    private static async Task<List<MoqObject>> ReadAsync(MoqSubscription subscription, int count, CancellationToken cancellationToken)
    {
        var objects = new List<MoqObject>();
        while (objects.Count < count)
            objects.Add(await subscription.Objects.ReadAsync(cancellationToken));
        return objects;
    }

    private static string Describe(MoqObject o) => $"{o.GroupId}/{o.ObjectId}";

    [Fact]
    public async Task APublisherAndThreeSubscribersGetByteIdenticalObjects()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var relay = await LoopbackRelay.StartAsync();
        var publisher = new AcceptingPublisher();
        await using var pub = await LoopbackRelay.ConnectAsync(relay, publisher, cancellationToken: timeout.Token);
        await pub.Session.PublishNamespaceAsync(RelayNames.Namespace("live"), cancellationToken: timeout.Token);

        var subscribers = new List<ClientSession>();
        var subscriptions = new List<MoqSubscription>();
        for (int i = 0; i < 3; i++)
        {
            var s = await LoopbackRelay.ConnectAsync(relay, cancellationToken: timeout.Token);
            subscribers.Add(s);
            subscriptions.Add(await s.Session.SubscribeAsync(Track, cancellationToken: timeout.Token));
        }
        var publication = await publisher.FirstSubscription.WaitAsync(timeout.Token);
        await AcceptingPublisher.PublishGroupsAsync(publication, 0, 5, 4, 1500);

        var received = new List<List<MoqObject>>();
        foreach (var subscription in subscriptions)
            received.Add(await ReadAsync(subscription, 20, timeout.Token));
        Assert.Equal(1, publisher.SubscribeCount); // one upstream subscription for three subscribers
        var expected = Enumerable.Range(0, 20).Select(i => $"{i / 4}/{i % 4}").ToList();
        foreach (var objects in received)
        {
            Assert.Equal(expected, objects.OrderBy(o => o.GroupId).ThenBy(o => o.ObjectId).Select(Describe));
            foreach (var o in objects)
                Assert.True(o.Payload.Span.SequenceEqual(AcceptingPublisher.Payload(o.GroupId, o.ObjectId, 1500)), $"payload of {Describe(o)}");
        }
        var status = relay.Snapshot();
        Assert.Equal(4, status.Sessions.Count);
        Assert.Equal(3, status.Tracks.Single().Subscribers);
        Assert.Equal(20, status.Tracks.Single().ObjectsIn);
        foreach (var s in subscribers) await s.DisposeAsync();
    }

    [Fact]
    public async Task AWebTransportSubscriberAndARawQuicSubscriberShareOneTrackOnOnePort()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var relay = await LoopbackRelay.StartAsync();
        var publisher = new AcceptingPublisher();
        await using var pub = await LoopbackRelay.ConnectAsync(relay, publisher, cancellationToken: timeout.Token);
        await pub.Session.PublishNamespaceAsync(RelayNames.Namespace("live"), cancellationToken: timeout.Token);
        await using var browserLike = await LoopbackRelay.ConnectWebTransportAsync(relay, timeout.Token);
        await using var native = await LoopbackRelay.ConnectAsync(relay, cancellationToken: timeout.Token);
        var overWebTransport = await browserLike.Session.SubscribeAsync(Track, cancellationToken: timeout.Token);
        var overQuic = await native.Session.SubscribeAsync(Track, cancellationToken: timeout.Token);
        await AcceptingPublisher.PublishGroupsAsync(await publisher.FirstSubscription.WaitAsync(timeout.Token), 0, 3, 3, 2000);
        foreach (var subscription in new[] { overWebTransport, overQuic })
        {
            var objects = await ReadAsync(subscription, 9, timeout.Token);
            Assert.All(objects, o => Assert.True(o.Payload.Span.SequenceEqual(AcceptingPublisher.Payload(o.GroupId, o.ObjectId, 2000))));
        }
        var transports = relay.Snapshot().Sessions.Select(s => s.Transport).Order().ToList();
        Assert.Equal(new[] { "Quic", "Quic", "WebTransport" }, transports);
        Assert.Equal(1, publisher.SubscribeCount);
    }

    [Fact]
    public async Task ALateJoinerGetsTheCurrentGroupThroughAJoiningFetch()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var relay = await LoopbackRelay.StartAsync();
        var publisher = new AcceptingPublisher();
        await using var pub = await LoopbackRelay.ConnectAsync(relay, publisher, cancellationToken: timeout.Token);
        await pub.Session.PublishNamespaceAsync(RelayNames.Namespace("live"), cancellationToken: timeout.Token);
        await using var first = await LoopbackRelay.ConnectAsync(relay, cancellationToken: timeout.Token);
        var early = await first.Session.SubscribeAsync(Track, cancellationToken: timeout.Token);
        var publication = await publisher.FirstSubscription.WaitAsync(timeout.Token);

        await AcceptingPublisher.PublishGroupsAsync(publication, 0, 1, 4, 800);
        var current = await publication.OpenSubgroupAsync(1);
        for (ulong o = 0; o < 3; o++) await current.WriteObjectAsync(o, AcceptingPublisher.Payload(1, o, 800));
        await ReadAsync(early, 7, timeout.Token); // the relay has them all now

        await using var late = await LoopbackRelay.ConnectAsync(relay, cancellationToken: timeout.Token);
        var subscription = await late.Session.SubscribeAsync(Track, new MoqMessageParameters { LocationFilter = MoqLocationFilter.LargestObject() }, timeout.Token);
        Assert.Equal(new MoqLocation(1, 2), subscription.LargestObject);
        await using var fetch = await late.Session.JoiningFetchAsync(subscription, 0, relative: true, cancellationToken: timeout.Token);
        var fetched = new List<MoqObject>();
        await foreach (var o in fetch.ReadObjectsAsync(timeout.Token)) fetched.Add(o);
        Assert.Equal(new[] { "1/0", "1/1", "1/2" }, fetched.Select(Describe));
        Assert.All(fetched, o => Assert.True(o.Payload.Span.SequenceEqual(AcceptingPublisher.Payload(1, o.ObjectId, 800))));

        for (ulong o = 3; o < 5; o++) await current.WriteObjectAsync(o, AcceptingPublisher.Payload(1, o, 800));
        await current.CompleteAsync();
        var live = await ReadAsync(subscription, 2, timeout.Token);
        Assert.Equal(new[] { "1/3", "1/4" }, live.Select(Describe)); // contiguous with the fetch, no overlap
    }

    [Fact]
    public async Task AFetchOfACachedRange()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var relay = await LoopbackRelay.StartAsync();
        var publisher = new AcceptingPublisher();
        await using var pub = await LoopbackRelay.ConnectAsync(relay, publisher, cancellationToken: timeout.Token);
        await pub.Session.PublishNamespaceAsync(RelayNames.Namespace("live"), cancellationToken: timeout.Token);
        await using var client = await LoopbackRelay.ConnectAsync(relay, cancellationToken: timeout.Token);
        var subscription = await client.Session.SubscribeAsync(Track, cancellationToken: timeout.Token);
        await AcceptingPublisher.PublishGroupsAsync(await publisher.FirstSubscription.WaitAsync(timeout.Token), 0, 4, 3, 600);
        await ReadAsync(subscription, 12, timeout.Token);

        await using var fetch = await client.Session.FetchAsync(Track, new MoqLocation(1, 1), new MoqLocation(3, 0), cancellationToken: timeout.Token);
        var fetched = new List<MoqObject>();
        await foreach (var o in fetch.ReadObjectsAsync(timeout.Token)) fetched.Add(o);
        Assert.Equal(new[] { "1/1", "1/2", "2/0", "2/1", "2/2", "3/0", "3/1", "3/2" }, fetched.Select(Describe));
        Assert.All(fetched, o => Assert.True(o.Payload.Span.SequenceEqual(AcceptingPublisher.Payload(o.GroupId, o.ObjectId, 600))));
        Assert.Equal(1, publisher.SubscribeCount); // served from the relay's cache, nothing asked upstream
    }

    [Fact]
    public async Task AChainOfTwoRelaysCarriesATrackFromOriginToEdge()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var origin = await LoopbackRelay.StartAsync();
        await using var edge = await LoopbackRelay.StartAsync(upstream: LoopbackRelay.UrlOf(origin));
        var publisher = new AcceptingPublisher();
        await using var pub = await LoopbackRelay.ConnectAsync(origin, publisher, cancellationToken: timeout.Token);
        await pub.Session.PublishNamespaceAsync(RelayNames.Namespace("live"), cancellationToken: timeout.Token);

        await using var a = await LoopbackRelay.ConnectAsync(edge, cancellationToken: timeout.Token);
        await using var b = await LoopbackRelay.ConnectAsync(edge, cancellationToken: timeout.Token);
        var subA = await a.Session.SubscribeAsync(Track, cancellationToken: timeout.Token);
        var subB = await b.Session.SubscribeAsync(Track, cancellationToken: timeout.Token);
        await AcceptingPublisher.PublishGroupsAsync(await publisher.FirstSubscription.WaitAsync(timeout.Token), 0, 3, 3, 1000);
        foreach (var sub in new[] { subA, subB })
        {
            var objects = await ReadAsync(sub, 9, timeout.Token);
            Assert.All(objects, o => Assert.True(o.Payload.Span.SequenceEqual(AcceptingPublisher.Payload(o.GroupId, o.ObjectId, 1000))));
        }
        Assert.Equal(1, publisher.SubscribeCount);
        Assert.Equal(1, origin.Snapshot().Tracks.Single().Subscribers); // the edge, once, for both of its subscribers
        Assert.Equal(2, edge.Snapshot().Tracks.Single().Subscribers);
    }

    [Fact]
    public async Task ALateJoinerAtAnEdgeGetsTheCurrentGroupFetchedFromTheOrigin()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var origin = await LoopbackRelay.StartAsync();
        await using var edge = await LoopbackRelay.StartAsync(upstream: LoopbackRelay.UrlOf(origin));
        var publisher = new AcceptingPublisher();
        await using var pub = await LoopbackRelay.ConnectAsync(origin, publisher, cancellationToken: timeout.Token);
        await pub.Session.PublishNamespaceAsync(RelayNames.Namespace("live"), cancellationToken: timeout.Token);
        await using var early = await LoopbackRelay.ConnectAsync(origin, cancellationToken: timeout.Token);
        var atOrigin = await early.Session.SubscribeAsync(Track, cancellationToken: timeout.Token);
        var publication = await publisher.FirstSubscription.WaitAsync(timeout.Token);
        var current = await publication.OpenSubgroupAsync(0);
        for (ulong o = 0; o < 3; o++) await current.WriteObjectAsync(o, AcceptingPublisher.Payload(0, o, 700));
        await ReadAsync(atOrigin, 3, timeout.Token);

        // The edge subscribes at the origin only now, in the middle of group 0: its own cache starts after {0,2}.
        await using var late = await LoopbackRelay.ConnectAsync(edge, cancellationToken: timeout.Token);
        var atEdge = await late.Session.SubscribeAsync(Track, new MoqMessageParameters { LocationFilter = MoqLocationFilter.LargestObject() }, timeout.Token);
        Assert.Equal(new MoqLocation(0, 2), atEdge.LargestObject);
        await using var fetch = await late.Session.JoiningFetchAsync(atEdge, 0, relative: true, cancellationToken: timeout.Token);
        var fetched = new List<MoqObject>();
        await foreach (var o in fetch.ReadObjectsAsync(timeout.Token)) fetched.Add(o);
        Assert.Equal(new[] { "0/0", "0/1", "0/2" }, fetched.Select(Describe));
        Assert.All(fetched, o => Assert.True(o.Payload.Span.SequenceEqual(AcceptingPublisher.Payload(0, o.ObjectId, 700))));
        Assert.Equal(1, edge.Relay.Counters.UpstreamFetches);
        Assert.Equal(1, publisher.SubscribeCount);
    }

    [Fact]
    public async Task APublisherOrSubscriberWithoutTheRightTokenIsRefusedUnauthorized()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var auth = AuthFile.Parse("""{ "namespaces": { "live": { "publish": ["pub-secret"], "subscribe": ["sub-secret"] } } }""");
        await using var relay = await LoopbackRelay.StartAsync(new RelayOptions { Auth = auth });
        var publisher = new AcceptingPublisher();
        await using var pub = await LoopbackRelay.ConnectAsync(relay, publisher, cancellationToken: timeout.Token);
        var refused = await Assert.ThrowsAsync<MoqRequestException>(() =>
            pub.Session.PublishNamespaceAsync(RelayNames.Namespace("live"), LoopbackRelay.Token("sub-secret"), timeout.Token));
        Assert.Equal(MoqRequestErrorCode.Unauthorized, refused.Code);
        await pub.Session.PublishNamespaceAsync(RelayNames.Namespace("live"), LoopbackRelay.Token("pub-secret"), timeout.Token);

        await using var viewer = await LoopbackRelay.ConnectAsync(relay, cancellationToken: timeout.Token);
        var noToken = await Assert.ThrowsAsync<MoqRequestException>(() => viewer.Session.SubscribeAsync(Track, cancellationToken: timeout.Token));
        Assert.Equal(MoqRequestErrorCode.Unauthorized, noToken.Code);
        var wrong = await Assert.ThrowsAsync<MoqRequestException>(() => viewer.Session.SubscribeAsync(Track, LoopbackRelay.Token("pub-secret"), timeout.Token));
        Assert.Equal(MoqRequestErrorCode.Unauthorized, wrong.Code);
        Assert.Equal(0, publisher.SubscribeCount);

        await viewer.Session.SubscribeAsync(Track, LoopbackRelay.Token("sub-secret"), timeout.Token);
        // A token given once in SETUP counts for every request of the session.
        await using var setupViewer = await LoopbackRelay.ConnectAsync(relay, setupToken: "sub-secret", cancellationToken: timeout.Token);
        await setupViewer.Session.SubscribeAsync(Track, cancellationToken: timeout.Token);
        Assert.Equal(1, publisher.SubscribeCount);
    }

    [Fact]
    public async Task TheStatusFileShowsSessionsTracksAndCacheAndIsRemovedAtStop()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var file = Path.Combine(Path.GetTempPath(), $"moq-relay-status-{Guid.NewGuid():N}.json");
        var relay = await LoopbackRelay.StartAsync(statusFile: file);
        try
        {
            var publisher = new AcceptingPublisher();
            await using var pub = await LoopbackRelay.ConnectAsync(relay, publisher, cancellationToken: timeout.Token);
            await pub.Session.PublishNamespaceAsync(RelayNames.Namespace("live"), cancellationToken: timeout.Token);
            await using var client = await LoopbackRelay.ConnectAsync(relay, cancellationToken: timeout.Token);
            var subscription = await client.Session.SubscribeAsync(Track, cancellationToken: timeout.Token);
            await AcceptingPublisher.PublishGroupsAsync(await publisher.FirstSubscription.WaitAsync(timeout.Token), 0, 2, 2, 100);
            await ReadAsync(subscription, 4, timeout.Token);
            MoqRelayStatus? status = null;
            for (int i = 0; i < 100 && status?.Tracks.FirstOrDefault()?.ObjectsOut != 4; i++)
            {
                await Task.Delay(50, timeout.Token);
                if (File.Exists(file)) status = MoqRelayStatus.FromJson(File.ReadAllText(file));
            }
            Assert.NotNull(status);
            Assert.Equal(Environment.ProcessId, status!.ProcessId);
            Assert.True(status.AuthOpen);
            Assert.Equal(2, status.Sessions.Count);
            Assert.All(status.Sessions, s => Assert.Equal("Quic", s.Transport));
            var track = status.Tracks.Single();
            Assert.Equal("live/cam1:video", track.Track);
            Assert.Equal(1, track.Subscribers);
            Assert.Equal(4, track.ObjectsOut);
            Assert.Equal(2, track.CacheGroups);
            Assert.True(track.CacheBytes > 400);
        }
        finally
        {
            await relay.DisposeAsync();
        }
        Assert.False(File.Exists(file));
    }
}
