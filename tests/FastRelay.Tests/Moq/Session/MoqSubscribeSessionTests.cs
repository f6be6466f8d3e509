using FastRelay.Protocols.Moq.Publisher;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using Xunit;

namespace FastRelay.Tests.Moq.Session;

public class MoqSubscribeSessionTests
{
    private static readonly MoqFullTrackName Track = new(MoqTrackNamespace.FromStrings("live", "room1"), "video");

    [Fact]
    public async Task SetupExchangesOptions()
    {
        await using var pair = await MoqSessionPair.StartAsync();
        Assert.Equal("test-client", pair.Server.PeerSetup.Implementation);
        Assert.Equal("test-server", pair.Client.PeerSetup.Implementation);
        Assert.Equal("/live", pair.Server.PeerSetup.Path);
        Assert.Equal("relay.test", pair.Server.PeerSetup.Authority);
        Assert.Null(pair.Client.PeerSetup.Path); // a server never sends PATH
        Assert.True(pair.Client.IsClient);
        Assert.False(pair.Server.IsClient);
    }

    /// <summary>
    /// A relay's kernel fast path opens its subscribers' subgroup streams on the connection itself; PUBLISH_DONE must
    /// count those too, or a subscriber takes the subscription as complete while such a stream is still on its way and
    /// drops it (the last group, under load). Here the publication counts one stream it never opens: the subscriber,
    /// told of two streams, keeps the subscription open after seeing one, where with the count of one it ends at once.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_stream_opened_elsewhere_is_counted_in_publish_done_and_waited_for(bool countedElsewhere)
    {
        var published = new TaskCompletionSource<MoqTrackPublication>();
        var handler = new DelegateHandler { Subscribe = async request => published.SetResult(await request.AcceptAsync()) };
        await using var pair = await MoqSessionPair.StartAsync(handler);
        var subscription = await pair.Client.SubscribeAsync(Track);
        var publication = await published.Task;
        var stream = await publication.OpenSubgroupAsync(0, 0);
        await stream.WriteObjectAsync(0, new byte[] { 1 });
        await stream.CompleteAsync();
        if (countedElsewhere) Assert.True(publication.CountStreamOpenedElsewhere());
        await publication.FinishAsync(MoqPublishDoneCode.TrackEnded, "done");
        Assert.False(publication.CountStreamOpenedElsewhere()); // after PUBLISH_DONE nothing more is counted

        var done = await subscription.Done.WaitAsync(MoqSessionPair.Timeout);
        Assert.Equal(countedElsewhere ? 2UL : 1UL, done!.StreamCount);
        var reading = Task.Run(async () =>
        {
            var n = 0;
            await foreach (var _ in subscription.ReadObjectsAsync()) n++;
            return n;
        });
        var finishedEarly = await Task.WhenAny(reading, Task.Delay(300)) == reading;
        Assert.Equal(!countedElsewhere, finishedEarly);
        Assert.Equal(1, await reading.WaitAsync(MoqSessionPair.Timeout)); // the linger ends the wait for a stream that never comes
    }

