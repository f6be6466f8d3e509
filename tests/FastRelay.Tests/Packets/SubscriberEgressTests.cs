using System.Buffers.Binary;
using FastRelay.Bpf;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Packets;

/// <summary>fr_subscriber_egress on tagged clones: the rewrite, its checksums, packet numbering and the drops.
/// The egress program is run directly with the mark upstream ingress gives a clone.</summary>
public abstract class SubscriberEgressTests(GeneratedObjects objects, FastPathProtocol protocol)
{
    private const uint Slot = 3;
    private static readonly HeaderFields Fields = new() { Channel = 7, PacketNumber = 0x51, StreamId = 4, Urgency = 1 };

    private RelaySession Session() => new(objects, protocol);

    private static void AssertChecksumsRecomputed(byte[] frame)
    {
        var parsed = ParsedFrame.Parse(frame);
        if (!parsed.IsIpv6)
        {
            var ip = frame.AsSpan(parsed.IpOffset, parsed.IpHeaderLength);
            Assert.Equal(Checksums.Ipv4Header(ip), BinaryPrimitives.ReadUInt16BigEndian(ip[10..]));
        }
        Assert.Equal(Checksums.Udp(frame), parsed.UdpChecksumField(frame));
    }

    [BpfFact]
    public void A_clone_is_rewritten_for_its_subscriber_and_untagged()
    {
        using var s = Session();
        var sub = s.AddSubscriber(Slot, nextPacketNumber: 5000);
        var copy = new CopyCase(protocol, sub, Fields);
        var sid = copy.MapStream(s.Maps, Slot);

        var result = s.SubscriberEgress.Run(new PacketFixture("IPv4 copy", copy.Input, TcAct.Ok, copy.Expected(5000, sid), s.CloneFor(Slot)));

        Assert.Equal(0u, result.Context.Mark);
        AssertChecksumsRecomputed(result.Output);
        Assert.Equal(5001UL, s.Maps.NextPacketNumber(Slot));
        Assert.Equal(new RelayStats { EgressRewritten = 1 }, s.Maps.Stats());
        Assert.Equal(new SubscriberCounters { ForwardedPackets = 1, ForwardedBytes = (ulong)copy.PayloadLength }, s.Maps.SubscriberStats(Slot));
        Assert.Single(s.TakeEvents());
    }

    [BpfFact]
    public void IPv6_copies_are_rewritten_with_a_full_UDP_checksum()
    {
        using var s = Session();
        var sub = s.AddSubscriber(Slot, v6: true, nextPacketNumber: 9);
        var copy = new CopyCase(protocol, sub, Fields);
        var sid = copy.MapStream(s.Maps, Slot);

        var result = s.SubscriberEgress.Run(new PacketFixture("IPv6 copy", copy.Input, TcAct.Ok, copy.Expected(9, sid), s.CloneFor(Slot)));

        AssertChecksumsRecomputed(result.Output);
        Assert.Equal(new RelayStats { EgressRewritten = 1 }, s.Maps.Stats());
    }

    [BpfFact]
    public void IPv4_headers_with_options_are_rewritten_with_a_correct_header_checksum()
    {
        using var s = Session();
        var sub = s.AddSubscriber(Slot, nextPacketNumber: 100);
        ulong pn = 100;
        for (var ihl = 6; ihl <= 15; ihl++)
        {
            var options = Enumerable.Range(0, (ihl - 5) * 4).Select(i => (byte)(i % 4 == 3 ? 0x01 : 0x94 ^ i)).ToArray();
            var copy = new CopyCase(protocol, sub, Fields) { Upstream = Frames.FromUpstream(protocol) with { Ipv4Options = options } };
            var sid = copy.MapStream(s.Maps, Slot);
            var result = s.SubscriberEgress.Run(new PacketFixture($"IHL {ihl}", copy.Input, TcAct.Ok, copy.Expected(pn++, sid), s.CloneFor(Slot)));
            AssertChecksumsRecomputed(result.Output);
        }
    }

    [BpfFact]
    public void An_IPv4_UDP_checksum_of_zero_stays_zero()
    {
        using var s = Session();
        var sub = s.AddSubscriber(Slot);
        var copy = new CopyCase(protocol, sub, Fields) { Upstream = Frames.FromUpstream(protocol) with { UdpChecksum = false }, Tail = Frames.Tail(37) };
        var sid = copy.MapStream(s.Maps, Slot);
        Assert.Equal(0, ParsedFrame.Parse(copy.Input).UdpChecksumField(copy.Input));

        var result = s.SubscriberEgress.Run(new PacketFixture("no UDP checksum", copy.Input, TcAct.Ok, copy.Expected(0, sid), s.CloneFor(Slot)));
        Assert.Equal(0, ParsedFrame.Parse(result.Output).UdpChecksumField(result.Output));
    }

