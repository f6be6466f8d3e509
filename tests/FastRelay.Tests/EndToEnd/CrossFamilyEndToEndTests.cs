using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using CliWrap.Buffered;
using FastRelay.Cli.Commands;
using FastRelay.Cli.Relay;
using FastRelay.Cli.Scenario;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.EndToEnd;

/// <summary>
/// The custom-UDP fast path with a subscriber of the other IP family than its channel's publisher, for real (separate
/// processes, namespaces named frxf*, veths, tx checksum offload off): the kernel translates its copies (IPv4 to IPv6
/// and back, bpf-templates/include/fr_family.h) and only a datagram whose translated copy would not fit the subscriber's
/// device reaches it through the relay socket.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class CrossFamilyEndToEndTests(ITestOutputHelper output)
{
    private const ushort ChannelA = 1;

    // One publisher and one subscriber per run: the relay's status is taken once the publisher has ended, and a subscriber
    // re-subscribes after 1 s of silence (its counters start again), so on a loaded machine the status can come too late
    // for per-subscriber figures. The relay-wide kernel counters (fr_stats, never reset) are read afterwards instead.
    [LabTheory(needsClang: true)]
    [InlineData(AddressFamily.InterNetwork)]
    [InlineData(AddressFamily.InterNetworkV6)]
    public async Task A_subscriber_of_the_other_family_gets_every_packet_intact_from_the_kernel(AddressFamily publisher)
    {
        var other = publisher == AddressFamily.InterNetwork ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        var (result, kernel) = await Run(new ScenarioOptions
        {
            Mode = RelayMode.FastPath,
            Publishers = [new ScenarioPublisher(ChannelA, publisher, RatePps: 800)],
            Subscribers = [new ScenarioSubscriber(0, ChannelA, other)],
        });

        var (relay, accepted) = AssertEveryPacketIntact(result);
        // Every packet the relay accepted left the kernel translated for this subscriber; none was refused for its family.
        Assert.Equal((ulong)accepted, kernel.GetValueOrDefault("egress_family_translated"));
        Assert.Equal(0UL, kernel.GetValueOrDefault("egress_family_mismatch"));
        Assert.Equal(0UL, kernel.GetValueOrDefault("egress_family_too_big"));
        // Its own kernel counter: all it received (0 only if the status was taken after it re-subscribed).
        foreach (var s in relay.Subscribers)
            Assert.Contains(s.Forwarded, new[] { 0UL, (ulong)result.Subscribers[0].Received });
    }

    [LabFact(needsClang: true)]
    public async Task A_datagram_too_big_for_the_subscriber_device_once_translated_comes_from_the_relay_socket()
    {
        // 1460 payload bytes: 1488 as IPv4, 1508 as IPv6, over the lab's 1500-byte MTU.
        var (result, kernel) = await Run(new ScenarioOptions
        {
            Mode = RelayMode.FastPath,
            Publishers = [new ScenarioPublisher(ChannelA, AddressFamily.InterNetwork, RatePps: 500, PacketSize: 1460)],
            Subscribers = [new ScenarioSubscriber(0, ChannelA, AddressFamily.InterNetworkV6)],
        });

        var (relay, accepted) = AssertEveryPacketIntact(result);
        // No kernel copy for it: upstream ingress counted each packet as too big and left it to the relay socket.
        Assert.Equal((ulong)accepted, kernel.GetValueOrDefault("egress_family_too_big"));
        Assert.Equal(0UL, kernel.GetValueOrDefault("egress_family_translated"));
        Assert.All(relay.Subscribers, s => Assert.Equal(0UL, s.Forwarded));
    }

    /// <summary>Every subscriber got every packet the relay accepted from the publisher, once, byte-identical to what the
    /// publisher wrote (the payload pattern is derived from (channel, publisher sequence)); a wrong checksum would have been
    /// dropped by the subscriber's kernel and shown as a gap. The reference is the relay's count rather than the
    /// publisher's: the harness starts publishers on a fixed delay, and a packet sent before the relay confirmed the
    /// publisher is refused for every subscriber alike.</summary>
    private static (FastRelay.Protocols.CustomUdp.Relay.RelayStatus Relay, long Accepted) AssertEveryPacketIntact(ScenarioResult result)
    {
        var relay = Assert.IsType<FastRelay.Protocols.CustomUdp.Relay.RelayStatus>(result.RelayStatusDuringStream);
        var accepted = (long)relay.Channels.Single(c => c.Channel == ChannelA).UpstreamPackets;
        var sent = result.Publishers.Sum(p => p.PacketsSent);
        Assert.True(accepted > sent * 0.9, $"the relay accepted only {accepted} of the {sent} packets");
        foreach (var (subscriber, index) in result.Subscribers.Select((s, i) => (s, i)))
        {
            Assert.True(subscriber.Subscribed, $"s{index}: {subscriber.Rejection}");
            Assert.Equal(accepted, subscriber.Received + subscriber.Repaired);
            Assert.Equal(0, subscriber.IntegrityErrors);
            Assert.Equal(0, subscriber.RepeatedPublisherPackets);
            Assert.Equal(0, subscriber.WrongChannel);
            Assert.Equal(0, subscriber.Duplicates);
            Assert.Equal(0, subscriber.UnrepairedGaps);
        }
        return (relay, accepted);
    }

    /// <summary>Runs the scenario in a lab named frxf*; returns its result and fr_stats summed over CPUs, read once the
    /// stream has ended (the counters are never reset, so a late read loses nothing).</summary>
    private async Task<(ScenarioResult Result, Dictionary<string, ulong> Kernel)> Run(ScenarioOptions options)
    {
        var prefix = "frxf" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2));
        var kernelJson = "";
        var result = await RelayScenario.RunAsync(options with
        {
            LabPrefix = prefix,
            Progress = line => output.WriteLine(line),
            // The scenario gives subscribers a fixed 700 ms to subscribe; on a loaded machine a process can take longer and
            // miss the stream's first packets, which no relay could have given it. Publish once the relay lists them all.
            BeforePublishing = lab => Eventually.TrueAsync(() => SubscribedAtRelay(lab.Prefix) >= options.Subscribers.Count,
                "every subscriber active at the relay", TimeSpan.FromSeconds(30)),
            DuringStream = async (lab, bpffs) => kernelJson = (await CliWrap.Cli.Wrap("bpftool")
                .WithArguments(["-j", "map", "dump", "pinned", Path.Combine(bpffs, "fastrelay", lab.Prefix, "fr_stats")])
                .ExecuteBufferedAsync()).StandardOutput,
        });
        var kernel = SumPerCpu(kernelJson);
        output.WriteLine("kernel: " + string.Join(", ", kernel.Where(k => k.Value != 0).Select(k => $"{k.Key}={k.Value}")));
        foreach (var (s, i) in result.Subscribers.Select((s, i) => (s, i)))
            output.WriteLine($"s{i}: ch {s.Channel} received {s.Received} repaired {s.Repaired} unrepaired {s.UnrepairedGaps} p50 {s.Delay.P50Us} µs");
        if (result.RelayStatusDuringStream is { } status)
            foreach (var s in status.Subscribers)
                output.WriteLine($"relay: {s.Endpoint} ch {s.Channel} kernel-forwarded {s.Forwarded}");
        return (result, kernel);
    }

    /// <summary>bpftool's JSON dump of a per-CPU array with BTF: [{ "formatted": { "values": [{ "cpu", "value": {...} }] } }].</summary>
    private static Dictionary<string, ulong> SumPerCpu(string json)
    {
        var totals = new Dictionary<string, ulong>();
        foreach (var entry in JsonDocument.Parse(json).RootElement.EnumerateArray())
        {
            var formatted = entry.TryGetProperty("formatted", out var f) ? f : entry;
            foreach (var perCpu in formatted.GetProperty("values").EnumerateArray())
                foreach (var counter in perCpu.GetProperty("value").EnumerateObject())
                    totals[counter.Name] = totals.GetValueOrDefault(counter.Name) + counter.Value.GetUInt64();
        }
        return totals;
    }

    private static int SubscribedAtRelay(string instance)
    {
        try
        {
            return FastRelay.Protocols.CustomUdp.Relay.RelayStatus.FromJson(File.ReadAllText(RelayCommand.StatusFile(instance)))?.Subscribers.Count ?? 0;
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return 0; // not written yet, or being rewritten
        }
    }
}
