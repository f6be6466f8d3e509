using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using FastRelay.Cli;
using FastRelay.Cli.Relay;
using FastRelay.Examples.MoldUdp64;
using FastRelay.Relay;
using FastRelay.Relay.Retransmission;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace FastRelay.Tests.GenericRelay;

/// <summary>
/// The generic host's retransmission service without a kernel: the MoldUDP64 request format (well-formed requests read,
/// malformed and oversized ones refused), the userspace history's bounds (packets, bytes, channels) and range lookup,
/// the per-requester budget, the rule that only a subscriber of the channel is answered, the check of what reaches the
/// fast path's socket against the plan, and the configuration section. The loopback test at the end sends real
/// datagrams through the userspace plane and the request socket.
/// </summary>
public sealed class RetransmissionTests
{
    private const string Session = "NQTEST0001";
    private static readonly IPEndPoint Publisher = IPEndPoint.Parse("10.0.0.2:40000");
    private static readonly IPEndPoint Subscriber = IPEndPoint.Parse("10.1.0.2:26400");
    private static readonly MoldUdp64Retransmission Mold = new();
    private static readonly ProtocolFeatures MoldFeatures = ProtocolFeatures.Of(MoldUdp64HeaderFastPath.Protocol);
    private static readonly ProtocolFeatures TickFeatures = ProtocolFeatures.Of(SampleProtocol.TickHeaderFastPath.Protocol);
    private static readonly ulong Channel = new MoldUdp64Feed(Session, 1, seed: 1).Channel;