    [Fact]
    public async Task ObjectsAcrossGroupsAndSubgroupsArriveWithTheirMetadata()
    {
        var published = new TaskCompletionSource<MoqTrackPublication>();
        var handler = new DelegateHandler
        {
            Subscribe = async request =>
            {
                Assert.Equal(Track, request.Track);
                published.SetResult(await request.AcceptAsync(largestObject: new MoqLocation(9, 0), publisherPriority: 7));
            },
        };
        await using var pair = await MoqSessionPair.StartAsync(handler);
        var subscription = await pair.Client.SubscribeAsync(Track, new MoqMessageParameters { LocationFilter = MoqLocationFilter.NextGroupStart() });
        Assert.Equal(new MoqLocation(9, 0), subscription.LargestObject);
        var publication = await published.Task;
        Assert.Equal(subscription.TrackAlias, publication.TrackAlias);

        for (ulong group = 10; group < 13; group++)
        {
            for (ulong subgroup = 0; subgroup < 2; subgroup++)
            {
                var stream = await publication.OpenSubgroupAsync(group, subgroup, withProperties: subgroup == 1);
                for (ulong obj = subgroup; obj < 6; obj += 2)
                {
                    var props = subgroup == 1 ? new[] { MoqKeyValuePair.FromInt(0x3C, obj) } : null;
                    await stream.WriteObjectAsync(obj, new byte[] { (byte)group, (byte)obj }, props);
                }
                if (subgroup == 1) await stream.EndGroupAsync(7);
                else await stream.CompleteAsync();
            }
        }
        await publication.FinishAsync(MoqPublishDoneCode.TrackEnded, "done");

        var received = new List<MoqObject>();
        await foreach (var obj in subscription.ReadObjectsAsync().WithCancellation(new CancellationTokenSource(MoqSessionPair.Timeout).Token)) received.Add(obj);
        var done = await subscription.Done.WaitAsync(MoqSessionPair.Timeout);
        Assert.Equal((ulong)MoqPublishDoneCode.TrackEnded, done!.StatusCode);
        Assert.Equal(6UL, done.StreamCount);

        Assert.Equal(3 * 6 + 3, received.Count); // 18 objects + 3 End of Group markers
        foreach (var group in received.GroupBy(o => (o.GroupId, o.SubgroupId)))
        {
            var ids = group.Select(o => o.ObjectId).ToList();
            Assert.Equal(ids.OrderBy(i => i), ids); // in order within a subgroup stream
        }
        var sample = received.Single(o => o.GroupId == 11 && o.ObjectId == 3);
        Assert.Equal(1UL, sample.SubgroupId);
        Assert.Equal((byte)7, sample.PublisherPriority);
        Assert.Equal(new byte[] { 11, 3 }, sample.Payload.ToArray());
        Assert.Equal(3UL, sample.Properties.Single().IntValue);
        Assert.Equal(3, received.Count(o => o.Status == MoqObjectStatus.EndOfGroup));
    }

    public static IEnumerable<object[]> Filters() => new[]
    {
        new object[] { MoqLocationFilter.NextGroupStart() },
        new object[] { MoqLocationFilter.LargestObject() },
        new object[] { MoqLocationFilter.AbsoluteStart(new MoqLocation(5, 2)) },
        new object[] { MoqLocationFilter.AbsoluteRange(new MoqLocation(5, 2), 3) },
    };

    [Theory]
    [MemberData(nameof(Filters))]
    public async Task EveryFilterReachesThePublisher(MoqLocationFilter filter)
    {
        var seen = new TaskCompletionSource<MoqIncomingSubscribe>();
        await using var pair = await MoqSessionPair.StartAsync(new DelegateHandler
        {
            Subscribe = async r => { await r.AcceptAsync(); seen.SetResult(r); },
        });
        await pair.Client.SubscribeAsync(Track, new MoqMessageParameters { LocationFilter = filter, SubscriberPriority = 3, GroupOrder = MoqGroupOrder.Descending });
        var request = await seen.Task.WaitAsync(MoqSessionPair.Timeout);
        Assert.Equal(filter, request.Parameters.LocationFilter);
        Assert.Equal((byte)3, request.Parameters.SubscriberPriority);
        Assert.Equal(MoqGroupOrder.Descending, request.Parameters.GroupOrder);
    }

    [Fact]
    public async Task RejectedSubscribeThrowsWithTheCode()
    {
        await using var pair = await MoqSessionPair.StartAsync(new DelegateHandler
        {
            Subscribe = r => r.RejectAsync(MoqRequestErrorCode.DoesNotExist, "no such track", retryInterval: 501),
        });
        var e = await Assert.ThrowsAsync<MoqRequestException>(() => pair.Client.SubscribeAsync(Track));
        Assert.Equal(MoqRequestErrorCode.DoesNotExist, e.Code);
        Assert.Equal(501UL, e.Error.RetryInterval);
        Assert.Equal("no such track", e.Error.Reason);
    }

    [Fact]
    public async Task WithoutAHandlerRequestsAreNotSupported()
    {
        await using var pair = await MoqSessionPair.StartAsync();
        var e = await Assert.ThrowsAsync<MoqRequestException>(() => pair.Client.SubscribeAsync(Track));
        Assert.Equal(MoqRequestErrorCode.NotSupported, e.Code);
    }

    [Fact]
    public async Task AnUnansweredRequestIsAnInternalError()
    {
        await using var pair = await MoqSessionPair.StartAsync(new DelegateHandler { Subscribe = _ => Task.CompletedTask });
        var e = await Assert.ThrowsAsync<MoqRequestException>(() => pair.Client.SubscribeAsync(Track));
        Assert.Equal(MoqRequestErrorCode.InternalError, e.Code);
    }

