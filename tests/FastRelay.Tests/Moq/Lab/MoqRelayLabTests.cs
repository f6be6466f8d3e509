using System.Text.RegularExpressions;
using FastRelay.Protocols.Moq.Clients;
using FastRelay.Tests.EndToEnd;
using FastRelay.Tests.Lab;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Moq.Lab;

/// <summary>
/// The MoQ relay end to end in network namespaces: `fastrelay moq relay` in the lab's relay namespace, `moq publish` in
/// the publisher's, `moq subscribe --json --output` in each subscriber's; real veths, a bridge and the kernel's IP
/// forwarding between them. The publisher publishes objects the test writes to its stdin (random bodies, stamped with
/// the test header), so the test decides when data starts (after the subscriptions exist) and knows every byte each
/// subscriber must have received.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class MoqRelayLabTests(ITestOutputHelper output)
{
    private const int Gop = 30;
    private const int Rate = 150; // objects/s: 300 objects are a 2 s stream

    [LabFact]
    public async Task Three_subscribers_receive_every_object_byte_identical()
    {
        await using var lab = await MoqLab.UpAsync('a', subscribers: 3, output);
        await FanOutAsync(lab, new LabTrackObjects(300, seed: 1));
    }

    [LabFact(needsClang: true)]
    public async Task Five_percent_loss_on_one_subscriber_link_still_delivers_every_object_and_the_others_are_unaffected()
    {
        await using var lab = await MoqLab.UpAsync('b', subscribers: 3, output);
        var s0 = lab.Network.Subscribers[0];
        await lab.Network.SetLossAsync(s0, 5, seed: 7);
        await FanOutAsync(lab, new LabTrackObjects(300, seed: 2));

        // The filter really dropped packets on s0's ingress (so QUIC had something to repair).
        var qdisc = (await lab.Network.ExecAsync(s0, "tc", "-s", "qdisc", "show", "dev", s0.InterfaceName)).StandardOutput;
        var dropped = Regex.Matches(qdisc, @"dropped (\d+)").Sum(m => long.Parse(m.Groups[1].Value));
        output.WriteLine(qdisc);
        Assert.True(dropped > 0, "the loss filter dropped nothing on s0:\n" + qdisc);
    }

    /// <summary>Publisher → relay → every subscriber host, each starting at 0/0: all objects, byte-identical, no drops.</summary>
    private async Task FanOutAsync(MoqLab lab, LabTrackObjects objects)
    {
        var net = lab.Network;
        var relay = await lab.StartRelayAsync(net.Relay, "relay");
        var publisher = lab.StartPublisher(MoqLab.UrlOf(net.RelayUpstream.IPv4), Gop, Rate);
        await relay.WaitForLogAsync(l => l.Contains("publishes namespace"), "PUBLISH_NAMESPACE", MoqLab.StepTimeout);

        var names = net.Subscribers.Select((_, i) => $"s{i}").ToList();
        var subscribers = net.Subscribers.Select((host, i) =>
            lab.StartSubscriber(host, names[i], MoqLab.UrlOf(net.RelayDownstream.IPv4), objects.Count, "--start", "absolute 0/0")).ToList();
        await relay.WaitForLogAsync(l => MoqLab.AcceptedSubscriptions(l) >= subscribers.Count, "SUBSCRIBE from every subscriber", MoqLab.StepTimeout);

        var started = DateTime.UtcNow;
        publisher.Feed(objects.Framed(0, objects.Count));
        publisher.EndFeed();
        foreach (var subscriber in subscribers)
            Assert.True(await subscriber.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, $"{subscriber.Name} failed:\n{subscriber.Log}");
        output.WriteLine($"all {subscribers.Count} subscribers complete {(DateTime.UtcNow - started).TotalSeconds:0.0} s after the first object");
        Assert.True(await publisher.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, "publisher failed:\n" + publisher.Log);
        Assert.Equal(objects.Count, lab.PublisherReport().Objects);

        foreach (var name in names)
            AssertComplete(lab, objects, name, from: 0);
    }

    [LabFact]
    public async Task A_late_joiner_gets_the_current_group_by_joining_fetch_then_the_live_objects_contiguously()
    {
        await using var lab = await MoqLab.UpAsync('c', subscribers: 2, output);
        var net = lab.Network;
        var objects = new LabTrackObjects(300, seed: 3);
        var relay = await lab.StartRelayAsync(net.Relay, "relay");
        var publisher = lab.StartPublisher(MoqLab.UrlOf(net.RelayUpstream.IPv4), Gop, Rate);
        await relay.WaitForLogAsync(l => l.Contains("publishes namespace"), "PUBLISH_NAMESPACE", MoqLab.StepTimeout);
        var early = lab.StartSubscriber(net.Subscribers[0], "early", MoqLab.UrlOf(net.RelayDownstream.IPv4), objects.Count, "--start", "absolute 0/0");
        await relay.WaitForLogAsync(l => MoqLab.AcceptedSubscriptions(l) >= 1, "the early SUBSCRIBE", MoqLab.StepTimeout);

        // Group 0 whole and half of group 1 reach the relay; then, with the publisher paused mid-group, the late joiner
        // subscribes (latest) and fetches the current group: it must get group 1 from object 0 via FETCH, the rest live.
        const int beforeJoin = Gop + Gop / 2;
        publisher.Feed(objects.Framed(0, beforeJoin));
        await lab.WaitForStatusAsync("relay", s => s.Totals.ObjectsIn >= beforeJoin, $"{beforeJoin} objects in");
        var late = lab.StartSubscriber(net.Subscribers[1], "late", MoqLab.UrlOf(net.RelayDownstream.IPv4), objects.Count - Gop, "--fetch", "1");
        await lab.WaitForStatusAsync("relay", s => s.Totals.FetchesServed >= 1, "the joining FETCH");
        publisher.Feed(objects.Framed(beforeJoin, objects.Count));
        publisher.EndFeed();

        Assert.True(await early.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, "early failed:\n" + early.Log);
        Assert.True(await late.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, "late failed:\n" + late.Log);
        Assert.True(await publisher.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, "publisher failed:\n" + publisher.Log);

        AssertComplete(lab, objects, "early", from: 0);
        var report = AssertComplete(lab, objects, "late", from: Gop);
        Assert.Equal(1UL, report.FirstGroup);
        // Objects 0..14 of group 1 were in the relay's cache when the late joiner subscribed: exactly those came by FETCH.
        Assert.Equal(beforeJoin - Gop, report.ViaFetch);
    }

    [LabFact]
    public async Task A_chain_of_origin_and_edge_relays_in_two_namespaces_delivers_every_object()
    {
        // pub --> origin relay (relay namespace) --> edge relay (s0's namespace, --upstream) --> subscriber (s1).
        await using var lab = await MoqLab.UpAsync('d', subscribers: 2, output);
        var net = lab.Network;
        var objects = new LabTrackObjects(300, seed: 4);
        var origin = await lab.StartRelayAsync(net.Relay, "origin");
        var edgeHost = net.Subscribers[0];
        var edge = await lab.StartRelayAsync(edgeHost, "edge", "--upstream", $"moqt://{net.RelayDownstream.IPv4}:{MoqLab.Port}", "--upstream-insecure");
        var publisher = lab.StartPublisher(MoqLab.UrlOf(net.RelayUpstream.IPv4), Gop, Rate);
        await origin.WaitForLogAsync(l => l.Contains("publishes namespace"), "PUBLISH_NAMESPACE", MoqLab.StepTimeout);

        var subscriber = lab.StartSubscriber(net.Subscribers[1], "s1", MoqLab.UrlOf(edgeHost.IPv4), objects.Count, "--start", "absolute 0/0");
        await edge.WaitForLogAsync(l => MoqLab.AcceptedSubscriptions(l) >= 1, "the subscriber's SUBSCRIBE", MoqLab.StepTimeout);
        await origin.WaitForLogAsync(l => MoqLab.AcceptedSubscriptions(l) >= 1, "the edge relay's SUBSCRIBE", MoqLab.StepTimeout);
        publisher.Feed(objects.Framed(0, objects.Count));
        publisher.EndFeed();

        Assert.True(await subscriber.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, "s1 failed:\n" + subscriber.Log);
        Assert.True(await publisher.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, "publisher failed:\n" + publisher.Log);
        AssertComplete(lab, objects, "s1", from: 0);

        // The subscriber only talks to the edge, which has no publisher: it took the track from the origin with one
        // upstream subscription, and the origin took it from the publisher with one.
        Assert.Contains("subscribed upstream", edge.Log);
        var edgeStatus = await lab.WaitForStatusAsync("edge", s => s.Totals.UpstreamSubscriptions > 0, "an upstream subscription");
        var originStatus = await lab.WaitForStatusAsync("origin", s => s.Totals.UpstreamSubscriptions > 0, "an upstream subscription");
        Assert.Equal(1, edgeStatus.Totals.UpstreamSubscriptions);
        Assert.Equal(1, originStatus.Totals.UpstreamSubscriptions);
        Assert.Equal(1, edgeStatus.Totals.SubscriptionsAccepted);
    }

    [LabFact]
    public async Task A_publisher_and_subscribers_without_the_right_token_are_refused_with_unauthorized()
    {
        await using var lab = await MoqLab.UpAsync('e', subscribers: 3, output);
        var net = lab.Network;
        var objects = new LabTrackObjects(60, seed: 5);
        var relay = await lab.StartRelayAsync(net.Relay, "relay", "--auth-token", "s3cret");
        var relayUrl = MoqLab.UrlOf(net.RelayDownstream.IPv4);

        // A publisher with the wrong token: PUBLISH_NAMESPACE answered with REQUEST_ERROR UNAUTHORIZED, exit 1.
        var intruder = lab.StartClient(net.Publisher, "wrong-publisher",
            "publish", MoqLab.UrlOf(net.RelayUpstream.IPv4), "-k", "-n", MoqLab.Namespace, "-t", MoqLab.TrackName, "--auth-token", "guess", "--count", "5");
        Assert.Equal(1, await intruder.WaitForExitAsync(MoqLab.ProcessTimeout));
        Assert.Contains($"PUBLISH_NAMESPACE for {MoqLab.Namespace} {MoqLab.TrackName} refused: Unauthorized", intruder.Log);
        Assert.DoesNotContain("publishes namespace", relay.Log);

        var publisher = lab.StartPublisher(MoqLab.UrlOf(net.RelayUpstream.IPv4), Gop, Rate, "--auth-token", "s3cret");
        await relay.WaitForLogAsync(l => l.Contains("publishes namespace"), "PUBLISH_NAMESPACE with the token", MoqLab.StepTimeout);

        // Subscribers with a wrong token and with none: SUBSCRIBE answered with UNAUTHORIZED, exit 1, no report.
        var wrong = lab.StartClient(net.Subscribers[0], "wrong-token", "subscribe", relayUrl, "-k", "-n", MoqLab.Namespace, "-t", MoqLab.TrackName,
            "--auth-token", "guess", "--duration", "30", "--json", lab.ReportPath("wrong-token"));
        var none = lab.StartClient(net.Subscribers[1], "no-token", "subscribe", relayUrl, "-k", "-n", MoqLab.Namespace, "-t", MoqLab.TrackName,
            "--duration", "30", "--json", lab.ReportPath("no-token"));
        // The right token works through the same relay at the same time.
        var allowed = lab.StartSubscriber(net.Subscribers[2], "allowed", relayUrl, objects.Count, "--start", "absolute 0/0", "--auth-token", "s3cret");
        foreach (var refused in new[] { wrong, none })
        {
            Assert.Equal(1, await refused.WaitForExitAsync(MoqLab.ProcessTimeout));
            Assert.Contains($"SUBSCRIBE to {MoqLab.Namespace} {MoqLab.TrackName} refused: Unauthorized", refused.Log);
            Assert.False(File.Exists(lab.ReportPath(refused.Name)), $"{refused.Name} wrote a report although refused");
        }
        await relay.WaitForLogAsync(l => MoqLab.AcceptedSubscriptions(l) >= 1, "the allowed SUBSCRIBE", MoqLab.StepTimeout);
        Assert.Equal(1, MoqLab.AcceptedSubscriptions(relay.Log));

        publisher.Feed(objects.Framed(0, objects.Count));
        publisher.EndFeed();
        Assert.True(await allowed.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, "allowed failed:\n" + allowed.Log);
        AssertComplete(lab, objects, "allowed", from: 0);
        var status = await lab.WaitForStatusAsync("relay", s => s.Totals.RequestsRefused >= 3, "3 refused requests");
        Assert.False(status.AuthOpen);
    }

    /// <summary>The subscriber got objects [from, Count) exactly: its checker saw each intact, once, none missing, and
    /// its --output splits back into exactly those objects byte for byte.</summary>
    private static MoqSubscriberReport AssertComplete(MoqLab lab, LabTrackObjects objects, string name, int from) =>
        lab.AssertSubscriberComplete(objects, name, from, Gop);
}
