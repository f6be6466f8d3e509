using FastRelay.Protocols.Moq.Publisher;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Subscriber;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using FastRelay.Tests.Infrastructure;
using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Moq.Relay.EndToEnd;

/// <summary>
/// How upstream stream ends and a publisher's close travel through the relay (real sessions over our QUIC on loopback):
/// nothing the publisher's QUIC had acknowledged is lost, and each subgroup stream's FIN or reset is forwarded exactly.
/// </summary>
public sealed class RelayStreamEndTests(ITestOutputHelper output)
{
    private static MoqFullTrackName Track(string ns) => RelayNames.Track(ns, "video");

    /// <summary>Every object of every stream the subscription had, until its end; with the stream ends seen.</summary>
    private static async Task<(List<MoqObject> Objects, List<MoqSubscriptionEvent> Ends)> ReadAllAsync(MoqSubscription subscription, CancellationToken cancellationToken)
    {
        var objects = new List<MoqObject>();
        var ends = new List<MoqSubscriptionEvent>();
        await foreach (var e in subscription.Events.ReadAllAsync(cancellationToken))
        {
            if (e.Object is { } o) objects.Add(o);
            else ends.Add(e);
        }
        return (objects, ends);
    }

    /// <summary>The relay forwards objects to subscribers it has joined: publish only once all of them are.</summary>
    private static Task JoinedAsync(Protocols.Moq.Relay.RelayHost relay, MoqFullTrackName track, int subscribers) =>
        Eventually.TrueAsync(() => relay.Relay.FindTrack(track)?.SubscriberCount == subscribers, "the relay never joined the subscribers");

    private static async Task<MoqSubscriptionEvent> NextAsync(MoqSubscription subscription, CancellationToken cancellationToken) =>
        await subscription.Events.ReadAsync(cancellationToken);

    [Fact]
    public async Task A_publisher_that_closes_as_soon_as_its_data_is_acknowledged_loses_no_object()
    {
        // Twenty rounds: the race between the relay's QUIC acknowledging and its session parsing shows up in some.
        const int rounds = 20, groups = 3, subgroups = 2, objectsPer = 10, bytes = 1200;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await using var relay = await LoopbackRelay.StartAsync();
        for (int round = 0; round < rounds; round++)
        {
            var track = Track($"close/r{round}");
            var publisher = new AcceptingPublisher();
            var pub = await LoopbackRelay.ConnectAsync(relay, publisher, cancellationToken: timeout.Token);
            await pub.Session.PublishNamespaceAsync(track.Namespace, cancellationToken: timeout.Token);
            await using var sub = await LoopbackRelay.ConnectAsync(relay, cancellationToken: timeout.Token);
            var subscription = await sub.Session.SubscribeAsync(track, cancellationToken: timeout.Token);
            var publication = await publisher.FirstSubscription.WaitAsync(timeout.Token);
            await JoinedAsync(relay, track, 1);

            var sent = new List<MoqSubgroupStream>();
            for (ulong g = 0; g < groups; g++)
            {
                for (ulong s = 0; s < subgroups; s++)
                {
                    var stream = await publication.OpenSubgroupAsync(g, s);
                    for (ulong o = s; o < objectsPer; o += subgroups)
                        await stream.WriteObjectAsync(o, AcceptingPublisher.Payload(g, o, bytes));
                    await stream.CompleteAsync();
                    sent.Add(stream);
                }
            }
            var finishing = Stopwatch.StartNew();
            await publication.FinishAsync();
            // The publisher's QUIC has every byte, FIN and PUBLISH_DONE acknowledged: it closes at once (NO_ERROR).
            await Task.WhenAll(sent.Select(s => s.Delivered).Append(publication.Delivered)).WaitAsync(timeout.Token);
            // For information (the old publisher lingered 1 s here): how long waiting for the acknowledgements took.
            output.WriteLine($"round {round}: acknowledged {finishing.Elapsed.TotalMilliseconds:0.0} ms after PUBLISH_DONE");
            await pub.DisposeAsync();

            var (objects, ends) = await ReadAllAsync(subscription, timeout.Token);
            var done = await subscription.Done.WaitAsync(timeout.Token);
            Assert.True(groups * objectsPer == objects.Count, $"round {round}: {objects.Count} of {groups * objectsPer} objects arrived, {ends.Count} stream ends, done {done?.StatusCode} {done?.Reason}: {string.Join(" ", objects.Select(o => $"{o.GroupId}/{o.SubgroupId}/{o.ObjectId}"))} ends {string.Join(" ", ends.Select(e => $"{e.Kind}:{e.GroupId}/{e.SubgroupId}"))}");
            Assert.All(objects, o => Assert.True(o.Payload.Span.SequenceEqual(AcceptingPublisher.Payload(o.GroupId, o.ObjectId, bytes)), $"payload of {o.GroupId}/{o.ObjectId}"));
            Assert.Equal(groups * subgroups, ends.Count(e => e.Kind == MoqSubscriptionEventKind.SubgroupFinished));
            Assert.DoesNotContain(ends, e => e.Kind == MoqSubscriptionEventKind.SubgroupReset);
            Assert.Equal((ulong)MoqPublishDoneCode.TrackEnded, (await subscription.Done.WaitAsync(timeout.Token))!.StatusCode);
        }
    }

