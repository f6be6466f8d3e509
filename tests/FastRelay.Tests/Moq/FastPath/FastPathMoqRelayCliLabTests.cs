using FastRelay.Protocols.Moq.Relay.Status;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using FastRelay.Tests.Moq.Lab;
using Xunit;
using Xunit.Abstractions;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>
/// The CLI end to end with the kernel fast path (prefix frmw): `moq publish --fast-path` → `moq relay --mode fastpath`
/// (the generated quic_moq programs on both relay interfaces) → two `moq subscribe --fast-path` and one plain (encrypted)
/// `moq subscribe`, each in its own namespace. Every subscriber gets every object byte-identical; the relay's status
/// shows the kernel forwarded most of each one's media: the encrypted one's copies sealed with its keys in the kernel
/// (docs/quic-encrypted-fast-path.md; FastPathMoqSealedSubscriberLabTests checks that it could open them).
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class FastPathMoqRelayCliLabTests(GeneratedObjects generated, ITestOutputHelper output)
{
    private const int Gop = 30;
    private const int Rate = 150; // objects/s: paced like media, so each group's subgroup is mapped after its first object

    /// <param name="mixedFamilies">true: the relay listens on one dual-stack socket and the second fast-path subscriber
    /// connects over IPv6 while the publisher sends over IPv4: its copies are translated by the kernel.</param>
    [LabTheory(needsClang: true)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Fast_path_publisher_relay_and_subscribers_deliver_every_object_mostly_forwarded_by_the_kernel(bool mixedFamilies)
    {
        await using var lab = await MoqLab.UpAsync(mixedFamilies ? "frxf" : "frmw", subscribers: 3, output, relayInterfaces: 2);
        var net = lab.Network;
        var objects = new LabTrackObjects(300, seed: 11, minBytes: 600, maxBytes: 3000);
        // IPv4: no --mode, so `auto` (the default) must choose the fast path on a non-loopback listener by itself.
        string[] mode = mixedFamilies ? ["--mode", "fastpath"] : [];
        var qlogDir = Path.Combine(lab.Work, "qlog");
        var relay = await lab.StartRelayOnAsync(net.Relay, "relay", mixedFamilies ? "::" : "0.0.0.0", [.. mode,
            "--interface", net.RelayUpstream.Name, "--interface", net.RelayDownstream.Name,
            "--bpffs", net.BpfFsPath, "--object", generated.ObjectPath(G.Protocol), "--qlog-dir", qlogDir]);
        // The stdout line (the logger's own "listening on" line may come first).
        await relay.WaitForLogAsync(l => l.Contains("; fast path on ") || l.Contains("fast path off"), "the mode on the 'listening on' line", MoqLab.StepTimeout);
        Assert.Contains($"; fast path on {net.RelayUpstream.Name}, {net.RelayDownstream.Name})", relay.Log);
        var publisher = await lab.StartFastPathPublisherAsync(relay, Gop, Rate);

        string[] names = ["fast0", "fast1", "encrypted"];
        string RelayUrl(int i) => mixedFamilies && i == 1 ? $"moqt://[{net.RelayDownstream.IPv6}]:{MoqLab.Port}/" : MoqLab.UrlOf(net.RelayDownstream.IPv4);
        var subscribers = names.Select((name, i) => lab.StartSubscriber(net.Subscribers[i], name, RelayUrl(i), objects.Count,
            i < 2 ? ["--start", "absolute 0/0", "--fast-path"] : ["--start", "absolute 0/0"])).ToList();
        await relay.WaitForLogAsync(l => MoqLab.AcceptedSubscriptions(l) >= subscribers.Count, "SUBSCRIBE from every subscriber", MoqLab.StepTimeout);

        // Media pace comes from here: the publisher's own --input-rate counts from its start, so objects written long
        // after it would all be "late" and leave in one burst (which outruns the mappings: correct, but userspace).
        await MoqLab.FeedPacedAsync(publisher, objects, 0, objects.Count);
        publisher.EndFeed();
        foreach (var subscriber in subscribers)
            Assert.True(await subscriber.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, $"{subscriber.Name} failed:\n{subscriber.Log}");
        Assert.True(await publisher.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, "publisher failed:\n" + publisher.Log);

        long fastPathBytes = 0;
        foreach (var name in names)
        {
            var report = lab.SubscriberReport(name);
            output.WriteLine($"{name}: {report.Verified} verified, {report.Bytes} bytes, latency p50 {report.Latency.P50Us} µs p99 {report.Latency.P99Us} µs");
            Assert.Equal(objects.Count, report.Verified);
            Assert.Equal(0, report.IntegrityFailures);
            Assert.Equal(0, report.MissingObjects);
            Assert.Equal(0, report.Duplicates);
            Assert.Equal(objects.Count, objects.VerifyOutput(File.ReadAllBytes(lab.OutputPath(name)), 0, name).Count);
            fastPathBytes += report.Bytes; // the encrypted one too: it has a sealed slot
        }

        // Written every second; the slots' counts stay in the total after the subscribers left.
        var status = await lab.WaitForStatusAsync("relay", s => s.FastPath is { TappedStreams: > 0, Slots: 0 }, "the fast path's final counts");
        var fast = status.FastPath!;
        var printed = new StringWriter();
        Assert.Equal(0, FastRelay.Cli.Moq.MoqRelayStatusPrinter.Print(Path.GetDirectoryName(lab.StatusFile("relay"))!, "relay", json: false, printed));
        Assert.Contains($"kernel fast path: 0 subscriber slot(s), {fast.TappedStreams} subgroup streams tapped", printed.ToString());
        var share = (double)fast.KernelForwardedBytes / fastPathBytes;
        output.WriteLine($"kernel forwarded {fast.KernelForwardedBytes} bytes of {fastPathBytes} object bytes to the fast-path subscribers = {share:P1} " +
                         $"({fast.TappedStreams} subgroup streams tapped, {fast.ForwardedPackets} packets forwarded, {fast.NotForwardedPackets} not forwarded; kernel: {fast})");
        // Over two thirds means every subscriber got kernel copies (with mixed families: the IPv6 one's translated).
        Assert.True(share > 0.6, $"the kernel forwarded only {share:P1}");
        // Per connection: the two fast-path subscribers and the encrypted one (sealed) each had a kernel slot and most of
        // their stream bytes came from the kernel. Not all: group 0's stream reaches the relay (header only) before
        // the relay has registered the subscribers that made it subscribe upstream; it is routed at its first bytes
        // instead (FastPathUpstreamTap's second look), so its first object and whatever arrives while that first, cold
        // mapping is made go through userspace. Every later group's stream is opened ahead, header only, and forwarded by
        // the kernel whole (`fastrelay demo`, where the publisher starts after the subscribers, shows 100 %).
        Assert.Equal(3, fast.Subscribers!.Count);
        // 96 % on a quiet machine; 80-81 % seen once in a full CI-style run (a loaded relay maps some groups' streams
        // after their first packets, which userspace then sends); a broken fast path gives about 0.
        Assert.All(fast.Subscribers, s => Assert.True(s.KernelShare >= 0.7, $"{s.Session} {s.Remote}: {s.KernelShare:P1} ({s.KernelBytes} kernel, {s.UserspaceBytes} relay bytes)"));
        // Object headers make the stream a little longer than the payloads; a fourth subscriber's worth would be +33 %.
        Assert.True(share < 1.1, $"the kernel forwarded {share:P1}: more than the three subscribers' media");

        // The relay's qlog of each subscriber's connection: the packets that carried the subscriber's media (most of them
        // the kernel's copies, registered under the wire numbers the kernel gave them) and the subscriber's ACK frames,
        // which the relay processed, acknowledging them. A copy the relay never learned of would appear in no packet_sent;
        // an ACK the relay could not match would have closed the connection (an ACK of a packet never sent).
        var media = new List<(string File, List<ulong> Sent, int Unacked)>();
        foreach (var file in Directory.GetFiles(qlogDir, "*_server.sqlog"))
        {
            var trace = FastRelay.Tests.Quic.Qlog.QlogReader.Parse(File.ReadAllBytes(file));
            var sent = trace.Named("transport:packet_sent")
                .Where(e => FastRelay.Tests.Quic.Qlog.QlogReader.Frames(e).Any(f => f.GetProperty("frame_type").GetString() == "stream"
                    && f.TryGetProperty("length", out var length) && length.GetInt64() >= 500))
                .Select(e => FastRelay.Tests.Quic.Qlog.QlogReader.PacketId(e)).Where(p => p.Type == "1RTT").Select(p => p.Number).ToList();
            if (sent.Count < objects.Count) continue;   // the publisher's connection: the relay sends it no media
            var acked = trace.Named("transport:packet_received").SelectMany(FastRelay.Tests.Quic.Qlog.QlogReader.Frames)
                .Where(f => f.GetProperty("frame_type").GetString() == "ack")
                .SelectMany(f => f.GetProperty("acked_ranges").EnumerateArray())
                .Select(r => (Low: r[0].GetUInt64(), High: r.GetArrayLength() > 1 ? r[1].GetUInt64() : r[0].GetUInt64())).ToList();
            media.Add((Path.GetFileName(file), sent, sent.Count(pn => !acked.Any(r => r.Low <= pn && pn <= r.High))));
        }
        foreach (var (file, sent, unacked) in media) output.WriteLine($"qlog {file}: {sent.Count} media packets sent, {unacked} not acknowledged");
        Assert.Equal(3, media.Count);
        // The subscribers left only after their last object: at most the ACKs of the last few packets went unlogged.
        Assert.All(media, m => Assert.True(m.Unacked <= 10, $"{m.File}: {m.Unacked} of {m.Sent.Count} media packets never acknowledged in the relay's qlog"));
    }

    /// <summary>
    /// `--mode auto` where the fast path cannot start (here: an object that is not BPF, standing in for a missing
    /// clang, missing privileges or a verifier error) says why and runs the same relay in userspace: a `--fast-path`
    /// subscriber still gets every object, and nothing was attached or pinned.
    /// </summary>
    [LabFact]
    public async Task Auto_mode_falls_back_to_userspace_with_the_reason_when_the_fast_path_cannot_start()
    {
        await using var lab = await MoqLab.UpAsync("frma", subscribers: 1, output, relayInterfaces: 2);
        var net = lab.Network;
        var notAnObject = Path.Combine(lab.Work, "quic_moq.bpf.o");
        await File.WriteAllTextAsync(notAnObject, "not an ELF file");
        var objects = new LabTrackObjects(60, seed: 5, minBytes: 200, maxBytes: 1500);
        var relay = await lab.StartRelayAsync(net.Relay, "relay", "--interface", net.RelayUpstream.Name, "--interface", net.RelayDownstream.Name,
            "--bpffs", net.BpfFsPath, "--object", notAnObject);
        await relay.WaitForLogAsync(l => l.Contains("; fast path on ") || l.Contains("fast path off"), "the mode on the 'listening on' line", MoqLab.StepTimeout);
        Assert.Contains("; userspace: fast path off (", relay.Log);
        Assert.Contains(notAnObject, relay.Log);

        var publisher = await lab.StartFastPathPublisherAsync(relay, Gop, Rate);
        var subscriber = lab.StartSubscriber(net.Subscribers[0], "fast0", MoqLab.UrlOf(net.RelayDownstream.IPv4), objects.Count,
            "--start", "absolute 0/0", "--fast-path");
        await relay.WaitForLogAsync(l => MoqLab.AcceptedSubscriptions(l) >= 1, "SUBSCRIBE", MoqLab.StepTimeout);
        for (var i = 0; i < objects.Count; i++)
            publisher.Feed(objects.Framed(i, i + 1));
        publisher.EndFeed();
        Assert.True(await subscriber.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, $"fast0 failed:\n{subscriber.Log}");
        Assert.True(await publisher.WaitForExitAsync(MoqLab.ProcessTimeout) == 0, "publisher failed:\n" + publisher.Log);

        var report = lab.SubscriberReport("fast0");
        Assert.Equal(objects.Count, report.Verified);
        Assert.Equal(0, report.IntegrityFailures);
        var status = await lab.WaitForStatusAsync("relay", _ => true, "a status");
        Assert.Null(status.FastPath);
        var pins = FastRelay.Bpf.BpfFs.InstancePath("relay", net.BpfFsPath);
        Assert.False(Directory.Exists(pins) && Directory.EnumerateFileSystemEntries(pins).Any(), $"a fallen-back relay left pins in {pins}");
    }
}
