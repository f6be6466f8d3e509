using System.Net.Sockets;
using System.Text.Json;
using CliWrap;
using CliWrap.Buffered;
using FastRelay.Cli.Relay;
using FastRelay.Cli.Scenario;
using FastRelay.Protocols.CustomUdp.Clients;
using FastRelay.Tests.Lab;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.EndToEnd;

/// <summary>
/// The custom-UDP relay end to end, for real: relay, publishers and subscribers are `fastrelay` processes in their own
/// network namespaces, packets cross veths and a bridge, the fast path runs in the kernel, tx checksum offload is off
/// on every sender (a wrong UDP checksum would be dropped by the receiving kernel and show up as loss).
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class RelayEndToEndTests(ITestOutputHelper output)
{
    private const ushort ChannelA = 1, ChannelB = 2;

    [LabTheory(needsClang: true)]
    [InlineData(RelayMode.FastPath, 2)]
    [InlineData(RelayMode.FastPath, 1)]
    [InlineData(RelayMode.Userspace, 2)]
    [InlineData(RelayMode.Userspace, 1)]
    public async Task Subscribers_on_two_channels_receive_their_channel_complete_and_intact(RelayMode mode, int relayInterfaces)
    {
        var result = await Run(new ScenarioOptions
        {
            Mode = mode,
            RelayInterfaces = relayInterfaces,
            Publishers =
            [
                new ScenarioPublisher(ChannelA, AddressFamily.InterNetwork, RatePps: 800),
                new ScenarioPublisher(ChannelB, AddressFamily.InterNetworkV6, RatePps: 800),
            ],
            Subscribers =
            [
                new ScenarioSubscriber(0, ChannelA),
                new ScenarioSubscriber(1, ChannelA),
                new ScenarioSubscriber(2, ChannelB, AddressFamily.InterNetworkV6),
                new ScenarioSubscriber(3, ChannelB, AddressFamily.InterNetworkV6),
                // IPv6 subscriber of the IPv4 channel: the kernel translates its copies (fr_family.h).
                new ScenarioSubscriber(4, ChannelA, AddressFamily.InterNetworkV6),
            ],
        });

        foreach (var (subscriber, index) in result.Subscribers.Select((s, i) => (s, i)))
        {
            var sent = Sent(result, subscriber.Channel);
            Assert.True(subscriber.Subscribed, $"s{index}: {subscriber.Rejection}");
            Assert.True(sent > 1000, $"publisher of channel {subscriber.Channel} sent only {sent}");
            // Every packet of its channel, each one once, with the payload the publisher wrote (integrity covers
            // byte-identity of the pattern derived from (channel, publisher sequence)), none of the other channel.
            Assert.Equal(sent, subscriber.Received + subscriber.Repaired);
            Assert.Equal(0, subscriber.IntegrityErrors);
            Assert.Equal(0, subscriber.RepeatedPublisherPackets);
            Assert.Equal(0, subscriber.WrongChannel);
            Assert.Equal(0, subscriber.Duplicates);
            Assert.Equal(0, subscriber.UnrepairedGaps);
        }
        if (mode == RelayMode.FastPath)
        {
            // Every subscriber got kernel copies, the cross-family one translated: the kernel counters saw every packet.
            var relay = Assert.IsType<FastRelay.Protocols.CustomUdp.Relay.RelayStatus>(result.RelayStatusDuringStream);
            foreach (var s in relay.Subscribers)
                output.WriteLine($"relay status: slot {s.Slot} {s.Endpoint} channel {s.Channel} forwarded {s.Forwarded}");
            Assert.Equal(5, relay.Subscribers.Count);
            foreach (var s in relay.Subscribers)
                Assert.Equal((ulong)Sent(result, s.Channel), s.Forwarded);
        }
    }

    [LabTheory(needsClang: true)]
    [InlineData(RelayMode.FastPath)]
    [InlineData(RelayMode.Userspace)]
    public async Task A_short_budget_drops_the_least_urgent_priorities_first_and_never_the_most_urgent(RelayMode mode)
    {
        // 1000 pps of 256 bytes = 256 kB/s; a budget of 100 kB/s keeps about 40 %.
        var result = await Run(new ScenarioOptions
        {
            Mode = mode,
            Publishers = [new ScenarioPublisher(ChannelA, RatePps: 1000, PacketSize: 256, Priorities: "0,1,2,3,4,5,6,7")],
            Subscribers =
            [
                new ScenarioSubscriber(0, ChannelA, RateLimitBytesPerSecond: 100_000),
                new ScenarioSubscriber(1, ChannelA),
            ],
        });

        var publisher = Assert.Single(result.Publishers);
        var limited = result.Subscribers[0];
        var unlimited = result.Subscribers[1];
        output.WriteLine("sent per priority:     " + string.Join(" ", publisher.PerPriority));
        output.WriteLine("limited per priority:  " + string.Join(" ", limited.ReceivedByPriority));
        Assert.Equal(publisher.PacketsSent, unlimited.Received);
        Assert.Equal(publisher.PerPriority[0], limited.ReceivedByPriority[0]); // the most urgent level is never dropped
        Assert.True(limited.Received < publisher.PacketsSent * 0.7, $"the budget dropped too little: {limited.Received}/{publisher.PacketsSent}");
        var fractions = limited.ReceivedByPriority.Select((n, p) => (double)n / publisher.PerPriority[p]).ToArray();
        for (var p = 1; p < fractions.Length; p++)
            Assert.True(fractions[p] <= fractions[p - 1] + 0.02, $"priority {p} got {fractions[p]:P0}, more than priority {p - 1} ({fractions[p - 1]:P0})");
        Assert.True(fractions[7] < 0.5 * fractions[1], "the least urgent level must lose most");
    }

    [LabTheory(needsClang: true)]
    [InlineData(RelayMode.FastPath)]
    [InlineData(RelayMode.Userspace)]
    public async Task Two_percent_loss_on_a_subscriber_link_is_fully_repaired_from_the_cache(RelayMode mode)
    {
        var result = await Run(new ScenarioOptions
        {
            Mode = mode,
            Publishers = [new ScenarioPublisher(ChannelA, RatePps: 1000)],
            Subscribers = [new ScenarioSubscriber(0, ChannelA, LossPercent: 2), new ScenarioSubscriber(1, ChannelA)],
        });

        var sent = Sent(result, ChannelA);
        var lossy = result.Subscribers[0];
        Assert.True(lossy.Repaired > sent * 0.005, $"2 % loss should need repairs, got {lossy.Repaired} of {sent}");
        Assert.Equal(sent, lossy.Received + lossy.Repaired);
        Assert.Equal(0, lossy.UnrepairedGaps);
        Assert.Equal(0, lossy.IntegrityErrors);
        Assert.Equal(0, lossy.RepeatedPublisherPackets);
        Assert.Equal(sent, result.Subscribers[1].Received);
    }

    [LabTheory(needsClang: true)]
    [InlineData(RelayMode.FastPath)]
    [InlineData(RelayMode.Userspace)]
    public async Task Repairs_carry_the_right_packets_when_the_budget_breaks_the_numbering(RelayMode mode)
    {
        // Every budget drop breaks the run between the subscriber's numbers and the publisher's (the kernel registers only
        // those breaks); a repair mapped through the wrong run would deliver a publisher packet a second time.
        var result = await Run(new ScenarioOptions
        {
            Mode = mode,
            Publishers = [new ScenarioPublisher(ChannelA, RatePps: 1000, PacketSize: 256, Priorities: "0,1,2,3,4,5,6,7")],
            Subscribers = [new ScenarioSubscriber(0, ChannelA, RateLimitBytesPerSecond: 150_000, LossPercent: 3)],
        });

        var limited = Assert.Single(result.Subscribers);
        var sent = Sent(result, ChannelA);
        output.WriteLine($"sent {sent}, received {limited.Received}, repaired {limited.Repaired}, not sent {limited.NotSentByRelay}");
        output.WriteLine(limited.ToSummary());
        Assert.True(limited.NotSentByRelay > sent * 0.2, $"the budget should have dropped packets: {limited.NotSentByRelay} of {sent}");
        Assert.True(limited.Repaired > 0, "3 % loss should need repairs");
        // Every loss repaired, with the right packet (the checks below cover late repairs too). A repair that came after
        // the subscriber had given its gap up (FilledLate, printed above) counts: on two shared cores under load the relay
        // is at times not scheduled within the subscriber's ~100 ms of NACKs, and what this test is about is which
        // packet a repair carries, not how fast a starved process answers.
        Assert.Equal(0, limited.UnrepairedGaps);
        Assert.Equal(0, limited.IntegrityErrors);
        Assert.Equal(0, limited.RepeatedPublisherPackets);
        // Drops before the first or after the last packet delivered fall outside the span NotSentByRelay counts.
        Assert.InRange(limited.Received + limited.Repaired + limited.NotSentByRelay, sent - 16, sent);
    }

    [LabFact(needsClang: true)]
    public async Task Churn_joiners_and_leavers_mid_stream_and_a_refused_subscriber_beyond_the_maximum()
    {
        string? leftoverEndpoints = null, activeSlots = null;
        var result = await Run(new ScenarioOptions
        {
            RelayMaxSubscribers = 3,
            DurationSeconds = 6,
            Publishers = [new ScenarioPublisher(ChannelA, RatePps: 500)],
            // Each step follows what the relay did (its status), not a clock: slow process start-ups cannot reorder them.
            Subscribers =
            [
                // The whole stream.
                new ScenarioSubscriber(0, ChannelA),
                // Leaves mid-stream, once the relay has refused the fourth.
                new ScenarioSubscriber(1, ChannelA, StopWhen: s => s.Totals.Refused >= 1),
                // Joins mid-stream (after a second of it), asks for history.
                new ScenarioSubscriber(2, ChannelA, HistoryMs: 500, StartWhen: s => s.Channels.Any(c => c.UpstreamPackets >= 500)),
                // One too many while 0, 1 and 2 are in.
                new ScenarioSubscriber(3, ChannelA, StartWhen: s => s.Subscribers.Count >= 3),
            ],
            DuringStream = async (lab, bpffs) =>
            {
                leftoverEndpoints = await Bpftool("map", "dump", "pinned", Path.Combine(bpffs, "fastrelay", lab.Prefix, "fr_sub_by_endpoint"));
                activeSlots = await Bpftool("map", "dump", "pinned", Path.Combine(bpffs, "fastrelay", lab.Prefix, "fr_subscribers"));
            },
        });

        var whole = result.Subscribers[0];
        var leaver = result.Subscribers[1];
        var joiner = result.Subscribers[2];
        Assert.Equal(Sent(result, ChannelA), whole.Received + whole.Repaired);
        Assert.True(leaver.Received > 0 && leaver.Received < whole.Received, $"the leaver got {leaver.Received}");
        Assert.True(joiner.Received > 0 && joiner.Received < whole.Received, $"the joiner got {joiner.Received}");
        // The late joiner asked for 500 ms of history: about 250 packets at 500 pps replayed from the cache.
        Assert.InRange(joiner.History, 100, 400);
        Assert.Equal(0, joiner.UnrepairedGaps + leaver.UnrepairedGaps + whole.UnrepairedGaps);
        // 3 allowed: s0, s1 and s2 were in when s3 asked, so the relay refused it (RelayFull) while the others went on
        // undisturbed (s0 complete above); s1 left only then.
        Assert.True(result.RelayStatusDuringStream!.Totals.Refused >= 1, "the subscriber beyond the maximum was not refused");
        Assert.True(result.Subscribers[3].HandshakeAttempts > 1 || !result.Subscribers[3].Subscribed,
            "the subscriber beyond the maximum must not be accepted on its first attempt");
        Assert.Contains(result.RelayLog.Split('\n'), l => l.Contains("removed: unsubscribed"));
        // Once the leaver is gone, nothing of it is left in the kernel maps: only the endpoints of live subscribers.
        var live = result.RelayStatusDuringStream!.Subscribers.Select(s => s.Endpoint).ToList();
        Assert.Equal(live.Count, CountEntries(leftoverEndpoints!));
        Assert.Equal(live.Count, CountActive(activeSlots!));
    }

    private async Task<ScenarioResult> Run(ScenarioOptions options)
    {
        var result = await RelayScenario.RunAsync(options with { Progress = line => output.WriteLine(line) });
        foreach (var (s, i) in result.Subscribers.Select((s, i) => (s, i)))
            output.WriteLine($"s{i}: ch {s.Channel} received {s.Received} repaired {s.Repaired} unrepaired {s.UnrepairedGaps} " +
                             $"filled late {s.FilledLate} re-subscribed {s.Resubscribes} p50 {s.Delay.P50Us} µs");
        // When each subscriber came and went: a late acceptance or a re-subscription explains most surprises.
        foreach (var line in result.RelayLog.Split('\n').Where(l => l.Contains(" accepted on channel ") || l.Contains(" removed: ")))
            output.WriteLine("relay: " + line.Trim());
        return result;
    }

    private static long Sent(ScenarioResult result, int channel) => result.Publishers.Where(p => p.Channel == channel).Sum(p => p.PacketsSent);

    private static async Task<string> Bpftool(params string[] args) =>
        (await CliWrap.Cli.Wrap("bpftool").WithArguments(["-j", .. args]).ExecuteBufferedAsync()).StandardOutput;

    private static int CountEntries(string bpftoolJson) => JsonDocument.Parse(bpftoolJson).RootElement.GetArrayLength();

    private static int CountActive(string bpftoolJson) =>
        JsonDocument.Parse(bpftoolJson).RootElement.EnumerateArray()
            .Count(e => e.GetProperty("formatted").GetProperty("value").GetProperty("active").GetUInt32() == 1);
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EndToEndCollection
{
    // Scenarios start many processes and measure delivery; they run one at a time.
    public const string Name = "FastRelay.EndToEnd";
}
