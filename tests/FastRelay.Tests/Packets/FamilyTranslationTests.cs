using FastRelay.Cli.Fuzz;
using System.Buffers.Binary;
using System.Net;
using FastRelay.Bpf;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Packets;

/// <summary>
/// Copies for a subscriber of the other IP family (FR_CONFIG_TRANSLATE_FAMILY, bpf-templates/include/fr_family.h): an
/// IPv4 upstream datagram leaves subscriber egress as a complete IPv6 datagram and the other way round. Expected frames
/// come from <see cref="PacketBuilder"/> (checksums computed in C#); the output is also parsed field by field so a
/// failure names what is wrong. Devices made here carry the prefix frxf.
/// </summary>
public abstract class FamilyTranslationTests(GeneratedObjects objects, FastPathProtocol protocol)
{
    private const uint Slot = 2;
    private const string DevicePrefix = "frxf";
    private static readonly HeaderFields Fields = new() { Channel = 7, PacketNumber = 0x77, StreamId = 4, Urgency = 1 };

    private RelaySession Session(bool translate = true)
    {
        var s = new RelaySession(objects, protocol);
        if (translate)
            s.Maps.TranslateFamilies();
        return s;
    }

    /// <summary>The copy as the subscriber's stack will read it: family, addresses, ports, payload, valid checksums.</summary>
    private void AssertDatagramFor(SubscriberSpec sub, CopyCase copy, byte[] frame, ulong packetNumber, ulong? sid)
    {
        var parsed = ParsedFrame.Parse(frame);
        var v6 = sub.Remote.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        Assert.Equal(v6, parsed.IsIpv6);
        Assert.Equal(sub.Local.Address, new IPAddress(frame.AsSpan(parsed.SourceAddressOffset, parsed.AddressLength)));
        Assert.Equal(sub.Remote.Address, new IPAddress(frame.AsSpan(parsed.DestinationAddressOffset, parsed.AddressLength)));
        Assert.Equal(sub.Local.Port, parsed.SourcePort(frame));
        Assert.Equal(sub.Remote.Port, parsed.DestinationPort(frame));
        Assert.Equal(8 + copy.PayloadLength, parsed.UdpLength);
        Assert.Equal(frame.Length, parsed.UdpOffset + parsed.UdpLength); // no bytes left over from the old header
        if (v6)
        {
            Assert.Equal(parsed.UdpLength, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(14 + 4)));
            Assert.Equal(17, frame[14 + 6]);
            Assert.Equal(Frames.CopyTtl, frame[14 + 7]);
        }
        else
        {
            var ip = frame.AsSpan(14, 20);
            Assert.Equal(0x45, ip[0]);
            Assert.Equal(20 + parsed.UdpLength, BinaryPrimitives.ReadUInt16BigEndian(ip[2..]));
            Assert.Equal(0x4000, BinaryPrimitives.ReadUInt16BigEndian(ip[6..])); // DF, never a fragment
            Assert.Equal(Frames.CopyTtl, ip[8]);
            Assert.Equal(Checksums.Ipv4Header(ip), BinaryPrimitives.ReadUInt16BigEndian(ip[10..]));
        }
        // The protocol header is the subscriber's, the data after it byte-identical to what the publisher sent.
        var payload = frame.AsSpan(parsed.PayloadOffset);
        Assert.Equal(protocol.RewrittenHeader(copy.Header, sub.ConnectionId, packetNumber, sid), payload[..protocol.HeaderLength].ToArray());
        Assert.Equal(copy.Tail, payload[protocol.HeaderLength..].ToArray());
        Assert.NotEqual(0, parsed.UdpChecksumField(frame));
        Assert.Equal(Checksums.Udp(frame), parsed.UdpChecksumField(frame));
    }

    [BpfFact]
    public void An_IPv4_copy_leaves_as_IPv6_for_an_IPv6_subscriber()
    {
        using var s = Session();
        var sub = s.AddSubscriber(Slot, v6: true, nextPacketNumber: 500);
        // DSCP 46 with a CE mark and a nearly spent TTL: DSCP stays, ECN and TTL are the relay's.
        var copy = new CopyCase(protocol, sub, Fields) { Upstream = Frames.FromUpstream(protocol, v6: false) with { Tos = 0xBB, Ttl = 3 } };
        var sid = copy.MapStream(s.Maps, Slot);

        var result = s.SubscriberEgress.Run(new PacketFixture("IPv4 -> IPv6", copy.Input, TcAct.Ok, copy.Expected(500, sid), s.CloneFor(Slot)));

        AssertDatagramFor(sub, copy, result.Output, 500, sid);
        Assert.Equal(0xB8 >> 4, result.Output[14] & 0x0F); // traffic class high nibble: DSCP 46 without ECN
        Assert.Equal(0u, result.Context.Mark);
        Assert.Equal(501UL, s.Maps.NextPacketNumber(Slot));
        Assert.Equal(new RelayStats { EgressRewritten = 1, EgressFamilyTranslated = 1 }, s.Maps.Stats());
        Assert.Equal(new SubscriberCounters { ForwardedPackets = 1, ForwardedBytes = (ulong)copy.PayloadLength }, s.Maps.SubscriberStats(Slot));
        var e = Assert.Single(s.TakeEvents());
        Assert.Equal((500UL, Slot, RegistrationView.Forwarded), (e.PacketNumber, e.Slot, e.Origin));
    }

    [BpfFact]
    public void An_IPv6_copy_leaves_as_IPv4_for_an_IPv4_subscriber()
    {
        using var s = Session();
        var sub = s.AddSubscriber(Slot, v6: false, nextPacketNumber: 9);
        var copy = new CopyCase(protocol, sub, Fields)
        {
            Upstream = Frames.FromUpstream(protocol, v6: true) with { Tos = 0x29, FlowLabel = 0xABCDE, Ttl = 200 },
            Tail = Frames.Tail(333),
        };
        var sid = copy.MapStream(s.Maps, Slot);

        var result = s.SubscriberEgress.Run(new PacketFixture("IPv6 -> IPv4", copy.Input, TcAct.Ok, copy.Expected(9, sid), s.CloneFor(Slot)));

        AssertDatagramFor(sub, copy, result.Output, 9, sid);
        Assert.Equal(0x28, result.Output[14 + 1]); // TOS: DSCP kept, ECN cleared
        Assert.Equal(new RelayStats { EgressRewritten = 1, EgressFamilyTranslated = 1 }, s.Maps.Stats());
        Assert.Single(s.TakeEvents());
    }

    [BpfFact]
    public void IPv4_options_do_not_follow_a_copy_into_IPv6()
    {
        using var s = Session();
        var sub = s.AddSubscriber(Slot, v6: true, nextPacketNumber: 100);
        ulong pn = 100;
        for (var ihl = 6; ihl <= 15; ihl++)
        {
            var options = Enumerable.Range(0, (ihl - 5) * 4).Select(i => (byte)(i % 4 == 3 ? 0x01 : 0x94 ^ i)).ToArray();
            var copy = new CopyCase(protocol, sub, Fields) { Upstream = Frames.FromUpstream(protocol) with { Ipv4Options = options } };
            var sid = copy.MapStream(s.Maps, Slot);
            var result = s.SubscriberEgress.Run(new PacketFixture($"IHL {ihl}", copy.Input, TcAct.Ok, copy.Expected(pn, sid), s.CloneFor(Slot)));
            AssertDatagramFor(sub, copy, result.Output, pn++, sid);
        }
        Assert.Equal(new RelayStats { EgressRewritten = 10, EgressFamilyTranslated = 10 }, s.Maps.Stats());
    }

    [BpfFact]
    public void An_IPv4_datagram_without_a_UDP_checksum_gets_a_full_one_as_IPv6()
    {
        using var s = Session();
        var sub = s.AddSubscriber(Slot, v6: true, nextPacketNumber: 1);
        ulong pn = 1;
        // Around the 64-byte chunks the kernel sums in, odd tails, and the largest datagram BPF_PROG_TEST_RUN takes (a page).
        int[] tails = [0, 1, 2, 3, 4, 5, 31, 47, 48, 49, 63, 64, 65, 127, 128, 129, 1000, 1401, 3333];
        foreach (var tail in tails)
        {
            var copy = new CopyCase(protocol, sub, Fields)
            {
                Upstream = Frames.FromUpstream(protocol) with { UdpChecksum = false },
                Tail = Frames.Tail(tail),
            };
            Assert.Equal(0, ParsedFrame.Parse(copy.Input).UdpChecksumField(copy.Input));
            var sid = copy.MapStream(s.Maps, Slot);
            var result = s.SubscriberEgress.Run(new PacketFixture($"no checksum, tail {tail}", copy.Input, TcAct.Ok, copy.Expected(pn, sid), s.CloneFor(Slot)));
            AssertDatagramFor(sub, copy, result.Output, pn++, sid);
        }
    }

    [BpfFact]
    public void A_copy_whose_translation_would_not_fit_the_device_is_dropped_before_it_takes_a_number()
    {
        using var device = RedirectDevice.Create(DevicePrefix, mtu: 1280);
        using var s = Session();
        var sub = s.AddSubscriber(Slot, v6: true, nextPacketNumber: 70, ifIndex: device.IfIndex);
        var onDevice = s.CloneFor(Slot) with { Ifindex = device.IfIndex };
        // 40 + 8 + payload: 1280 exactly fits, one byte more does not (the IPv4 original, 20 bytes shorter, fits either way).
        var fits = new CopyCase(protocol, sub, Fields) { Tail = Frames.Tail(1280 - 48 - protocol.HeaderLength), Upstream = Frames.FromUpstream(protocol) };
        var tooBig = fits with { Tail = Frames.Tail(1280 - 48 - protocol.HeaderLength + 1) };
        var sid = fits.MapStream(s.Maps, Slot);

        s.SubscriberEgress.Run(new PacketFixture("too big", tooBig.Input, TcAct.Shot, Context: onDevice));
        Assert.Equal(70UL, s.Maps.NextPacketNumber(Slot));
        Assert.Equal(1UL, s.Maps.Stats().EgressFamilyTooBig);
        // A stream protocol reports the range as not forwarded (the relay sends it); nothing was registered as sent.
        Assert.All(s.TakeEvents(), e => Assert.Equal(RegistrationView.NotForwarded, e.Origin));

        var result = s.SubscriberEgress.Run(new PacketFixture("fits", fits.Input, TcAct.Ok, fits.Expected(70, sid), onDevice));
        AssertDatagramFor(sub, fits, result.Output, 70, sid);
        Assert.Equal(1UL, s.Maps.Stats().EgressFamilyTranslated);
    }

    [BpfFact]
    public void Without_the_switch_a_copy_of_the_other_family_is_dropped_as_before()
    {
        using var s = Session(translate: false);
        var sub = s.AddSubscriber(Slot, v6: true, nextPacketNumber: 40);
        var copy = new CopyCase(protocol, sub, Fields) { Upstream = Frames.FromUpstream(protocol, v6: false) };
        copy.MapStream(s.Maps, Slot);

        s.SubscriberEgress.Run(new PacketFixture("switch off", copy.Input, TcAct.Shot, Context: s.CloneFor(Slot)));

        Assert.Equal(40UL, s.Maps.NextPacketNumber(Slot));
        Assert.Equal(new RelayStats { EgressFamilyMismatch = 1 }, s.Maps.Stats());
    }

    [BpfFact]
    public void Upstream_ingress_clones_to_the_other_family_only_what_fits_its_device()
    {
        using var device = RedirectDevice.Create(DevicePrefix, mtu: 1280);
        using var s = Session();
        s.AddSubscriber(0, ifIndex: device.IfIndex);
        s.AddSubscriber(1, v6: true, ifIndex: device.IfIndex);
        s.Maps.SetChannel(7, new ChannelSpec { Slots = [0, 1] });
        byte[] Upstream(int payload) => Frames.FromUpstream(protocol).Build(Frames.Payload(protocol.Header(Fields), Frames.Tail(payload - protocol.HeaderLength)));

        s.UpstreamIngress.Run(new PacketFixture("fits both", Upstream(1280 - 48), TcAct.Ok));
        Assert.Equal(new RelayStats { UpstreamSeen = 1, UpstreamMatched = 1, Clones = 2 }, s.Maps.Stats());
        Assert.Equal(2UL, device.TxDropped);

        // Fits the IPv4 subscriber (1269 bytes) but not the IPv6 one (1289): no clone for it, the original goes up.
        s.UpstreamIngress.Run(new PacketFixture("too big for IPv6", Upstream(1280 - 48 + 1), TcAct.Ok));
        Assert.Equal(new RelayStats { UpstreamSeen = 2, UpstreamMatched = 2, Clones = 3, EgressFamilyTooBig = 1 }, s.Maps.Stats());
        Assert.Equal(3UL, device.TxDropped);
    }

    [BpfFact]
    public void Without_the_switch_upstream_ingress_makes_no_clone_for_the_other_family()
    {
        using var device = RedirectDevice.Create(DevicePrefix);
        using var s = Session(translate: false);
        s.AddSubscriber(0, ifIndex: device.IfIndex);
        s.AddSubscriber(1, v6: true, ifIndex: device.IfIndex);
        s.Maps.SetChannel(7, new ChannelSpec { Slots = [0, 1] });

        s.UpstreamIngress.Run(new PacketFixture("switch off", Frames.FromUpstream(protocol).Build(Frames.Payload(protocol.Header(Fields), Frames.Tail())), TcAct.Ok));

        Assert.Equal(new RelayStats { UpstreamSeen = 1, UpstreamMatched = 1, Clones = 1, EgressFamilyMismatch = 1 }, s.Maps.Stats());
    }
}

[Collection(GeneratedObjectsCollection.Name)]
public sealed class CustomUdpFamilyTranslationTests(GeneratedObjects objects) : FamilyTranslationTests(objects, CustomUdpProtocol.Instance);

[Collection(GeneratedObjectsCollection.Name)]
public sealed class QuicMoqFamilyTranslationTests(GeneratedObjects objects) : FamilyTranslationTests(objects, QuicMoqProtocol.Instance);

[Collection(GeneratedObjectsCollection.Name)]
public sealed class TickFeedFamilyTranslationTests(GeneratedObjects objects) : FamilyTranslationTests(objects, TickFeedProtocol.Instance);
