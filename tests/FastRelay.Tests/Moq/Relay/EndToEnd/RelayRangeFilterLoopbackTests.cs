using System.Net;
using FastRelay.Protocols.Moq.Relay;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Subscriber;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Quic.Api;
using Xunit;

namespace FastRelay.Tests.Moq.Relay.EndToEnd;

/// <summary>Location and Range Filters of a real SUBSCRIBE through the relay on loopback.</summary>
public sealed class RelayRangeFilterLoopbackTests
{
    private static readonly MoqFullTrackName Track = RelayNames.Track("filters", "video");

    [Fact]
    public async Task An_AbsoluteRange_with_a_subgroup_filter_gets_its_objects_then_PUBLISH_DONE_SUBSCRIPTION_ENDED()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var relay = await RelayHost.StartAsync(new RelayHostOptions
        {
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            Certificate = LoopbackPair.Certificate.Value,
            Session = new MoqSessionOptions { MaxFilterRanges = 8 },
        });
        var publisher = new AcceptingPublisher();
        await using var pub = await LoopbackRelay.ConnectAsync(relay, publisher, cancellationToken: timeout.Token);
        await pub.Session.PublishNamespaceAsync(Track.Namespace, cancellationToken: timeout.Token);
        await using var sub = await LoopbackRelay.ConnectAsync(relay, cancellationToken: timeout.Token);
        Assert.Equal(8UL, sub.Session.PeerSetup.MaxFilterRanges);
        var parameters = new MoqMessageParameters { LocationFilter = MoqLocationFilter.AbsoluteRange(new MoqLocation(0, 0), endGroupDelta: 1) };
        parameters.RangeFilters.Add(new MoqRangeFilter(MoqParameterType.SubgroupFilter, 0, 0, [new MoqRange(1, 1)]));
        var subscription = await sub.Session.SubscribeAsync(Track, parameters, timeout.Token);
        var publication = await publisher.FirstSubscription.WaitAsync(timeout.Token);
        await Eventually.TrueAsync(() => relay.Relay.FindTrack(Track)?.SubscriberCount == 1, "the relay never joined the subscriber");

        for (ulong g = 0; g < 3; g++)
            for (ulong s = 0; s < 2; s++)
            {
                var stream = await publication.OpenSubgroupAsync(g, s);
                await stream.WriteObjectAsync(s, AcceptingPublisher.Payload(g, s, 100)); // object IDs unique in a group
                await stream.CompleteAsync();
            }

        var received = new List<string>();
        await foreach (var o in subscription.ReadObjectsAsync(timeout.Token)) received.Add($"{o.GroupId}/{o.SubgroupId}");
        Assert.Equal(new[] { "0/1", "1/1" }, received.Order());
        Assert.Equal((ulong)MoqPublishDoneCode.SubscriptionEnded, (await subscription.Done.WaitAsync(timeout.Token))!.StatusCode);
    }

    [Fact]
    public async Task Range_Filters_the_relay_did_not_offer_are_refused_INVALID_FILTER()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var relay = await LoopbackRelay.StartAsync();
        var publisher = new AcceptingPublisher();
        await using var pub = await LoopbackRelay.ConnectAsync(relay, publisher, cancellationToken: timeout.Token);
        await pub.Session.PublishNamespaceAsync(Track.Namespace, cancellationToken: timeout.Token);
        await using var sub = await LoopbackRelay.ConnectAsync(relay, cancellationToken: timeout.Token);
        Assert.Null(sub.Session.PeerSetup.MaxFilterRanges);
        var parameters = new MoqMessageParameters();
        parameters.RangeFilters.Add(new MoqRangeFilter(MoqParameterType.ObjectIdFilter, 0, 0, [new MoqRange(0, 3)]));
        var refused = await Assert.ThrowsAsync<MoqRequestException>(() => sub.Session.SubscribeAsync(Track, parameters, timeout.Token));
        Assert.Equal(MoqRequestErrorCode.InvalidFilter, refused.Code);
    }
}