    [Fact]
    public async Task RequestUpdateChangesTheSubscribersParameters()
    {
        var published = new TaskCompletionSource<MoqTrackPublication>();
        await using var pair = await MoqSessionPair.StartAsync(new DelegateHandler { Subscribe = async r => published.SetResult(await r.AcceptAsync()) });
        var subscription = await pair.Client.SubscribeAsync(Track, new MoqMessageParameters { SubscriberPriority = 9, Forward = true });
        var publication = await published.Task;
        var updated = new TaskCompletionSource<MoqMessageParameters>();
        publication.Updated += (_, p) => updated.TrySetResult(p);

        await subscription.UpdateAsync(new MoqMessageParameters { Forward = false, LocationFilter = MoqLocationFilter.AbsoluteStart(new MoqLocation(20, 0)) })
            .WaitAsync(MoqSessionPair.Timeout);
        await updated.Task.WaitAsync(MoqSessionPair.Timeout);
        Assert.False(publication.Forward);
        Assert.Equal(new MoqLocation(20, 0), publication.Filter!.Start);
        Assert.Equal((byte)9, publication.SubscriberPriority); // unchanged values stay

        // A second update works too (one outstanding at a time).
        await subscription.UpdateAsync(new MoqMessageParameters { SubscriberPriority = 1 }).WaitAsync(MoqSessionPair.Timeout);
        Assert.Equal((byte)1, publication.SubscriberPriority);
    }

    [Fact]
    public async Task UnsubscribeCancelsThePublication()
    {
        var published = new TaskCompletionSource<MoqTrackPublication>();
        await using var pair = await MoqSessionPair.StartAsync(new DelegateHandler { Subscribe = async r => published.SetResult(await r.AcceptAsync()) });
        var subscription = await pair.Client.SubscribeAsync(Track);
        var publication = await published.Task;
        Assert.False(publication.Cancelled.IsCompleted);
        await subscription.UnsubscribeAsync();
        await publication.Cancelled.WaitAsync(MoqSessionPair.Timeout);
        Assert.Null(await subscription.Done.WaitAsync(MoqSessionPair.Timeout));
    }

    [Fact]
    public async Task DatagramsAreDelivered()
    {
        var published = new TaskCompletionSource<MoqTrackPublication>();
        await using var pair = await MoqSessionPair.StartAsync(new DelegateHandler { Subscribe = async r => published.SetResult(await r.AcceptAsync()) });
        var subscription = await pair.Client.SubscribeAsync(Track);
        var publication = await published.Task;
        Assert.True(publication.TrySendDatagram(new MoqObject { GroupId = 4, ObjectId = 2, PublisherPriority = 1, Payload = "dgram"u8.ToArray() }));
        Assert.False(publication.TrySendDatagram(new MoqObject { GroupId = 4, ObjectId = 3, Payload = new byte[5000] })); // over the limit
        var obj = await subscription.Objects.ReadAsync().AsTask().WaitAsync(MoqSessionPair.Timeout);
        Assert.Null(obj.SubgroupId);
        Assert.Equal(new MoqLocation(4, 2), obj.Location);
        Assert.Equal("dgram"u8.ToArray(), obj.Payload.ToArray());
    }

    [Fact]
    public async Task PublishOffersATrackToThePeer()
    {
        var accepted = new TaskCompletionSource<Protocols.Moq.Subscriber.MoqSubscription>();
        await using var pair = await MoqSessionPair.StartAsync(clientHandler: new DelegateHandler
        {
            Publish = async r => accepted.SetResult(await r.AcceptAsync(new MoqMessageParameters { SubscriberPriority = 2, Forward = true })),
        });
        var publication = await pair.Server.PublishAsync(Track, new MoqMessageParameters { LargestObject = new MoqLocation(0, 0) });
        Assert.Equal((byte)2, publication.SubscriberPriority);
        var subscription = await accepted.Task.WaitAsync(MoqSessionPair.Timeout);
        Assert.True(subscription.IsFromPublish);
        Assert.Equal(publication.TrackAlias, subscription.TrackAlias);
        var stream = await publication.OpenSubgroupAsync(1);
        await stream.WriteObjectAsync(0, "hello"u8.ToArray());
        await stream.CompleteAsync();
        var obj = await subscription.Objects.ReadAsync().AsTask().WaitAsync(MoqSessionPair.Timeout);
        Assert.Equal("hello"u8.ToArray(), obj.Payload.ToArray());
    }

