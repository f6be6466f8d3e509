using System.Text.RegularExpressions;
using FastRelay.Protocols.Moq.Relay.Status;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using FastRelay.Tests.Moq.Lab;
using Xunit;
using Xunit.Abstractions;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>
/// Issue 11's two-relay chain with the CLI (prefix frch): `moq publish --fast-path` → origin `moq relay --mode fastpath`
/// → edge `moq relay --mode fastpath --upstream origin` → two `moq subscribe --fast-path` and one plain (encrypted)
/// `moq subscribe`, each process in its own namespace. The edge's upstream link negotiates 0xBAAD from the edge's
/// listening socket, so the kernel forwards at both hops: the origin clones the publisher's packets to the edge as to any
/// fast-path subscriber, and the edge clones those copies to its own fast-path subscribers.
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class FastPathMoqRelayChainCliLabTests(GeneratedObjects generated, ITestOutputHelper output)
{
    private const int Gop = 30;
    private const int Rate = 150; // objects/s: paced like media (see FastPathMoqRelayCliLabTests)

    [LabFact(needsClang: true)]
    public async Task A_two_relay_chain_forwards_in_the_kernel_at_both_hops_and_delivers_every_object()
    {
        await using var lab = await MoqLab.UpAsync("frch", subscribers: 3, output, relayInterfaces: 2, edgeRelay: true);
        var net = lab.Network;
        var edgeHost = net.EdgeRelay!;
        // 30 groups (about 1.6 MB). The shares below are cumulative, and the first tapped stream at each hop runs cold code
        // (JIT) while its first packets arrive: at the edge that costs 25-50 packets of the first group (measured), a
        // one-time cost that a short track would magnify. Later groups miss at most their first packet or so.
        var objects = new LabTrackObjects(900, seed: 23, minBytes: 600, maxBytes: 3000);
        var quicMoq = generated.ObjectPath(G.Protocol);
        var origin = await lab.StartRelayOnAsync(net.Relay, "origin", "0.0.0.0", "--mode", "fastpath",
            "--interface", net.RelayUpstream.Name, "--interface", net.RelayDownstream.Name, "--bpffs", net.BpfFsPath, "--object", quicMoq);
        var edge = await lab.StartRelayOnAsync(edgeHost, "edge", "0.0.0.0", "--mode", "fastpath",
            "--interface", edgeHost.InterfaceName, "--bpffs", net.BpfFsPath, "--object", quicMoq,
            "--upstream", $"moqt://{net.RelayDownstream.IPv4}:{MoqLab.Port}", "--upstream-insecure");
        var publisher = await lab.StartFastPathPublisherAsync(origin, Gop, Rate);

        string[] names = ["fast0", "fast1", "encrypted"];
        var subscribers = names.Select((name, i) => lab.StartSubscriber(net.Subscribers[i], name, MoqLab.UrlOf(edgeHost.IPv4), objects.Count,
            i < 2 ? ["--start", "absolute 0/0", "--fast-path"] : ["--start", "absolute 0/0"])).ToList();
        await edge.WaitForLogAsync(l => MoqLab.AcceptedSubscriptions(l) >= subscribers.Count, "SUBSCRIBE from every subscriber", MoqLab.StepTimeout);
        await origin.WaitForLogAsync(l => MoqLab.AcceptedSubscriptions(l) >= 1, "the edge relay's SUBSCRIBE", MoqLab.StepTimeout);
        // Kernel slots are activated when a SUBSCRIBE is accepted, off the request's thread: the edge's link at the
        // origin; at the edge the two fast-path subscribers and the encrypted one (a sealed slot). Media that starts
        // before them goes through userspace.
        await lab.WaitForStatusAsync("origin", s => s.FastPath is { Slots: 1 }, "a kernel slot for the edge relay");
        await lab.WaitForStatusAsync("edge", s => s.FastPath is { Slots: 3 }, "kernel slots for the three subscribers (one sealed)");

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
            // A QUIC violation closes the connection: the subscription would end with the session, not with --expect.
            Assert.Null(report.EndedBecause);
            Assert.Equal(objects.Count, objects.VerifyOutput(File.ReadAllBytes(lab.OutputPath(name)), 0, name).Count);
        }

        // Hop 1, the origin: the edge's link was its one fast-path subscriber connection.
        var originFast = (await lab.WaitForStatusAsync("origin", s => s.FastPath is { TappedStreams: > 0 }, "the origin's fast-path counts")).FastPath!;
        output.WriteLine($"origin: {Describe(originFast)}");
        var link = Assert.Single(originFast.Subscribers!);
        Assert.True(link.KernelShare >= 0.9, $"origin → edge: the kernel forwarded only {link.KernelShare:P1} ({link.KernelBytes} kernel, {link.UserspaceBytes} relay bytes)");

        // Hop 2, the edge: its upstream's subgroup streams were tapped like a local publisher's and cloned to both
        // fast-path subscribers and to the encrypted one (sealed with its keys in the kernel).
        var edgeFast = (await lab.WaitForStatusAsync("edge", s => s.FastPath is { TappedStreams: > 0, Slots: 0 }, "the edge's final fast-path counts")).FastPath!;
        output.WriteLine($"edge: {Describe(edgeFast)}");
        Assert.Equal(3, edgeFast.Subscribers!.Count);
        Assert.All(edgeFast.Subscribers, s => Assert.True(s.KernelShare >= 0.9, $"edge → {s.Remote}: the kernel forwarded only {s.KernelShare:P1} ({s.KernelBytes} kernel, {s.UserspaceBytes} relay bytes)"));
        Assert.True(edgeFast.UpstreamMatched > 0, "the edge's kernel matched packets arriving from the origin");

        // One upstream session for the whole run, and it was a fast-path one: a broken link would have been set up again.
        Assert.Single(Regex.Matches(edge.Log, "upstream relay .*: session .* set up"));
        Assert.Contains("kernel fast path: 1-RTT in clear, subgroup streams tapped", edge.Log);
    }

    /// <summary>The edge offers 0xBAAD, the origin (userspace) does not agree: the link stays encrypted, the edge taps
    /// nothing and serves its fast-path subscriber itself; every object still arrives.</summary>
    [LabFact(needsClang: true)]
    public async Task An_edge_with_the_fast_path_under_a_userspace_origin_keeps_the_link_encrypted_and_delivers_every_object()
    {
        await using var lab = await MoqLab.UpAsync("frch", subscribers: 2, output, relayInterfaces: 2, edgeRelay: true);
        var net = lab.Network;
        var edgeHost = net.EdgeRelay!;
        var objects = new LabTrackObjects(150, seed: 29, minBytes: 600, maxBytes: 3000);
        var origin = await lab.StartRelayOnAsync(net.Relay, "origin", "0.0.0.0", "--mode", "userspace");
        var edge = await lab.StartRelayOnAsync(edgeHost, "edge", "0.0.0.0", "--mode", "fastpath",
            "--interface", edgeHost.InterfaceName, "--bpffs", net.BpfFsPath, "--object", generated.ObjectPath(G.Protocol),
            "--upstream", $"moqt://{net.RelayDownstream.IPv4}:{MoqLab.Port}", "--upstream-insecure");
        var publisher = await lab.StartFastPathPublisherAsync(origin, Gop, Rate);
        string[] names = ["fast", "encrypted"];
        var subscribers = names.Select((name, i) => lab.StartSubscriber(net.Subscribers[i], name, MoqLab.UrlOf(edgeHost.IPv4), objects.Count,
            i == 0 ? ["--start", "absolute 0/0", "--fast-path"] : ["--start", "absolute 0/0"])).ToList();
        await edge.WaitForLogAsync(l => MoqLab.AcceptedSubscriptions(l) >= subscribers.Count, "SUBSCRIBE from every subscriber", MoqLab.StepTimeout);
        await origin.WaitForLogAsync(l => MoqLab.AcceptedSubscriptions(l) >= 1, "the edge relay's SUBSCRIBE", MoqLab.StepTimeout);
        await MoqLab.FeedPacedAsync(publisher, objects, 0, objects.Count);
        publisher.EndFeed();
        foreach (var subscriber in subscribers)
            Assert.True(await subscriber.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, $"{subscriber.Name} failed:\n{subscriber.Log}\nEDGE:\n{edge.Log}");
        foreach (var name in names)
        {
            var report = lab.SubscriberReport(name);
            Assert.Equal(objects.Count, report.Verified);
            Assert.Equal(0, report.IntegrityFailures + report.MissingObjects + report.Duplicates);
            Assert.Equal(objects.Count, objects.VerifyOutput(File.ReadAllBytes(lab.OutputPath(name)), 0, name).Count);
        }

        Assert.Single(Regex.Matches(edge.Log, "upstream relay .*: session .* set up"));
        Assert.DoesNotContain("subgroup streams tapped", edge.Log);
        Assert.DoesNotContain("disable_1rtt_encryption negotiated", origin.Log);
        var edgeFast = (await lab.WaitForStatusAsync("edge", s => s.FastPath is not null && s.Totals.UpstreamSubscriptions > 0, "the edge's status")).FastPath!;
        Assert.Equal(0, edgeFast.TappedStreams);
        Assert.Equal(0, edgeFast.KernelForwardedBytes);
    }

    private static string Describe(MoqFastPathStatus f) =>
        $"{f.TappedStreams} subgroup streams tapped, {f.KernelForwardedBytes} bytes / {f.ForwardedPackets} packets forwarded by the kernel, " +
        $"{f.NotForwardedPackets} not forwarded, upstream matched {f.UpstreamMatched}, no channel {f.UpstreamNoChannel}, clones {f.Clones}; " +
        string.Join("; ", f.Subscribers!.Select(s => $"{s.Remote} {s.KernelShare:P1} ({s.KernelBytes} kernel, {s.UserspaceBytes} relay, {s.PacketsLost} lost)"));
}
