using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Tests.Moq.Relay.Fakes;
using Xunit;

namespace FastRelay.Tests.Moq.Relay;

/// <summary>FETCH and joining FETCH answered from the relay's cache.</summary>
public class RelayFetchTests
{
    [Fact]
    public async Task ALateJoinerGetsTheCurrentGroupThroughAJoiningFetchAndTheRestThroughItsSubscription()
    {
        var h = new RelayHarness();
        await h.SubscribeAsync(h.NewSubscriberPeer()); // the relay is subscribed upstream from here on
        var sink = h.Publisher.SinkFor(RelayHarness.Video);
        RelayHarness.PublishGroups(sink, 0, 3, 4, 500);
        var stream = sink.OpenSubgroup(); // group 3 in progress: objects 0..2 so far
        for (ulong o = 0; o < 3; o++) stream.OnObject(RelayHarness.Obj(3, o, 500));

        var late = h.NewSubscriberPeer();
        var (accepted, port) = await h.SubscribeAsync(late, new SubscribeRequest(RelayHarness.Video) { Filter = MoqLocationFilter.LargestObject() });
        Assert.Equal(new MoqLocation(3, 2), accepted.Info.Largest);
        var fetch = await h.Relay.FetchAsync(late, new FetchRequest { Joining = accepted.Subscription, JoiningIsRelative = true, JoiningStart = 0 }, default);
        Assert.True(fetch.IsAccepted, fetch.Refusal?.Reason);
        Assert.False(fetch.Value!.Incomplete);
        Assert.Equal(new MoqLocation(3, 3), fetch.Value.End);
        Assert.Equal(new ulong[] { 0, 1, 2 }, fetch.Value.Objects.Select(o => o.ObjectId));
        Assert.All(fetch.Value.Objects, o => Assert.Equal(3UL, o.Group));

        for (ulong o = 3; o < 6; o++) stream.OnObject(RelayHarness.Obj(3, o, 500));
        stream.OnClosed(true);
        await port.WaitUntil(p => p.AllObjects().Count == 3);
        // Contiguous and non-overlapping: FETCH ends at {3,2}, the subscription starts at {3,3}.
        Assert.Equal(new ulong[] { 3, 4, 5 }, port.AllObjects().Select(o => o.ObjectId));
        Assert.True(fetch.Value.Objects[1].Payload.Span.SequenceEqual(RelayHarness.Obj(3, 1, 500).Payload.Span));
    }

    [Fact]
    public async Task ARelativeJoiningFetchCanReachBackSeveralGroups()
    {
        var h = new RelayHarness();
        await h.SubscribeAsync(h.NewSubscriberPeer());
        RelayHarness.PublishGroups(h.Publisher.SinkFor(RelayHarness.Video), 0, 5, 2, 10);
        var late = h.NewSubscriberPeer();
        var (accepted, _) = await h.SubscribeAsync(late);
        var fetch = await h.Relay.FetchAsync(late, new FetchRequest { Joining = accepted.Subscription, JoiningIsRelative = true, JoiningStart = 2 }, default);
        Assert.Equal(new[] { "2/0", "2/1", "3/0", "3/1", "4/0", "4/1" }, fetch.Value!.Objects.Select(o => $"{o.Group}/{o.ObjectId}"));
        var absolute = await h.Relay.FetchAsync(late, new FetchRequest { Joining = accepted.Subscription, JoiningStart = 4 }, default);
        Assert.Equal(2, absolute.Value!.Objects.Count);
    }

    [Fact]
    public async Task AStandaloneFetchOfACachedRangeInEitherOrder()
    {
        var h = new RelayHarness();
        await h.SubscribeAsync(h.NewSubscriberPeer());
        RelayHarness.PublishGroups(h.Publisher.SinkFor(RelayHarness.Video), 0, 4, 3, 10);
        var peer = h.NewSubscriberPeer();
        // [{1,1}, {2,0}) + whole group 2 via End {3,0}... End.Object 0 means all of End.Group.
        var fetch = await h.Relay.FetchAsync(peer, new FetchRequest { Track = RelayHarness.Video, Start = new(1, 1), End = new(2, 0) }, default);
        Assert.Equal(new[] { "1/1", "1/2", "2/0", "2/1", "2/2" }, fetch.Value!.Objects.Select(o => $"{o.Group}/{o.ObjectId}"));
        Assert.Equal(new MoqLocation(2, 0), fetch.Value.End);
        var desc = await h.Relay.FetchAsync(peer, new FetchRequest { Track = RelayHarness.Video, Start = new(2, 0), End = new(9, 0), GroupOrder = MoqGroupOrder.Descending }, default);
        Assert.Equal(new[] { "3/0", "3/1", "3/2", "2/0", "2/1", "2/2" }, desc.Value!.Objects.Select(o => $"{o.Group}/{o.ObjectId}"));
        Assert.Equal(new MoqLocation(3, 3), desc.Value.End); // capped at the largest object
    }

