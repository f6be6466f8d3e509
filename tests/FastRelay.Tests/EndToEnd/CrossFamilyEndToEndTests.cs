using System.Net.Sockets;
using CliWrap.Buffered;
using System.Security.Cryptography;
using FastRelay.Cli.Relay;
using FastRelay.Cli.Scenario;
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
    private const ushort ChannelA = 1, ChannelB = 2;

    [LabFact(needsClang: true)]
    public async Task Subscribers_of_the_other_family_get_every_packet_intact_from_the_kernel()
    {
        var result = await Run(new ScenarioOptions
        {
            Mode = RelayMode.FastPath,
            Publishers =
            [
                new ScenarioPublisher(ChannelA, AddressFamily.InterNetwork, RatePps: 800),
                new ScenarioPublisher(ChannelB, AddressFamily.InterNetworkV6, RatePps: 800),
            ],
            Subscribers =
            [
                new ScenarioSubscriber(0, ChannelA, AddressFamily.InterNetworkV6), // IPv4 channel, IPv6 subscriber
                new ScenarioSubscriber(1, ChannelB, AddressFamily.InterNetwork), // IPv6 channel, IPv4 subscriber
                new ScenarioSubscriber(2, ChannelA), // same family, for comparison
            ],
        });

        AssertEveryPacketIntact(result);
        var relay = Assert.IsType<FastRelay.Protocols.CustomUdp.Relay.RelayStatus>(result.RelayStatusDuringStream);
        Assert.Equal(3, relay.Subscribers.Count);
        // The per-subscriber kernel counters: every packet of the channel went out as a kernel copy, translated or not.
        foreach (var s in relay.Subscribers)
            Assert.Equal((ulong)Sent(result, s.Channel), s.Forwarded);
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

        AssertEveryPacketIntact(result);
        var relay = Assert.IsType<FastRelay.Protocols.CustomUdp.Relay.RelayStatus>(result.RelayStatusDuringStream);
        foreach (var s in relay.Subscribers)
        {
            var v6 = s.Endpoint.StartsWith('[');
            // The IPv4 subscriber's copies fit: the kernel's. The IPv6 one's would not: none from the kernel.
            Assert.Equal(v6 ? 0UL : (ulong)Sent(result, s.Channel), s.Forwarded);
        }
    }

    private static void AssertEveryPacketIntact(ScenarioResult result)
    {
        foreach (var (subscriber, index) in result.Subscribers.Select((s, i) => (s, i)))
        {
            var sent = Sent(result, subscriber.Channel);
            Assert.True(subscriber.Subscribed, $"s{index}: {subscriber.Rejection}");
            Assert.True(sent > 500, $"publisher of channel {subscriber.Channel} sent only {sent}");
            // Every packet once, byte-identical to what the publisher wrote (the payload pattern is derived from (channel,
            // publisher sequence)); a wrong checksum would have been dropped by the subscriber's kernel and show as a gap.
            Assert.Equal(sent, subscriber.Received + subscriber.Repaired);
            Assert.Equal(0, subscriber.IntegrityErrors);
            Assert.Equal(0, subscriber.RepeatedPublisherPackets);
            Assert.Equal(0, subscriber.WrongChannel);
            Assert.Equal(0, subscriber.Duplicates);
            Assert.Equal(0, subscriber.UnrepairedGaps);
        }
    }

    private async Task<ScenarioResult> Run(ScenarioOptions options)
    {
        var prefix = "frxf" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2));
        var kernelStats = "";
        var result = await RelayScenario.RunAsync(options with
        {
            LabPrefix = prefix,
            Progress = line => output.WriteLine(line),
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

    private static long Sent(ScenarioResult result, int channel) => result.Publishers.Where(p => p.Channel == channel).Sum(p => p.PacketsSent);
}
