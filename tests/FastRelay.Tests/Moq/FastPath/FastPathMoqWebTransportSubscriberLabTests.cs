using System.Text.RegularExpressions;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using FastRelay.Tests.Moq.Lab;
using Xunit;
using Xunit.Abstractions;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>
/// A WebTransport subscriber on a sealed kernel slot, the CLI end to end (prefix frcw; issue 16, docs/quic-encrypted-fast-path.md):
/// `moq publish --fast-path` (clear text, the operator's side) → `moq relay --mode fastpath` → `moq subscribe https://…/moq`
/// (our own client over HTTP/3 WebTransport, full 1-RTT protection, as a browser would be) and a raw-QUIC encrypted
/// `moq subscribe` beside it. The WebTransport subscriber's subgroup streams start with the WebTransport stream header,
/// which the relay writes itself; the kernel forwards the rest with the offsets shifted by it, sealed with that
/// connection's keys. Every object arrives intact, and the relay's status counts the kernel's share of its stream bytes.
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class FastPathMoqWebTransportSubscriberLabTests(GeneratedObjects generated, ITestOutputHelper output)
{
    private const int Gop = 30;

    [LabFact(needsClang: true)]
    public async Task A_webtransport_subscriber_receives_every_object_from_kernel_sealed_copies()
    {
        await using var lab = await MoqLab.UpAsync("frcw", subscribers: 2, output, relayInterfaces: 2);
        var net = lab.Network;
        var objects = new LabTrackObjects(300, seed: 17, minBytes: 600, maxBytes: 3000);
        var relay = await lab.StartFastPathRelayAsync(generated.ObjectPath(G.Protocol));
        var publisher = await lab.StartFastPathPublisherAsync(relay, Gop, 150);

        string[] names = ["webtransport", "quic"];
        string[] urls = [$"https://{net.RelayDownstream.IPv4}:{MoqLab.Port}/moq", MoqLab.UrlOf(net.RelayDownstream.IPv4)];
        var subscribers = names.Select((name, i) => lab.StartSubscriber(net.Subscribers[i], name, urls[i], objects.Count, "--start", "absolute 0/0")).ToList();
        await relay.WaitForLogAsync(l => MoqLab.AcceptedSubscriptions(l) >= subscribers.Count, "SUBSCRIBE from every subscriber", MoqLab.StepTimeout);

        // Paced like media (see FastPathMoqRelayCliLabTests): each group's subgroup is mapped before most of its objects.
        await MoqLab.FeedPacedAsync(publisher, objects, 0, objects.Count);
        publisher.EndFeed();
        foreach (var subscriber in subscribers)
            Assert.True(await subscriber.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, $"{subscriber.Name} failed:\n{subscriber.Log}");
        Assert.True(await publisher.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, "publisher failed:\n" + publisher.Log);

        foreach (var name in names)
        {
            var report = lab.SubscriberReport(name);
            output.WriteLine($"{name}: {report.Verified} verified, {report.Bytes} bytes, latency p50 {report.Latency.P50Us} µs p99 {report.Latency.P99Us} µs");
            Assert.Equal(objects.Count, report.Verified);
            Assert.Equal(0, report.IntegrityFailures);
            Assert.Equal(0, report.MissingObjects);
            Assert.Equal(0, report.Duplicates);
            Assert.Equal(objects.Count, objects.VerifyOutput(File.ReadAllBytes(lab.OutputPath(name)), 0, name).Count);
        }

        var fast = await lab.FinalFastPathStatusAsync();
        // Both had a (sealed) slot, the WebTransport one included, and most of each one's stream bytes were kernel copies
        // (96.1 % for the WebTransport subscriber, 97.0 % for the raw-QUIC one in the first run).
        Assert.Contains("over WebTransport", relay.Log);
        Assert.Equal(2, Regex.Matches(relay.Log, @"on slot \d+ \(sealed, 8-byte connection id\)").Count);
        Assert.Equal(2, fast.Subscribers.Count);
        Assert.Contains(fast.Subscribers, s => s.Remote.StartsWith(net.Subscribers[0].IPv4 + ":", StringComparison.Ordinal));
        Assert.All(fast.Subscribers, s => Assert.True(s.KernelShare >= 0.7, $"{s.Session} {s.Remote}: {s.KernelShare:P1} ({s.KernelBytes} kernel, {s.UserspaceBytes} relay bytes)"));
        // And they could open them: a copy a subscriber cannot authenticate is dropped unacknowledged and declared lost.
        Assert.All(fast.Subscribers, s => Assert.True(s.PacketsLost < 25, $"{s.Session} {s.Remote}: {s.PacketsLost} packets lost"));
    }
}