    [Fact]
    public async Task FetchRefusalsUseTheDraftsCodes()
    {
        var h = new RelayHarness();
        var peer = h.NewSubscriberPeer();
        var (accepted, _) = await h.SubscribeAsync(peer);
        var empty = await h.Relay.FetchAsync(peer, new FetchRequest { Joining = accepted.Subscription }, default);
        Assert.Equal(MoqRequestErrorCode.InvalidRange, empty.Refusal!.Code);
        RelayHarness.PublishGroups(h.Publisher.SinkFor(RelayHarness.Video), 0, 1, 1, 10);
        var beyond = await h.Relay.FetchAsync(peer, new FetchRequest { Track = RelayHarness.Video, Start = new(5, 0), End = new(6, 0) }, default);
        Assert.Equal(MoqRequestErrorCode.InvalidRange, beyond.Refusal!.Code);
        var other = h.NewSubscriberPeer();
        var foreign = await h.Relay.FetchAsync(other, new FetchRequest { Joining = accepted.Subscription }, default);
        Assert.Equal(MoqRequestErrorCode.InvalidJoiningRequestId, foreign.Refusal!.Code);
        var unknown = await h.Relay.FetchAsync(peer, new FetchRequest { Track = RelayNames.Track("live/none", "x"), End = new(1, 0) }, default);
        Assert.Equal(MoqRequestErrorCode.DoesNotExist, unknown.Refusal!.Code);
    }

    [Fact]
    public async Task AFetchReachingIntoEvictedGroupsSaysItIsIncomplete()
    {
        var h = new RelayHarness(new RelayOptions { Limits = new RelayLimits { CacheBytesPerTrack = 10_000 } });
        await h.SubscribeAsync(h.NewSubscriberPeer());
        RelayHarness.PublishGroups(h.Publisher.SinkFor(RelayHarness.Video), 0, 20, 2, 1000);
        var fetch = await h.Relay.FetchAsync(h.NewSubscriberPeer(), new FetchRequest { Track = RelayHarness.Video, Start = new(0, 0), End = new(19, 0) }, default);
        Assert.True(fetch.Value!.Incomplete);
        Assert.Equal(19UL, fetch.Value.Objects[^1].Group);
    }

    [Fact]
    public async Task WhatTheRelayNeverReceivedIsNotClaimedByFetch()
    {
        var h = new RelayHarness();
        h.Publisher.LargestToReport = new MoqLocation(7, 4); // the publisher was already at {7,4}
        var peer = h.NewSubscriberPeer();
        var (accepted, _) = await h.SubscribeAsync(peer);
        var sink = h.Publisher.SinkFor(RelayHarness.Video);
        var stream = sink.OpenSubgroup();
        stream.OnObject(RelayHarness.Obj(7, 5, 10));
        var fetch = await h.Relay.FetchAsync(peer, new FetchRequest { Track = RelayHarness.Video, Start = new(7, 0), End = new(8, 0) }, default);
        Assert.True(fetch.Value!.Incomplete);
        Assert.Single(fetch.Value.Objects);
        Assert.Equal(new MoqLocation(7, 4), accepted.Info.Largest);
        Assert.Equal(1, h.Publisher.FetchCount); // asked upstream, which refused: the cache's part, marked incomplete
    }

    [Fact]
    public async Task WhatTheCacheLacksIsFetchedFromWhereTheTrackComesFrom()
    {
        var h = new RelayHarness();
        h.Publisher.LargestToReport = new MoqLocation(7, 4);
        h.Publisher.FetchableObjects = Enumerable.Range(0, 5).Select(i => RelayHarness.Obj(7, (ulong)i, 10)).ToList();
        var peer = h.NewSubscriberPeer();
        var (accepted, _) = await h.SubscribeAsync(peer);
        var fetch = await h.Relay.FetchAsync(peer, new FetchRequest { Joining = accepted.Subscription, JoiningIsRelative = true }, default);
        Assert.False(fetch.Value!.Incomplete);
        Assert.Equal(new ulong[] { 0, 1, 2, 3, 4 }, fetch.Value.Objects.Select(o => o.ObjectId));
        Assert.Equal(1, h.Publisher.FetchCount);
        Assert.Equal(1, h.Relay.Counters.UpstreamFetches);
        // A range the cache holds whole is not asked upstream.
        RelayHarness.PublishGroups(h.Publisher.SinkFor(RelayHarness.Video), 8, 1, 2, 10);
        var cached = await h.Relay.FetchAsync(peer, new FetchRequest { Track = RelayHarness.Video, Start = new(8, 0), End = new(9, 0) }, default);
        Assert.Equal(2, cached.Value!.Objects.Count);
        Assert.Equal(1, h.Publisher.FetchCount);
    }
}
