using System.Net.Sockets;
using CliWrap.Buffered;
using System.Security.Cryptography;
using FastRelay.Cli.Relay;
using FastRelay.Cli.Scenario;
using FastRelay.Cli.Commands;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.EndToEnd;

/// <summary>
/// The custom-UDP fast path with subscribers of the other IP family than their channel's publisher, for real (separate
/// processes, namespaces named frxf*, veths, tx checksum offload off): the kernel translates their copies (IPv4 to IPv6
/// and back, bpf-templates/include/fr_family.h) and only a datagram whose translated copy would not fit the subscriber's
/// device reaches it through the relay socket.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class CrossFamilyEndToEndTests(ITestOutputHelper output)
{
    private const ushort ChannelA = 1;

    // One publisher per run: the relay's status is taken once the publishers have ended, and a subscriber whose channel
    // went quiet earlier than another's re-subscribes after 1 s and starts its counters again.
    [LabTheory(needsClang: true)]
    [InlineData(AddressFamily.InterNetwork)]
    [InlineData(AddressFamily.InterNetworkV6)]
    public async Task A_subscriber_of_the_other_family_gets_every_packet_intact_from_the_kernel(AddressFamily publisher)
    {
        var other = publisher == AddressFamily.InterNetwork ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        var result = await Run(new ScenarioOptions
        {
            Mode = RelayMode.FastPath,
            Publishers = [new ScenarioPublisher(ChannelA, publisher, RatePps: 800)],
            Subscribers =
            [
                new ScenarioSubscriber(0, ChannelA, other),
                new ScenarioSubscriber(1, ChannelA, publisher), // same family, for comparison
            ],
        });

        var relay = AssertEveryPacketIntact(result);
        // The per-subscriber kernel counters: every packet each one received went out as a kernel copy, translated or not.
        Assert.Equal(2, relay.Subscribers.Count);
        foreach (var s in relay.Subscribers)
            Assert.Equal((ulong)Received(result, s), s.Forwarded);
    }

    [LabFact(needsClang: true)]
    public async Task A_datagram_too_big_for_the_subscriber_device_once_translated_comes_from_the_relay_socket()
    {
        // 1460 payload bytes: 1488 as IPv4, 1508 as IPv6, over the lab's 1500-byte MTU.
        var result = await Run(new ScenarioOptions
        {
            Mode = RelayMode.FastPath,
            Publishers = [new ScenarioPublisher(ChannelA, AddressFamily.InterNetwork, RatePps: 500, PacketSize: 1460)],
            Subscribers =
            [
                new ScenarioSubscriber(0, ChannelA, AddressFamily.InterNetworkV6),
                new ScenarioSubscriber(1, ChannelA),
            ],
        });

        var relay = AssertEveryPacketIntact(result);
        Assert.Equal(2, relay.Subscribers.Count);
        foreach (var s in relay.Subscribers)
        {
            var v6 = s.Endpoint.StartsWith('[');
            // The IPv4 subscriber's copies fit: the kernel's. The IPv6 one's would not: none from the kernel.
            Assert.Equal(v6 ? 0UL : (ulong)Received(result, s), s.Forwarded);
        }
    }

    /// <summary>Every subscriber got every packet the relay accepted from the publisher, once, byte-identical to what the
    /// publisher wrote (the payload pattern is derived from (channel, publisher sequence)); a wrong checksum would have been
    /// dropped by the subscriber's kernel and shown as a gap. The reference is the relay's count rather than the
    /// publisher's: the harness starts publishers on a fixed delay, and a packet sent before the relay confirmed the
    /// publisher is refused for every subscriber alike.</summary>
    private static FastRelay.Protocols.CustomUdp.Relay.RelayStatus AssertEveryPacketIntact(ScenarioResult result)
    {
        var relay = Assert.IsType<FastRelay.Protocols.CustomUdp.Relay.RelayStatus>(result.RelayStatusDuringStream);
        foreach (var (subscriber, index) in result.Subscribers.Select((s, i) => (s, i)))
        {
            var sent = Sent(result, subscriber.Channel);
            var accepted = (long)relay.Channels.Single(c => c.Channel == subscriber.Channel).UpstreamPackets;
            Assert.True(subscriber.Subscribed, $"s{index}: {subscriber.Rejection}");
            Assert.True(accepted > sent * 0.9, $"the relay accepted only {accepted} of the {sent} packets of channel {subscriber.Channel}");
            Assert.Equal(accepted, subscriber.Received + subscriber.Repaired);
            Assert.Equal(0, subscriber.IntegrityErrors);
            Assert.Equal(0, subscriber.RepeatedPublisherPackets);
            Assert.Equal(0, subscriber.WrongChannel);
            Assert.Equal(0, subscriber.Duplicates);
            Assert.Equal(0, subscriber.UnrepairedGaps);
        }
        return relay;
    }

    /// <summary>What the subscriber behind a status line received (each run has one subscriber per family).</summary>
    private long Received(ScenarioResult result, FastRelay.Protocols.CustomUdp.Relay.SubscriberStatus s)
    {
        var family = s.Endpoint.StartsWith('[') ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        var index = _subscribers.Select((r, i) => (r, i)).Single(x => x.r.Family == family).i;
        return result.Subscribers[index].Received;
    }

    private IReadOnlyList<ScenarioSubscriber> _subscribers = [];

    private async Task<ScenarioResult> Run(ScenarioOptions options)
    {
        _subscribers = options.Subscribers;
        var prefix = "frxf" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2));
        var kernelStats = "";
        var result = await RelayScenario.RunAsync(options with
        {
            LabPrefix = prefix,
            Progress = line => output.WriteLine(line),
            // The scenario gives subscribers a fixed 700 ms to subscribe; on a loaded machine a process can take longer and
            // miss the stream's first packets, which no relay could have given it. Publish once the relay lists them all.
            BeforePublishing = lab => Eventually.TrueAsync(() => SubscribedAtRelay(lab.Prefix) >= options.Subscribers.Count,
                "every subscriber active at the relay", TimeSpan.FromSeconds(30)),
            // The relay-wide kernel counters (per CPU), for the record: translated copies, too-big ones, drops.
            DuringStream = async (lab, bpffs) => kernelStats = (await CliWrap.Cli.Wrap("bpftool")
                .WithArguments(["map", "dump", "pinned", Path.Combine(bpffs, "fastrelay", lab.Prefix, "fr_stats")])
                .WithValidation(CliWrap.CommandResultValidation.None)
                .ExecuteBufferedAsync()).StandardOutput,
        });
        output.WriteLine(kernelStats);
        foreach (var (s, i) in result.Subscribers.Select((s, i) => (s, i)))
            output.WriteLine($"s{i}: ch {s.Channel} received {s.Received} repaired {s.Repaired} unrepaired {s.UnrepairedGaps}");
        if (result.RelayStatusDuringStream is { } status)
            foreach (var s in status.Subscribers)
                output.WriteLine($"relay: {s.Endpoint} ch {s.Channel} kernel-forwarded {s.Forwarded}");
        return result;
    }

    private static int SubscribedAtRelay(string instance)
    {
        try
        {
            return FastRelay.Protocols.CustomUdp.Relay.RelayStatus.FromJson(File.ReadAllText(RelayCommand.StatusFile(instance)))?.Subscribers.Count ?? 0;
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException)
        {
            return 0; // not written yet, or being rewritten
        }
    }

    private static long Sent(ScenarioResult result, int channel) => result.Publishers.Where(p => p.Channel == channel).Sum(p => p.PacketsSent);
}
