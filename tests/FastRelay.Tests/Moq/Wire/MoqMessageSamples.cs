using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Messages;

namespace FastRelay.Tests.Moq.Wire;

/// <summary>One or more filled-in instances of every control message, shared by round-trip and fuzz tests.</summary>
public static class MoqMessageSamples
{
    public static readonly MoqFullTrackName Track = new(MoqTrackNamespace.FromStrings("example.net", "live"), "video");

    public static MoqMessageParameters SubscribeParameters() => new()
    {
        AuthorizationTokens = { MoqAuthToken.UseValue(0, "secret"u8.ToArray()), MoqAuthToken.Register(5, 1, "tok"u8.ToArray()) },
        ObjectDeliveryTimeoutMs = 2500,
        SubgroupDeliveryTimeoutMs = 1000,
        RendezvousTimeoutMs = 300,
        Forward = true,
        SubscriberPriority = 7,
        LocationFilter = MoqLocationFilter.AbsoluteRange(new MoqLocation(10, 3), 5),
        GroupOrder = MoqGroupOrder.Descending,
        NewGroupRequest = 0,
        RangeFilters =
        {
            new MoqRangeFilter(MoqParameterType.SubgroupFilter, 0, 0, new[] { new MoqRange(3, 5), new MoqRange(10, 15) }),
            new MoqRangeFilter(MoqParameterType.ObjectPropertyFilter, 1, 0x3C, new[] { new MoqRange(0, null) }),
            new MoqRangeFilter(MoqParameterType.PriorityFilter, 2, 0, new[] { new MoqRange(0, 200) }),
        },
    };

    public static IEnumerable<MoqControlMessage> All()
    {
        yield return new MoqSetup(new MoqSetupOptions
        {
            Path = "/moq?room=1", Authority = "relay.example:443", Implementation = "FastRelay/1.0",
            MaxAuthTokenCacheSize = 4096, MaxFilterRanges = 8, MaxRequestUpdates = 4,
            AuthorizationTokens = { MoqAuthToken.UseValue(0, "abc"u8.ToArray()) },
            Unknown = { MoqKeyValuePair.FromInt(0x9D + 0x7f, 1), MoqKeyValuePair.FromBytes(0x40b55, new byte[] { 1, 2 }) },
        });
        yield return new MoqSetup(new MoqSetupOptions());
        yield return new MoqGoAway("moqt://other.example/live", 5000);
        yield return new MoqGoAway("", 0);
        yield return new MoqSubscribe(0, Track, SubscribeParameters());
        yield return new MoqSubscribe(2, Track, new MoqMessageParameters { LocationFilter = MoqLocationFilter.NextGroupStart() });
        yield return new MoqSubscribe(4, Track, new MoqMessageParameters { LocationFilter = MoqLocationFilter.LargestObject() });
        yield return new MoqSubscribe(6, Track, new MoqMessageParameters { LocationFilter = MoqLocationFilter.AbsoluteStart(new MoqLocation(3, 0)) });
        yield return new MoqSubscribeOk(9, new MoqMessageParameters { ExpiresMs = 60000, LargestObject = new MoqLocation(41, 7) },
            new[] { MoqKeyValuePair.FromInt(0x0E, 3), MoqKeyValuePair.FromInt(0x22, 1), MoqKeyValuePair.FromBytes(0x0B, new byte[] { 9 }) });
        yield return new MoqRequestUpdate(8, new MoqMessageParameters
        {
            Forward = false, SubscriberPriority = 1, LocationFilter = MoqLocationFilter.AbsoluteStart(new MoqLocation(50, 0)),
            TrackNamespacePrefix = MoqTrackNamespace.FromStrings("a"),
            RangeFilters = { new MoqRangeFilter(MoqParameterType.TrackPropertyFilter, 0, 0, Array.Empty<MoqRange>()) { IsRemoval = true } },
        });
        yield return new MoqPublish(1, Track, 3, new MoqMessageParameters { Forward = false, LargestObject = new MoqLocation(1, 2), GroupOrder = MoqGroupOrder.Ascending, ExpiresMs = 10 },
            new[] { MoqKeyValuePair.FromInt(0x30, 1) });
        yield return new MoqPublishDone(MoqPublishDoneCode.TrackEnded, 12, "the end");
        yield return new MoqPublishDone(MoqPublishDoneCode.GoingAway, MoqPublishDone.UnknownStreamCount, "");
        yield return MoqFetch.CreateStandalone(10, Track, new MoqLocation(1, 0), new MoqLocation(5, 0),
            new MoqMessageParameters { SubscriberPriority = 3, GroupOrder = MoqGroupOrder.Descending, FillTimeoutMs = 0 });
        yield return MoqFetch.CreateJoining(12, relative: true, joiningRequestId: 0, joiningStart: 2);
        yield return MoqFetch.CreateJoining(14, relative: false, joiningRequestId: 0, joiningStart: 100);
        yield return new MoqFetchOk(true, new MoqLocation(5, 1), new MoqMessageParameters(), new[] { MoqKeyValuePair.FromInt(4, 9000) });
        yield return new MoqTrackStatus(16, Track, new MoqMessageParameters { AuthorizationTokens = { MoqAuthToken.UseAlias(5) } });
        yield return new MoqPublishNamespace(3, MoqTrackNamespace.FromStrings("example.net", "live"), new MoqMessageParameters { AuthorizationTokens = { MoqAuthToken.Delete(5) } });
        yield return new MoqNamespace(MoqTrackNamespace.FromStrings("room1"));
        yield return new MoqNamespaceDone(MoqTrackNamespace.FromStrings("room1", "x"));
        yield return new MoqSubscribeNamespace(18, MoqTrackNamespace.FromStrings("example.net"), new MoqMessageParameters());
        yield return new MoqSubscribeNamespace(20, MoqTrackNamespace.Empty, new MoqMessageParameters());
        yield return new MoqSubscribeTracks(22, MoqTrackNamespace.FromStrings("example.net"), new MoqMessageParameters { Forward = false, GroupOrder = MoqGroupOrder.Ascending });
        yield return new MoqPublishSkipped(MoqTrackNamespace.FromStrings("live"), "audio"u8.ToArray());
        yield return new MoqRequestOk();
        yield return new MoqRequestOk(new MoqMessageParameters { LargestObject = new MoqLocation(9, 9), ExpiresMs = 1 }, new[] { MoqKeyValuePair.FromInt(0x0E, 1) });
        yield return new MoqRequestError(MoqRequestErrorCode.DoesNotExist, "no such track", retryInterval: 1001);
        yield return new MoqRequestError(MoqRequestErrorCode.Redirect, "go there", 0,
            new MoqRedirect("moqt://b.example", MoqTrackNamespace.FromStrings("other"), "video2"u8.ToArray()));
    }
}
