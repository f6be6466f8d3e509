using FastRelay.Protocols.Moq.Publisher;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using Xunit;

namespace FastRelay.Tests.Moq.Session;

public class MoqFetchSessionTests
{
    private static readonly MoqFullTrackName Track = new(MoqTrackNamespace.FromStrings("vod"), "clip");

    /// <summary>A publisher with groups 0..9 of 3 objects each, serving FETCH from that "cache".</summary>
    private static DelegateHandler Cache(TaskCompletionSource<MoqIncomingFetch>? seen = null) => new()
    {
        Subscribe = async r => await r.AcceptAsync(largestObject: new MoqLocation(9, 2)),
        Fetch = async r =>
        {
            seen?.TrySetResult(r);
            var (start, end) = r.ResolveRange(new MoqLocation(9, 2));
            var stream = await r.AcceptAsync(end);
            var groups = Enumerable.Range(0, 10).Select(g => (ulong)g).Where(g => g >= start.Group && g <= end.Group);
            if (r.GroupOrder == MoqGroupOrder.Descending) groups = groups.Reverse();
            foreach (ulong g in groups)
                for (ulong o = 0; o < 3; o++)
                {
                    var location = new MoqLocation(g, o);
                    if (location < start || (end.Object != 0 && location >= end) || (end.Object == 0 && g > end.Group)) continue;
                    await stream.WriteObjectAsync(new MoqObject { GroupId = g, SubgroupId = 0, ObjectId = o, PublisherPriority = 1, Payload = new[] { (byte)g, (byte)o } });
                }
            await stream.CompleteAsync();
        },
    };

    private static async Task<List<MoqObject>> ReadAll(Protocols.Moq.Subscriber.MoqFetchResponse fetch)
    {
        var list = new List<MoqObject>();
        await foreach (var o in fetch.ReadObjectsAsync(new CancellationTokenSource(MoqSessionPair.Timeout).Token)) list.Add(o);
        return list;
    }

    [Fact]
    public async Task StandaloneFetchReturnsTheRange()
    {
        await using var pair = await MoqSessionPair.StartAsync(Cache());
        var fetch = await pair.Client.FetchAsync(Track, new MoqLocation(2, 1), new MoqLocation(4, 0));
        Assert.Equal(new MoqLocation(4, 0), fetch.Ok.EndLocation);
        var objects = await ReadAll(fetch);
        Assert.Equal(new (ulong, ulong)[] { (2, 1), (2, 2), (3, 0), (3, 1), (3, 2), (4, 0), (4, 1), (4, 2) }, objects.Select(o => (o.GroupId, o.ObjectId)));
        Assert.Equal(new byte[] { 3, 1 }, objects[3].Payload.ToArray());
    }

    [Fact]
    public async Task DescendingFetchDecodesGroupDeltasDownwards()
    {
        await using var pair = await MoqSessionPair.StartAsync(Cache());
        var fetch = await pair.Client.FetchAsync(Track, new MoqLocation(1, 0), new MoqLocation(3, 0),
            new MoqMessageParameters { GroupOrder = MoqGroupOrder.Descending });
        var objects = await ReadAll(fetch);
        Assert.Equal(new ulong[] { 3, 3, 3, 2, 2, 2, 1, 1, 1 }, objects.Select(o => o.GroupId));
    }

    [Fact]
    public async Task JoiningFetchUsesTheSubscriptionsTrackAndJoiningPoint()
    {
        var seen = new TaskCompletionSource<MoqIncomingFetch>();
        await using var pair = await MoqSessionPair.StartAsync(Cache(seen));
        var subscription = await pair.Client.SubscribeAsync(Track, new MoqMessageParameters { LocationFilter = MoqLocationFilter.LargestObject() });
        var fetch = await pair.Client.JoiningFetchAsync(subscription, joiningStart: 2, relative: true);
        var request = await seen.Task;
        Assert.Equal(Track, request.Track);
        Assert.Equal(subscription.RequestId, request.JoinedSubscription!.RequestId);
        var objects = await ReadAll(fetch);
        // Relative 2 from the joining location {9, 2}: groups 7..9 up to and including {9, 2}.
        Assert.Equal(9, objects.Count);
        Assert.Equal(new MoqLocation(7, 0), objects[0].Location);
        Assert.Equal(new MoqLocation(9, 2), objects[^1].Location);

        var absolute = await pair.Client.JoiningFetchAsync(subscription, joiningStart: 8, relative: false);
        Assert.Equal(6, (await ReadAll(absolute)).Count);
    }

    [Fact]
    public async Task EndOfRangeMarkersReachTheFetcher()
    {
        await using var pair = await MoqSessionPair.StartAsync(new DelegateHandler
        {
            Fetch = async r =>
            {
                var stream = await r.AcceptAsync(new MoqLocation(6, 0), endOfTrack: true);
                await stream.WriteObjectAsync(new MoqObject { GroupId = 1, SubgroupId = 0, ObjectId = 0, Payload = new byte[] { 1 } });
                await stream.WriteEndOfRangeAsync(new MoqLocation(4, 9), unknown: true);
                await stream.WriteObjectAsync(new MoqObject { GroupId = 5, SubgroupId = 0, ObjectId = 0, Payload = new byte[] { 5 } });
                await stream.CompleteAsync();
            },
        });
        var fetch = await pair.Client.FetchAsync(Track, new MoqLocation(1, 0), new MoqLocation(6, 0));
        Assert.True(fetch.Ok.EndOfTrack);
        var objects = await ReadAll(fetch);
        Assert.Equal(new ulong[] { 1, 5 }, objects.Select(o => o.GroupId));
        Assert.Equal(new MoqFetchEndOfRange(new MoqLocation(4, 9), Unknown: true), fetch.EndOfRanges.Single());
    }

    [Fact]
    public async Task RedirectReachesTheRequester()
    {
        await using var pair = await MoqSessionPair.StartAsync(new DelegateHandler
        {
            Fetch = r => r.RejectAsync(MoqRequestErrorCode.Redirect, "elsewhere", 0,
                new Protocols.Moq.Wire.Messages.MoqRedirect("", MoqTrackNamespace.FromStrings("vod2"), "clip"u8.ToArray())),
        });
        var e = await Assert.ThrowsAsync<MoqRequestException>(() => pair.Client.FetchAsync(Track, default, new MoqLocation(1, 0)));
        Assert.Equal(MoqRequestErrorCode.Redirect, e.Code);
        Assert.Equal(MoqTrackNamespace.FromStrings("vod2"), e.Error.Redirect!.Namespace);
    }

    [Fact]
    public async Task JoiningAnUnknownSubscriptionIsRejected()
    {
        await using var other = await MoqSessionPair.StartAsync(Cache());
        var foreign = await other.Client.SubscribeAsync(Track); // request 0 on another session
        await using var pair = await MoqSessionPair.StartAsync(Cache());
        var e = await Assert.ThrowsAsync<MoqRequestException>(() => pair.Client.JoiningFetchAsync(foreign, 1));
        Assert.Equal(MoqRequestErrorCode.InvalidJoiningRequestId, e.Code);
    }
}