    private static byte[] Request(string session, ulong first, ushort count)
    {
        var request = new byte[20];
        MoldUdp64Feed.SessionBytes(session).CopyTo(request, 0);
        BinaryPrimitives.WriteUInt64BigEndian(request.AsSpan(10), first);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(18), count);
        return request;
    }

    private static RelayPlan PlanWith(IPEndPoint? upstream, params IPEndPoint[] subscribers) =>
        new([new ChannelPlan(Channel, upstream, subscribers.Select(s => new SubscriberPlan(s)).ToList())]);

    private static RetransmissionService Service(RelayPlan plan, RetransmissionOptions? options = null, Func<long>? clock = null) =>
        new(Mold, DescriptorFields.Of(typeof(MoldUdp64Header)), () => plan, options ?? new RetransmissionOptions(), 4, NullLogger.Instance, clock);

    [Fact]
    public void A_moldudp64_request_is_read_and_malformed_or_oversized_ones_are_refused_with_a_reason()
    {
        Assert.Null(Mold.TryParseRequest(Request(Session, 42, 3), out var request));
        Assert.Equal(new RetransmitRequest(Channel, 42, 3), request);

        var oversized = Request(Session, 42, 3).Concat(new byte[1]).ToArray();
        Assert.Contains("exactly 20 bytes", Mold.TryParseRequest(oversized, out _));
        Assert.Contains("exactly 20 bytes", Mold.TryParseRequest(new byte[65507], out _));
        Assert.Contains("exactly 20 bytes", Mold.TryParseRequest(Request(Session, 42, 3).AsSpan(0, 19), out _));
        Assert.Contains("exactly 20 bytes", Mold.TryParseRequest([], out _));
        Assert.Contains("asks for nothing", Mold.TryParseRequest(Request(Session, 42, 0), out _));
        Assert.Contains("asks for nothing", Mold.TryParseRequest(Request(Session, 42, 0xFFFF), out _));
        Assert.Contains("start at 1", Mold.TryParseRequest(Request(Session, 0, 5), out _));
        Assert.Contains("past the largest", Mold.TryParseRequest(Request(Session, ulong.MaxValue - 1, 5), out _));

        // Every 20-byte pattern is either refused or read into a range that does not wrap: no exception, ever.
        var random = new Random(14);
        var bytes = new byte[20];
        for (var i = 0; i < 10_000; i++)
        {
            random.NextBytes(bytes);
            if (Mold.TryParseRequest(bytes, out var r) is null)
                Assert.True(r.Count > 0 && r.First + r.Count > r.First);
        }
    }

    [Fact]
    public void Heartbeats_end_of_session_and_short_packets_are_not_kept_and_a_data_packet_carries_its_message_range()
    {
        var feed = new MoldUdp64Feed(Session, 100, seed: 3);
        var packet = feed.NextPacket();
        Assert.True(Mold.TryDescribe(packet, out var span));
        Assert.Equal(new SequenceSpan(Channel, 100, MoldUdp64Feed.Parse(packet).Count), span);
        Assert.False(Mold.TryDescribe(feed.Heartbeat(), out _));
        Assert.False(Mold.TryDescribe(feed.EndOfSession(), out _));
        Assert.False(Mold.TryDescribe(packet.AsSpan(0, 19), out _));
    }

    [Fact]
    public void The_history_answers_the_packets_that_hold_the_requested_messages_in_order_and_forgets_the_oldest_at_its_bounds()
    {
        var ring = new UpstreamRing(packetsPerChannel: 8, bytesPerChannel: 1 << 20, maxChannels: 1);
        var feed = new MoldUdp64Feed(Session, 1, seed: 5);
        var packets = Enumerable.Range(0, 20).Select(_ => feed.NextPacket()).ToList();
        foreach (var p in packets)
        {
            Assert.True(Mold.TryDescribe(p, out var span));
            ring.Record(span, p);
        }
        // Only the last 8 are kept.
        var first = MoldUdp64Feed.Parse(packets[12]);
        var extent = ring.Extent(Channel)!.Value;
        Assert.Equal((first.Sequence, MoldUdp64Feed.Parse(packets[19]).Next - 1, 8), (extent.Lowest, extent.Highest, extent.Packets));
        Assert.Empty(ring.Find(Channel, MoldUdp64Feed.Parse(packets[11]).Sequence, 1, 64));

        // A range from the middle of packet 13 to the first message of packet 15 is packets 13, 14, 15, byte for byte.
        var p13 = MoldUdp64Feed.Parse(packets[13]);
        var p15 = MoldUdp64Feed.Parse(packets[15]);
        var found = ring.Find(Channel, p13.Next - 1, p15.Sequence - (p13.Next - 1) + 1, 64);
        Assert.Equal([packets[13], packets[14], packets[15]], found);
        // At most maxPackets, the first ones.
        Assert.Equal([packets[12], packets[13]], ring.Find(Channel, 1, 10_000, 2));

        // A second channel does not fit: not kept, counted.
        var other = new MoldUdp64Feed("NQOTHER001", 1, seed: 6).NextPacket();
        Assert.True(Mold.TryDescribe(other, out var otherSpan));
        ring.Record(otherSpan, other);
        Assert.Null(ring.Extent(otherSpan.Channel));
        Assert.Equal(1, ring.RefusedChannelFull);

        // The byte bound: with room for about three packets, only the newest ones stay.
        var small = new UpstreamRing(packetsPerChannel: 100, bytesPerChannel: packets.Take(3).Sum(p => p.Length), maxChannels: 1);
        foreach (var p in packets)
        {
            Mold.TryDescribe(p, out var span);
            small.Record(span, p);
        }
        Assert.True(small.Extent(Channel)!.Value.Bytes <= packets.Take(3).Sum(p => p.Length));
        Assert.Equal(packets[19], small.Find(Channel, 1, 10_000, 100)[^1]);

        ring.Forget(Channel);
        Assert.Empty(ring.Find(Channel, 1, 10_000, 64));
    }

    [Fact]
    public void Only_a_subscriber_of_the_channel_is_answered_within_its_budget_and_another_session_is_not_answered_with_this_one()
    {
        var now = 0L;
        var plan = PlanWith(Publisher, Subscriber);
        var feed = new MoldUdp64Feed(Session, 1, seed: 7);
        var packets = Enumerable.Range(0, 10).Select(_ => feed.NextPacket()).ToList();
        var budget = packets[0].Length + packets[1].Length + packets[2].Length;
        var service = Service(plan, new RetransmissionOptions(BytesPerSecond: 1000, BurstBytes: budget), () => now);
        foreach (var p in packets)
            service.OfferUpstream(p, Publisher);

        // From the subscriber's address, another port: answered, but only as far as its budget goes (three packets).
        var fromSubscriber = new IPEndPoint(Subscriber.Address, 50000);
        Assert.Equal(packets.Take(3), service.Answer(Request(Session, 1, 0xFFFE), fromSubscriber));
        Assert.Empty(service.Answer(Request(Session, 1, 1), fromSubscriber)); // budget spent
        now += packets[0].Length + 1;                                           // 1 byte per ms: refilled by one packet's bytes
        Assert.Equal([packets[0]], service.Answer(Request(Session, 1, 1), fromSubscriber));

        // Not a subscriber (the publisher itself, a stranger): refused whatever it asks.
        Assert.Empty(service.Answer(Request(Session, 1, 1), new IPEndPoint(IPAddress.Parse("10.9.9.9"), 26400)));
        Assert.Empty(service.Answer(Request(Session, 1, 1), Publisher));
        // The same 8 key bytes under another 2-byte session head: not this session's packets.
        now += 1_000_000;
        Assert.Empty(service.Answer(Request("XXTEST0001", 1, 1), fromSubscriber));
        Assert.Empty(service.Answer(Request(Session, 1, 0), fromSubscriber));

        var counters = service.Counters();
        Assert.Equal((7L, 2L, 1L, 2L, 4L), (counters.Requests, counters.NotSubscriber, counters.Malformed, counters.Answered, counters.PacketsSent));
        Assert.True(counters.CutByBudget >= 2);
    }

    [Fact]
    public void A_requesters_budget_refills_at_its_rate_up_to_its_burst_even_when_it_asks_more_often_than_a_byte_a_time()
    {
        var now = 0L;
        var budget = new RequesterBudget(bytesPerSecond: 500, burstBytes: 100, () => now);
        Assert.True(budget.TryTake(Channel, Subscriber, 100));  // a new requester starts full
        Assert.False(budget.TryTake(Channel, Subscriber, 1));
        // Half a byte per millisecond: asking every millisecond for 200 ms buys 100 bytes, not nothing.
        var taken = 0;
        for (var i = 0; i < 200; i++)
        {
            now++;
            if (budget.TryTake(Channel, Subscriber, 10))
                taken += 10;
        }
        Assert.Equal(100, taken);
        now += 1_000_000;
        Assert.False(budget.TryTake(Channel, Subscriber, 101)); // never more than the burst
        Assert.True(budget.TryTake(Channel, Subscriber, 100));
        // Another subscriber has its own bucket; one that left the plan is forgotten.
        Assert.True(budget.TryTake(Channel, IPEndPoint.Parse("10.1.0.3:26400"), 100));
        budget.Retain((_, s) => s.Equals(Subscriber));
        Assert.Equal(1, budget.Count);
    }

    [Fact]
    public void What_reaches_the_fast_paths_socket_is_kept_only_when_the_kernel_forwards_it_and_a_new_sender_starts_a_new_history()
    {
        var plan = PlanWith(Publisher, Subscriber);
        var service = Service(plan);
        var feed = new MoldUdp64Feed(Session, 1, seed: 8);
        var packet = feed.NextPacket();
        service.OfferUpstream(packet, IPEndPoint.Parse("10.0.0.3:40000"));           // a sender not allowed
        service.OfferUpstream(packet, IPEndPoint.Parse("10.0.0.2:40001"));           // right address, wrong port
        service.OfferUpstream(new MoldUdp64Feed("NQOTHER001", 1, seed: 9).NextPacket(), Publisher); // no such channel
        var notAscii = (byte[])packet.Clone();
        notAscii[0] = 0x80;                                                          // the descriptor's match fails
        service.OfferUpstream(notAscii, Publisher);
        Assert.Null(service.History.Extent(Channel));
        service.OfferUpstream(packet, new IPEndPoint(IPAddress.Parse("10.0.0.2").MapToIPv6(), 40000)); // dual-stack form
        Assert.Equal(1, service.History.Extent(Channel)!.Value.Packets);

        // With any sender allowed, the channel's own subscribers are still not upstream.
        var open = Service(PlanWith(null, Subscriber));
        open.OfferUpstream(packet, Subscriber);
        Assert.Null(open.History.Extent(Channel));

        // The plan changes the channel's sender: the old publisher's packets are never answered again.
        var current = plan;
        var switching = new RetransmissionService(Mold, DescriptorFields.Of(typeof(MoldUdp64Header)), () => current, new RetransmissionOptions(), 4, NullLogger.Instance);
        switching.OfferUpstream(packet, Publisher);
        var newPublisher = IPEndPoint.Parse("10.0.0.5:40000");
        current = PlanWith(newPublisher, Subscriber);
        var replacement = new MoldUdp64Feed(Session, 500, seed: 10).NextPacket();
        switching.OfferUpstream(replacement, newPublisher);
        Assert.Equal([replacement], switching.History.Find(Channel, 1, 10_000, 64));
        // The channel leaves the plan: its history goes.
        current = RelayPlan.Empty;
        switching.RecordForwarded(replacement);
        Assert.Null(switching.History.Extent(Channel));
    }

    [Fact]
    public void The_configuration_section_is_opt_in_checked_key_by_key_and_refused_for_descriptors_without_a_passed_through_sequence()
    {
        Assert.Null(RetransmissionConfig.Parse("""{ "channels": [] }""", "relay.json", MoldFeatures));
        var config = RetransmissionConfig.Parse("""{ "retransmission": { "format": "moldudp64", "port": 26478, "packetsPerRequest": 8, } }""", "relay.json", MoldFeatures)!;
        Assert.Equal(("moldudp64", 26478, 8, new RetransmissionOptions().PacketsPerChannel), (config.Format.Name, config.Port, config.Options.PacketsPerRequest, config.Options.PacketsPerChannel));

        void Refused(string json, string expected, ProtocolFeatures? features = null) =>
            Assert.Contains(expected, Assert.Throws<UserFacingException>(() => RetransmissionConfig.Parse(json, "relay.json", features ?? MoldFeatures)).Message);
        Refused("""{ "retransmission": { "port": 26478 } }""", "relay.json: retransmission.format: missing");
        Refused("""{ "retransmission": { "format": "itch", "port": 26478 } }""", "\"itch\" is not a known format");
        Refused("""{ "retransmission": { "format": "moldudp64" } }""", "retransmission.port: missing");
        Refused("""{ "retransmission": { "format": "moldudp64", "port": 70000 } }""", "retransmission.port: expected an integer in 1..65535");
        Refused("""{ "retransmission": { "format": "moldudp64", "port": 1, "packetsPerRequest": 5000 } }""", "retransmission.packetsPerRequest");
        Refused("""{ "retransmission": { "format": "moldudp64", "port": 1, "speed": 1 } }""", "retransmission.speed: unknown key");
        Refused("""{ "retransmission": [] }""", "retransmission: expected an object");
        Refused("""{ "retransmission": { "format": "moldudp64", "port": 1 } }""", "renumbers per subscriber", TickFeatures);

        // The example's section is valid, and the command's option reader leaves it to the relay (not an unknown option).
        var example = Path.Combine(FastRelay.Tests.Infrastructure.RepoPaths.Root, "examples", "moldudp64", "relay.json");
        var fromExample = RetransmissionConfig.Load(example, MoldFeatures)!;
        Assert.Equal(("moldudp64", 26478, 262144L), (fromExample.Format.Name, fromExample.Port, fromExample.Options.BurstBytes));
        var expanded = ConfigFile.Expand(CliRoot.Create(), ["relay", "--config", example]);
        Assert.DoesNotContain("--retransmission", expanded);
    }

    [Fact]
    public void The_status_file_carries_the_services_counters_and_fastrelay_status_prints_them()
    {
        var status = new GenericRelayStatus(GenericRelayStatus.KindName, "frrt-x", "fastpath", "moldudp64", typeof(MoldUdp64Header).FullName!, 26477, 1, DateTimeOffset.Now,
            "passed through", [], [], [], 0, new Dictionary<string, ulong>(),
            Retransmission: new GenericRetransmissionStatus("moldudp64", 26478, new RetransmissionCounters(15, 1, 1, 13, 20, 2657, 0, 0, 120)));
        var read = GenericRelayStatus.FromJson(status.ToJson())!;
        Assert.Equal(status.Retransmission, read.Retransmission);
        var text = new StringWriter();
        read.Print(text, running: true);
        Assert.Contains("retransmission (moldudp64, UDP 26478): 15 requests, 13 answered with 20 packets (2657 bytes); refused: 1 malformed, 1 not from a subscriber", text.ToString());
        Assert.Contains("120 upstream packets kept", text.ToString());
    }

    [Fact]
    public void On_loopback_a_request_to_the_request_port_is_answered_with_the_forwarded_packets_byte_for_byte()
    {
        using var relay = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = true };
        relay.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        using var requests = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = true };
        requests.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        using var publisher = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        publisher.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var receiver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 10_000 };
        receiver.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var receiverEndpoint = (IPEndPoint)receiver.LocalEndPoint!;

        var plan = PlanWith((IPEndPoint)publisher.LocalEndPoint!, receiverEndpoint);
        var service = Service(plan);
        using var plane = new UserspaceFanOut(DescriptorFields.Of(typeof(MoldUdp64Header)), 4, relay);
        plane.OnAccepted = service.RecordForwarded;
        plane.Activate(new KernelSubscriber(0, Channel, receiverEndpoint, new IPEndPoint(IPAddress.Loopback, 0), 0, new byte[6], new byte[6]));
        plane.SetChannel(Channel, (IPEndPoint)publisher.LocalEndPoint!, [0]);
        using var cancel = new CancellationTokenSource();
        var copyLoop = Task.Run(() => plane.Run(relay, cancel.Token));
        var requestLoop = Task.Run(() => service.Run(requests, cancel.Token));
        try
        {
            var relayAt = new IPEndPoint(IPAddress.Loopback, ((IPEndPoint)relay.LocalEndPoint!).Port);
            var feed = new MoldUdp64Feed(Session, 1, seed: 11);
            var sent = Enumerable.Range(0, 12).Select(_ => feed.NextPacket()).ToList();
            var buffer = new byte[65536];
            foreach (var p in sent)
            {
                publisher.SendTo(p, relayAt); // one at a time: loopback does not drop what is read before the next is sent
                Assert.Equal(p, buffer.AsSpan(0, receiver.Receive(buffer)).ToArray());
            }
            // The receiver "lost" packets 4..6: it asks for their messages from its own socket.
            var from = MoldUdp64Feed.Parse(sent[4]).Sequence;
            var to = MoldUdp64Feed.Parse(sent[6]).Next;
            receiver.SendTo(Request(Session, from, (ushort)(to - from)), new IPEndPoint(IPAddress.Loopback, ((IPEndPoint)requests.LocalEndPoint!).Port));
            for (var i = 4; i <= 6; i++)
                Assert.Equal(sent[i], buffer.AsSpan(0, receiver.Receive(buffer)).ToArray());
            Assert.Equal(3, service.Counters().PacketsSent);
        }
        finally
        {
            cancel.Cancel();
            relay.Close();
            requests.Close();
            Task.WaitAll([copyLoop, requestLoop], TimeSpan.FromSeconds(5));
        }
    }
}