    [BpfFact]
    public void A_UDP_checksum_that_computes_to_zero_is_sent_as_FFFF()
    {
        foreach (var v6 in new[] { false, true })
        {
            using var s = Session();
            var sub = s.AddSubscriber(Slot, v6: v6, nextPacketNumber: 77);
            var copy = new CopyCase(protocol, sub, Fields);
            var sid = copy.MapStream(s.Maps, Slot);
            // Choose the last payload word so that the rewritten datagram sums to 0xFFFF (checksum 0, sent as 0xFFFF).
            var tail = copy.Tail.ToArray();
            tail[^2] = tail[^1] = 0;
            var sum = Checksums.UdpSum((copy with { Tail = tail }).Expected(77, sid));
            BinaryPrimitives.WriteUInt16BigEndian(tail.AsSpan(tail.Length - 2), (ushort)(0xFFFF - sum));
            copy = copy with { Tail = tail };
            var expected = copy.Expected(77, sid);
            Assert.Equal(0xFFFF, Checksums.UdpSum(expected));

            var result = s.SubscriberEgress.Run(new PacketFixture($"zero checksum v6={v6}", copy.Input, TcAct.Ok, expected, s.CloneFor(Slot)));
            Assert.Equal(0xFFFF, ParsedFrame.Parse(result.Output).UdpChecksumField(result.Output));
        }
    }

    [BpfFact]
    public void A_thousand_copies_are_numbered_gaplessly_from_the_value_userspace_wrote()
    {
        using var s = Session();
        // 32-bit wire numbers: start below 2^32 so the wire wraps while the counter and the events do not.
        var start = protocol.PacketNumberBytes == 4 ? 0xFFFF_FF00UL : 0x0102_0304_0506_0708UL;
        var sub = s.AddSubscriber(Slot, nextPacketNumber: start);
        const int count = 1000;

        for (var i = 0; i < count; i++)
        {
            // The upstream numbers with gaps and its own offset; the subscriber must not notice.
            var copy = new CopyCase(protocol, sub, Fields with { PacketNumber = 0x10 + 3UL * (uint)i, Urgency = (uint)(i % 3) })
            {
                Tail = Frames.Tail(20 + i % 7),
            };
            var sid = copy.MapStream(s.Maps, Slot);
            s.SubscriberEgress.Run(new PacketFixture($"copy {i}", copy.Input, TcAct.Ok, copy.Expected(start + (ulong)i, sid), s.CloneFor(Slot)));
        }

        Assert.Equal(start + count, s.Maps.NextPacketNumber(Slot));
        var events = s.TakeEvents();
        Assert.Equal(Enumerable.Range(0, count).Select(i => start + (ulong)i), events.Select(e => e.PacketNumber));
        Assert.Equal(Enumerable.Range(0, count).Select(i => 0x10 + 3UL * (uint)i), events.Select(e => e.UpstreamPacketNumber));
        Assert.Equal(events.Select(e => e.TimestampNs).Order(), events.Select(e => e.TimestampNs));
        Assert.All(events, e => Assert.Equal((Slot, RegistrationView.Forwarded), (e.Slot, e.Origin)));
        Assert.Equal(new RelayStats { EgressRewritten = count }, s.Maps.Stats());
    }

    [BpfFact]
    public void An_inactive_subscriber_gets_nothing_and_consumes_no_number()
    {
        using var s = Session();
        var sub = s.AddSubscriber(Slot, active: false, nextPacketNumber: 40);
        var copy = new CopyCase(protocol, sub, Fields);
        copy.MapStream(s.Maps, Slot);

        s.SubscriberEgress.Run(new PacketFixture("inactive", copy.Input, TcAct.Shot, Context: s.CloneFor(Slot)));
        s.SubscriberEgress.Run(new PacketFixture("never configured", copy.Input, TcAct.Shot, Context: s.CloneFor(Slot + 1)));

        Assert.Equal(40UL, s.Maps.NextPacketNumber(Slot));
        Assert.Equal(new RelayStats { EgressDroppedInactive = 2 }, s.Maps.Stats());
        Assert.Equal(new SubscriberCounters { DroppedInactive = 1 }, s.Maps.SubscriberStats(Slot));
        Assert.Empty(s.TakeEvents());
    }

    [BpfFact]
    public void Untagged_packets_that_are_not_for_a_subscriber_pass_unchanged()
    {
        using var s = Session();
        var sub = s.AddSubscriber(Slot, nextPacketNumber: 40);
        var copy = new CopyCase(protocol, sub, Fields);
        copy.MapStream(s.Maps, Slot);
        var input = copy.Input; // addressed to the relay, not to a subscriber
        uint[] marks =
        [
            0,
            0x1234, // somebody else's mark
            protocol.MarkMagic, // magic without a slot
            protocol.MarkMagic | (uint)(protocol.MaxSubscribers + 1), // slot beyond the map
            (protocol.MarkMagic ^ 0x0001_0000) | (Slot + 1), // wrong magic
        ];
        foreach (var mark in marks)
        {
            var result = s.SubscriberEgress.Run(new PacketFixture($"mark {mark:x8}", input, TcAct.Unspec, Context: new SkbContext { Mark = mark }));
            Assert.Equal(mark, result.Context.Mark);
        }

        Assert.Equal(40UL, s.Maps.NextPacketNumber(Slot));
        Assert.Equal(new RelayStats(), s.Maps.Stats());
        Assert.Empty(s.TakeEvents());
    }
}

[Collection(GeneratedObjectsCollection.Name)]
public sealed class CustomUdpSubscriberEgressTests(GeneratedObjects objects) : SubscriberEgressTests(objects, CustomUdpProtocol.Instance);

[Collection(GeneratedObjectsCollection.Name)]
public sealed class QuicMoqSubscriberEgressTests(GeneratedObjects objects) : SubscriberEgressTests(objects, QuicMoqProtocol.Instance);

[Collection(GeneratedObjectsCollection.Name)]
public sealed class TickFeedSubscriberEgressTests(GeneratedObjects objects) : SubscriberEgressTests(objects, TickFeedProtocol.Instance);
