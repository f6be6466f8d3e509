using FastRelay.Protocols.Moq.Relay;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Tests.Moq.Relay.Fakes;
using Xunit;

namespace FastRelay.Tests.Moq.Relay;

/// <summary>The relay's cache bounds hold under publishers that never stop, across tracks and sessions.</summary>
public class RelayCacheBoundTests
{
    [Fact]
    public async Task TracksOfPublishersThatNeverStopStayWithinEveryBoundAndKeepTheirNewestGroup()
    {
        var limits = new RelayLimits { CacheBytesPerTrack = 200_000, CacheBytesPerSession = 300_000, CacheBytesTotal = 500_000 };
        var h = new RelayHarness(new RelayOptions { Limits = limits });
        var second = new FakePeer("second-publisher");
        h.Relay.SessionStarted(second);
        await h.Relay.PublishNamespaceAsync(second, new Protocols.Moq.Relay.Ports.NamespaceRequest(RelayNames.Namespace("other")), default);
        var tracks = new[] { RelayNames.Track("live/a", "v"), RelayNames.Track("live/b", "v"), RelayNames.Track("other/c", "v") };
        foreach (var t in tracks)
            await h.SubscribeAsync(h.NewSubscriberPeer(), new Protocols.Moq.Relay.Ports.SubscribeRequest(t));
        var sinks = new[] { h.Publisher.SinkFor(tracks[0]), h.Publisher.SinkFor(tracks[1]), second.SinkFor(tracks[2]) };

        for (ulong g = 0; g < 300; g++)
        {
            for (int t = 0; t < sinks.Length; t++)
                RelayHarness.PublishGroups(sinks[t], g, 1, 5, 2000 + t * 500);
            Assert.True(h.Relay.GlobalCache.UsedBytes <= limits.CacheBytesTotal, $"global {h.Relay.GlobalCache.UsedBytes}");
            foreach (var t in tracks)
            {
                var cache = h.Relay.FindTrack(t)!.Cache;
                Assert.True(cache.Bytes <= limits.CacheBytesPerTrack);
                Assert.Equal(g, cache.NewestGroup);
                Assert.Equal(5, cache.Range(new MoqLocation(g, 0), new MoqLocation(g, ulong.MaxValue), false, out _).Count);
            }
            long liveSession = tracks.Take(2).Sum(t => h.Relay.FindTrack(t)!.Cache.Bytes);
            Assert.True(liveSession <= limits.CacheBytesPerSession, $"session {liveSession}");
        }
        var snapshot = h.Relay.Snapshot("t", [], null);
        Assert.Equal(h.Relay.GlobalCache.UsedBytes, snapshot.Totals.CacheBytes);
        Assert.Equal(3, snapshot.Tracks.Count);
        Assert.All(snapshot.Tracks, t => Assert.Equal(1500, t.ObjectsIn));
    }
}