    [Fact]
    public async Task An_upstream_FIN_finishes_the_subgroup_at_every_subscriber_without_waiting_for_later_groups()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var relay = await LoopbackRelay.StartAsync();
        var track = Track("fin");
        var publisher = new AcceptingPublisher();
        await using var pub = await LoopbackRelay.ConnectAsync(relay, publisher, cancellationToken: timeout.Token);
        await pub.Session.PublishNamespaceAsync(track.Namespace, cancellationToken: timeout.Token);
        await using var first = await LoopbackRelay.ConnectAsync(relay, cancellationToken: timeout.Token);
        await using var second = await LoopbackRelay.ConnectAsync(relay, cancellationToken: timeout.Token);
        var subscriptions = new[]
        {
            await first.Session.SubscribeAsync(track, cancellationToken: timeout.Token),
            await second.Session.SubscribeAsync(track, cancellationToken: timeout.Token),
        };
        var publication = await publisher.FirstSubscription.WaitAsync(timeout.Token);
        await JoinedAsync(relay, track, 2);

        // One subgroup of group 0, finished; no later group follows (the publisher stays connected).
        var stream = await publication.OpenSubgroupAsync(0, 3);
        for (ulong o = 0; o < 3; o++) await stream.WriteObjectAsync(o, AcceptingPublisher.Payload(0, o, 500));
        await stream.CompleteAsync();

        foreach (var subscription in subscriptions)
        {
            for (ulong o = 0; o < 3; o++)
            {
                var e = await NextAsync(subscription, timeout.Token);
                Assert.Equal(MoqSubscriptionEventKind.Object, e.Kind);
                Assert.Equal(o, e.Object!.ObjectId);
            }
            var end = await NextAsync(subscription, timeout.Token);
            Assert.Equal(MoqSubscriptionEvent.Finished(0, 3), end);
        }
    }

    [Fact]
    public async Task An_upstream_reset_resets_the_subgroup_downstream()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var relay = await LoopbackRelay.StartAsync();
        var track = Track("reset");
        var publisher = new AcceptingPublisher();
        await using var pub = await LoopbackRelay.ConnectAsync(relay, publisher, cancellationToken: timeout.Token);
        await pub.Session.PublishNamespaceAsync(track.Namespace, cancellationToken: timeout.Token);
        await using var sub = await LoopbackRelay.ConnectAsync(relay, cancellationToken: timeout.Token);
        var subscription = await sub.Session.SubscribeAsync(track, cancellationToken: timeout.Token);
        var publication = await publisher.FirstSubscription.WaitAsync(timeout.Token);
        await JoinedAsync(relay, track, 1);

        var stream = await publication.OpenSubgroupAsync(0, 0);
        for (ulong o = 0; o < 2; o++) await stream.WriteObjectAsync(o, AcceptingPublisher.Payload(0, o, 500));
        // Both objects went through the relay before the reset (a RESET_STREAM may discard what is still in flight).
        for (ulong o = 0; o < 2; o++) Assert.Equal(o, (await NextAsync(subscription, timeout.Token)).Object!.ObjectId);
        stream.Reset(MoqStreamResetCode.DeliveryTimeout);

        var end = await NextAsync(subscription, timeout.Token);
        Assert.Equal(MoqSubscriptionEventKind.SubgroupReset, end.Kind);
        Assert.Equal((0UL, 0UL), (end.GroupId, end.SubgroupId));
        Assert.Equal((ulong)MoqStreamResetCode.DeliveryTimeout, end.ResetCode); // the publisher's code, passed on

        // The track goes on: a later subgroup is forwarded and finished normally.
        var next = await publication.OpenSubgroupAsync(1, 0);
        await next.WriteObjectAsync(0, AcceptingPublisher.Payload(1, 0, 500));
        await next.CompleteAsync();
        Assert.Equal(1UL, (await NextAsync(subscription, timeout.Token)).Object!.GroupId);
        Assert.Equal(MoqSubscriptionEvent.Finished(1, 0), await NextAsync(subscription, timeout.Token));
    }
}
