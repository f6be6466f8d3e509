using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Cache;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Tests.Moq.Relay.Fakes;
using Xunit;

namespace FastRelay.Tests.Moq.Relay;

public class TrackCacheTests
{
    private static RelayObject Obj(ulong g, ulong o, int bytes = 1000) => RelayHarness.Obj(g, o, bytes);

    [Fact]
    public void BoundHoldsUnderAPublisherThatNeverStopsAndTheNewestGroupIsKept()
    {
        var global = new CacheBudget(1 << 30);
        using var cache = new TrackCache(100_000, global);
        for (ulong g = 0; g < 500; g++)
        {
            for (ulong o = 0; o < 10; o++)
            {
                Assert.Equal(CacheAddResult.Added, cache.Add(Obj(g, o)));
                Assert.True(cache.Bytes <= 100_000, $"cache holds {cache.Bytes} bytes at {g}/{o}");
                Assert.Equal(cache.Bytes, global.UsedBytes);
            }
            Assert.Equal(g, cache.NewestGroup);
            // The whole newest group is still there, object 0 (the join point) included.
            var newest = cache.Range(new(g, 0), new(g, ulong.MaxValue), false, out _);
            Assert.Equal(10, newest.Count);
        }
        Assert.True(cache.GroupCount >= 5, "a 100 kB bound holds several 10 kB groups");
        Assert.Equal(500UL - (ulong)cache.GroupCount, cache.OldestGroup);
    }

    [Fact]
    public void OldestGroupsAreEvictedFirstAndFetchKnowsTheyAreGone()
    {
        using var cache = new TrackCache(30_000, new CacheBudget(1 << 30));
        for (ulong g = 0; g < 6; g++)
            for (ulong o = 0; o < 5; o++)
                cache.Add(Obj(g, o));
        Assert.Equal(6UL - (ulong)cache.GroupCount, cache.OldestGroup);
        Assert.Equal(5UL, cache.NewestGroup);
        var all = cache.Range(new(0, 0), new(5, ulong.MaxValue), false, out bool complete);
        Assert.False(complete);
        Assert.Equal(cache.OldestGroup, all[0].Group);
        cache.Range(new(cache.OldestGroup!.Value, 0), new(5, ulong.MaxValue), false, out complete);
        Assert.True(complete);
        // A late object for an evicted group is not cached again.
        Assert.Equal(CacheAddResult.NotCached, cache.Add(Obj(0, 9)));
    }

    [Fact]
    public void ANewestGroupLargerThanTheBoundKeepsItsPrefixAndIsMarkedTruncated()
    {
        using var cache = new TrackCache(10_000, new CacheBudget(1 << 30));
        int added = 0;
        for (ulong o = 0; o < 100; o++)
            if (cache.Add(Obj(7, o)) == CacheAddResult.Added) added++;
        Assert.InRange(added, 5, 9);
        Assert.True(cache.Bytes <= 10_000);
        var prefix = cache.Range(new(7, 0), new(7, ulong.MaxValue), false, out bool complete);
        Assert.False(complete);
        Assert.Equal(Enumerable.Range(0, added).Select(i => (ulong)i), prefix.Select(p => p.ObjectId));
        // The next group starts afresh (and evicts the truncated one).
        Assert.Equal(CacheAddResult.Added, cache.Add(Obj(8, 0)));
    }

    [Fact]
    public void DuplicatesAreRecognisedAndConflictsReported()
    {
        using var cache = new TrackCache(1 << 20, new CacheBudget(1 << 30));
        Assert.Equal(CacheAddResult.Added, cache.Add(Obj(1, 1)));
        Assert.Equal(CacheAddResult.Duplicate, cache.Add(Obj(1, 1)));
        Assert.Equal(CacheAddResult.Conflict, cache.Add(Obj(1, 1, bytes: 999)));
        Assert.Equal(1, cache.ObjectCount);
    }

    [Fact]
    public void TheGlobalBoundEvictsTheOldestGroupAcrossTracks()
    {
        var global = new CacheBudget(50_000);
        using var a = new TrackCache(1 << 20, global);
        using var b = new TrackCache(1 << 20, global);
        for (ulong g = 0; g < 3; g++)
            for (ulong o = 0; o < 5; o++)
                a.Add(Obj(g, o)); // ~15 kB, older
        for (ulong g = 0; g < 20; g++)
        {
            for (ulong o = 0; o < 5; o++)
            {
                b.Add(Obj(g, o));
                Assert.True(global.UsedBytes <= 50_000, $"global {global.UsedBytes}");
            }
        }
        // Track a's older groups went first; each track keeps its newest group.
        Assert.Equal(1, a.GroupCount);
        Assert.Equal(2UL, a.NewestGroup);
        Assert.Equal(19UL, b.NewestGroup);
    }

    [Fact]
    public void ASessionBudgetBoundsItsTracksAndDisposingReleasesEverything()
    {
        var global = new CacheBudget(1 << 30);
        var session = new CacheBudget(20_000, global);
        var a = new TrackCache(1 << 20, session);
        var b = new TrackCache(1 << 20, session);
        for (ulong g = 0; g < 10; g++)
            for (ulong o = 0; o < 3; o++)
            {
                a.Add(Obj(g, o));
                b.Add(Obj(g, o));
                Assert.True(session.UsedBytes <= 20_000);
            }
        a.Dispose();
        b.Dispose();
        Assert.Equal(0, session.UsedBytes);
        Assert.Equal(0, global.UsedBytes);
        Assert.Equal(0, global.CacheCount);
    }

    [Fact]
    public void RangeIsInGroupOrderThenObjectOrderAndMarksWhatWasNeverReceived()
    {
        using var cache = new TrackCache(1 << 20, new CacheBudget(1 << 30));
        cache.MarkUnknownThrough(new(3, 1));
        foreach (var (g, o) in new[] { (3UL, 3UL), (3UL, 2UL), (4UL, 1UL), (4UL, 0UL), (5UL, 0UL) })
            cache.Add(Obj(g, o));
        var asc = cache.Range(new(3, 2), new(5, 0), false, out bool complete);
        Assert.True(complete);
        Assert.Equal(new[] { "3/2", "3/3", "4/0", "4/1", "5/0" }, asc.Select(x => $"{x.Group}/{x.ObjectId}"));
        var desc = cache.Range(new(4, 0), new(5, 0), true, out _);
        Assert.Equal(new[] { "5/0", "4/0", "4/1" }, desc.Select(x => $"{x.Group}/{x.ObjectId}"));
        cache.Range(new(3, 0), new(5, 0), false, out complete);
        Assert.False(complete);
    }
}