    [Fact]
    public async Task RefusedPublishThrowsUninterested()
    {
        await using var pair = await MoqSessionPair.StartAsync();
        var e = await Assert.ThrowsAsync<MoqRequestException>(() => pair.Server.PublishAsync(Track));
        Assert.Equal(MoqRequestErrorCode.Uninterested, e.Code);
    }

    [Theory]
    [InlineData(MoqGroupOrder.Ascending)]
    [InlineData(MoqGroupOrder.Descending)]
    public async Task StreamPriorityFollowsSubscriberPriorityPublisherPriorityAndGroupOrder(MoqGroupOrder order)
    {
        var publications = new List<MoqTrackPublication>();
        await using var pair = await MoqSessionPair.StartAsync(new DelegateHandler
        {
            Subscribe = async r => { var p = await r.AcceptAsync(publisherPriority: 50); lock (publications) publications.Add(p); },
        });
        await pair.Client.SubscribeAsync(Track, new MoqMessageParameters { SubscriberPriority = 10, GroupOrder = order });
        await pair.Client.SubscribeAsync(Track, new MoqMessageParameters { SubscriberPriority = 200 });
        MoqTrackPublication urgent, lazy;
        lock (publications)
        {
            urgent = publications.Single(p => p.SubscriberPriority == 10);
            lazy = publications.Single(p => p.SubscriberPriority == 200);
        }
        int Priority(MoqSubgroupStream _) => pair.ServerTransport.OpenedStreams[^1].SendPriority;
        int g1 = Priority(await urgent.OpenSubgroupAsync(1));
        int g2 = Priority(await urgent.OpenSubgroupAsync(2));
        int g1Low = Priority(await urgent.OpenSubgroupAsync(1, subgroupId: 1, publisherPriority: 60));
        int other = Priority(await lazy.OpenSubgroupAsync(1));
        Assert.Equal(order == MoqGroupOrder.Ascending, g1 < g2);    // the group order decides between groups
        Assert.True(g1 < g1Low);                                     // then publisher priority within a subscription
        Assert.True(Math.Max(g1, Math.Max(g2, g1Low)) < other);      // subscriber priority first of all
        Assert.True(pair.ServerTransport.OpenedStreams[0].SendPriority < g1); // the control stream before any data
    }

    [Fact]
    public async Task UnknownMandatoryTrackPropertiesAreRefused()
    {
        var cancelled = new TaskCompletionSource<MoqTrackPublication>();
        await using var pair = await MoqSessionPair.StartAsync(new DelegateHandler
        {
            Subscribe = async r => cancelled.SetResult(await r.AcceptAsync(trackProperties: new[] { MoqKeyValuePair.FromInt(0x4000, 1) })),
        });
        var e = await Assert.ThrowsAsync<MoqRequestException>(() => pair.Client.SubscribeAsync(Track));
        Assert.Equal(MoqRequestErrorCode.UnsupportedExtension, e.Code);
        await (await cancelled.Task).Cancelled.WaitAsync(MoqSessionPair.Timeout);

        var publish = await Assert.ThrowsAsync<MoqRequestException>(() => pair.Server.PublishAsync(Track, trackProperties: new[] { MoqKeyValuePair.FromInt(0x7FFE, 0) }));
        Assert.Equal(MoqRequestErrorCode.UnsupportedExtension, publish.Code);
    }

    [Fact]
    public async Task TrackStatusReturnsLargestObjectAndProperties()
    {
        await using var pair = await MoqSessionPair.StartAsync(new DelegateHandler
        {
            TrackStatus = r => r.AcceptAsync(new MoqLocation(42, 7), new[] { MoqKeyValuePair.FromInt(0x0E, 5) }),
        });
        var ok = await pair.Client.TrackStatusAsync(Track).WaitAsync(MoqSessionPair.Timeout);
        Assert.Equal(new MoqLocation(42, 7), ok.Parameters.LargestObject);
        Assert.Equal(5UL, ok.TrackProperties.Single().IntValue);
    }
}
