using FastRelay.Cli.Fuzz;
using FastRelay.Bpf;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Packets;

/// <summary>fr_upstream_ingress: classification, channel and source checks, fan-out. The original always leaves
/// unchanged; clones go to a device that swallows them.</summary>
public abstract class UpstreamIngressTests(GeneratedObjects objects, FastPathProtocol protocol)
{
    private const uint ChannelId = 7;
    private const uint ForeignMark = 0x1234;

    private RelaySession Session() => new(objects, protocol);

    private byte[] Upstream(HeaderFields? fields = null, bool v6 = false, byte[]? options = null, ushort? port = null) =>
        (Frames.FromUpstream(protocol, v6) with { Ipv4Options = options ?? [], DestinationPort = port ?? protocol.UdpPort })
            .Build(Frames.Payload(protocol.Header(fields ?? new HeaderFields { Channel = ChannelId }), Frames.Tail()));

    private PacketFixture Passed(string name, byte[] input) => new(name, input, TcAct.Unspec, Context: new SkbContext { Mark = ForeignMark });

    [BpfFact]
    public void Matching_packet_is_cloned_to_each_active_subscriber_of_its_channel_and_passed_up_unchanged()
    {
        using var device = RedirectDevice.Create();
        using var s = Session();
        var active = (uint)Math.Min(4, protocol.MaxSubscribers - 2);
        for (uint slot = 0; slot < active; slot++)
            s.AddSubscriber(slot, ifIndex: device.IfIndex);
        s.AddSubscriber(active, active: false, ifIndex: device.IfIndex);
        // The other family without FR_CONFIG_TRANSLATE_FAMILY (off here): no clone (FamilyTranslationTests has it on).
        s.AddSubscriber(active + 1, v6: true, ifIndex: device.IfIndex);
        s.Maps.SetChannel(ChannelId, new ChannelSpec { Slots = [.. Enumerable.Range(0, (int)active + 2).Select(i => (uint)i)] });

        var input = Upstream();
        var result = s.UpstreamIngress.Run(new PacketFixture("fan-out", input, TcAct.Ok, Context: new SkbContext { Mark = ForeignMark }));

        Assert.Equal(ForeignMark, result.Context.Mark); // the original keeps its mark; only clones were tagged
        Assert.Equal(new RelayStats { UpstreamSeen = 1, UpstreamMatched = 1, Clones = active, EgressFamilyMismatch = 1 }, s.Maps.Stats());
        Assert.Equal(new SubscriberCounters { DroppedInactive = 1 }, s.Maps.SubscriberStats(active));
        Assert.Equal(active, device.TxDropped); // the clones really left through the device
        Assert.Equal(1u, s.Maps.ChannelRotation(ChannelId));
        Assert.Empty(s.TakeEvents()); // no egress program on the device: no registrations
    }

    [BpfFact]
    public void Fan_out_reaches_every_slot_up_to_the_maximum_and_rotates_the_start_per_packet()
    {
        using var device = RedirectDevice.Create();
        using var s = Session();
        var all = (uint)protocol.MaxSubscribers;
        for (uint slot = 0; slot < all; slot++)
            s.AddSubscriber(slot, ifIndex: device.IfIndex);
        // Slots in reverse order: fan-out follows the channel's list, not slot numbers.
        s.Maps.SetChannel(ChannelId, new ChannelSpec { Slots = [.. Enumerable.Range(0, (int)all).Select(i => all - 1 - (uint)i)] });

        const int packets = 5;
        for (var i = 0; i < packets; i++)
            s.UpstreamIngress.Run(new PacketFixture($"packet {i}", Upstream(new HeaderFields { Channel = ChannelId, PacketNumber = (ulong)i }), TcAct.Ok));

        Assert.Equal(new RelayStats { UpstreamSeen = packets, UpstreamMatched = packets, Clones = packets * all }, s.Maps.Stats());
        Assert.Equal((ulong)(packets * all), device.TxDropped);
        Assert.Equal((uint)packets, s.Maps.ChannelRotation(ChannelId));
    }

    [BpfFact]
    public void Packets_that_fail_the_descriptor_match_go_up_untouched()
    {
        using var device = RedirectDevice.Create();
        using var s = Session();
        s.AddSubscriber(0, ifIndex: device.IfIndex);
        s.Maps.SetChannel(ChannelId, new ChannelSpec { Slots = [0] });

        s.UpstreamIngress.Run(Passed("wrong magic", Upstream(new HeaderFields { Kind = PacketKind.Foreign, Channel = ChannelId })));
        s.UpstreamIngress.Run(Passed("control packet", Upstream(new HeaderFields { Kind = PacketKind.Control, Channel = ChannelId })));

        // A GRO-merged skb carries several datagrams behind one header: the stack gets it.
        s.UpstreamIngress.Run(new PacketFixture("GRO super-packet", Upstream(), TcAct.Unspec, Context: new SkbContext { GsoSize = 1200, GsoSegs = 2 }));

        Assert.Equal(new RelayStats { UpstreamSeen = 3, UpstreamNotMatched = 3 }, s.Maps.Stats());
        Assert.Equal(0UL, device.TxDropped);
        Assert.Equal(0u, s.Maps.ChannelRotation(ChannelId));
    }

    [BpfFact]
    public void Only_the_relay_port_is_inspected_and_fr_config_moves_it()
    {
        using var device = RedirectDevice.Create();
        using var s = Session();
        s.AddSubscriber(0, ifIndex: device.IfIndex);
        s.Maps.SetChannel(ChannelId, new ChannelSpec { Slots = [0] });
        var other = (ushort)(protocol.UdpPort + 1);

        s.UpstreamIngress.Run(Passed("other port", Upstream(port: other)));
        Assert.Equal(new RelayStats(), s.Maps.Stats());

        s.Maps.SetRelayPort(other);
        s.UpstreamIngress.Run(Passed("old default port", Upstream()));
        s.UpstreamIngress.Run(new PacketFixture("configured port", Upstream(port: other), TcAct.Ok));
        Assert.Equal(new RelayStats { UpstreamSeen = 1, UpstreamMatched = 1, Clones = 1 }, s.Maps.Stats());
    }

    [BpfFact]
    public void Every_truncation_of_the_protocol_header_is_counted_and_left_alone()
    {
        using var s = Session();
        var header = protocol.Header(new HeaderFields { Channel = ChannelId });
        var builder = Frames.FromUpstream(protocol);

        for (var length = 0; length < protocol.HeaderLength; length++)
            s.UpstreamIngress.Run(Passed($"{length} of {protocol.HeaderLength} header bytes", builder.Build(header.AsSpan(0, length))));
        var len = (ulong)protocol.HeaderLength;
        Assert.Equal(new RelayStats { UpstreamSeen = len, UpstreamTruncated = len }, s.Maps.Stats());

        // Exactly the header and nothing more qualifies (it gets as far as the channel lookup).
        s.UpstreamIngress.Run(Passed("header only", builder.Build(header)));
        Assert.Equal(new RelayStats { UpstreamSeen = len + 1, UpstreamTruncated = len, UpstreamNoChannel = 1 }, s.Maps.Stats());
    }

    [BpfFact]
    public void A_frame_shorter_than_its_ip_length_is_truncated_not_parsed()
    {
        using var s = Session();
        foreach (var v6 in new[] { false, true })
        {
            var full = Upstream(v6: v6);
            s.UpstreamIngress.Run(Passed($"cut frame v6={v6}", full[..^10]));
        }
        Assert.Equal(new RelayStats { UpstreamTruncated = 2 }, s.Maps.Stats());
    }

    [BpfFact]
    public void IPv4_options_of_every_length_are_skipped()
    {
        using var device = RedirectDevice.Create();
        using var s = Session();
        s.AddSubscriber(0, ifIndex: device.IfIndex);
        s.Maps.SetChannel(ChannelId, new ChannelSpec { Upstream = Topology.Upstream(), Slots = [0] });

        for (var ihl = 6; ihl <= 15; ihl++)
        {
            var options = Enumerable.Repeat((byte)0x01 /* NOP */, (ihl - 5) * 4).ToArray();
            s.UpstreamIngress.Run(new PacketFixture($"IHL {ihl}", Upstream(options: options), TcAct.Ok));
        }
        Assert.Equal(new RelayStats { UpstreamSeen = 10, UpstreamMatched = 10, Clones = 10 }, s.Maps.Stats());
    }

    [BpfFact]
    public void IPv6_datagrams_fan_out_to_IPv6_subscribers()
    {
        using var device = RedirectDevice.Create();
        using var s = Session();
        s.AddSubscriber(0, v6: true, ifIndex: device.IfIndex);
        s.AddSubscriber(1, v6: false, ifIndex: device.IfIndex);
        s.Maps.SetChannel(ChannelId, new ChannelSpec { Upstream = Topology.Upstream(v6: true), Slots = [0, 1] });

        s.UpstreamIngress.Run(new PacketFixture("IPv6", Upstream(v6: true), TcAct.Ok));
        // Translation is off in this session: the IPv4 subscriber gets no clone.
        Assert.Equal(new RelayStats { UpstreamSeen = 1, UpstreamMatched = 1, Clones = 1, EgressFamilyMismatch = 1 }, s.Maps.Stats());
    }

    [BpfFact]
    public void Only_the_channel_upstream_may_feed_it()
    {
        using var device = RedirectDevice.Create();
        using var s = Session();
        s.AddSubscriber(0, ifIndex: device.IfIndex);
        var upstream = Topology.Upstream();
        s.Maps.SetChannel(ChannelId, new ChannelSpec { Upstream = upstream, Slots = [0], JunkAfterIpv4Address = true });
        var payload = Frames.Payload(protocol.Header(new HeaderFields { Channel = ChannelId }), Frames.Tail());
        var builder = Frames.FromUpstream(protocol);

        s.UpstreamIngress.Run(Passed("other address", (builder with { Source = System.Net.IPAddress.Parse("10.200.0.9") }).Build(payload)));
        s.UpstreamIngress.Run(Passed("other port", (builder with { SourcePort = Topology.UpstreamPort + 1 }).Build(payload)));
        s.UpstreamIngress.Run(Passed("IPv6 sender", Frames.FromUpstream(protocol, v6: true).Build(payload)));
        Assert.Equal(new RelayStats { UpstreamSeen = 3, UpstreamForeignSource = 3 }, s.Maps.Stats());

        // Junk after the 4 IPv4 address bytes in the channel's endpoint does not matter.
        s.UpstreamIngress.Run(new PacketFixture("the upstream", builder.Build(payload), TcAct.Ok));
        Assert.Equal(1UL, s.Maps.Stats().Clones);
    }

    [BpfFact]
    public void Unknown_or_empty_channels_do_not_fan_out()
    {
        using var s = Session();
        s.AddSubscriber(0);
        s.Maps.SetChannel(ChannelId, new ChannelSpec { Slots = [] });
        // The channel key is read with the descriptor's width and byte order: the byte-swapped id is another channel.
        var swapped = protocol.Name == "custom_udp" ? 0x0700u : 0x0700_0000u;

        s.UpstreamIngress.Run(Passed("no such channel", Upstream(new HeaderFields { Channel = ChannelId + 1 })));
        s.UpstreamIngress.Run(Passed("byte-swapped channel", Upstream(new HeaderFields { Channel = swapped })));
        s.UpstreamIngress.Run(Passed("empty channel", Upstream()));

        Assert.Equal(new RelayStats { UpstreamSeen = 3, UpstreamNoChannel = 2, UpstreamMatched = 1 }, s.Maps.Stats());
    }

    [BpfFact]
    public void A_clone_to_a_missing_device_is_an_error_and_the_original_still_goes_up()
    {
        using var s = Session();
        s.AddSubscriber(0, ifIndex: 0x7FFF_FFF0);
        s.Maps.SetChannel(ChannelId, new ChannelSpec { Slots = [0] });

        s.UpstreamIngress.Run(Passed("missing device", Upstream()));
        Assert.Equal(new RelayStats { UpstreamSeen = 1, UpstreamMatched = 1, CloneErrors = 1 }, s.Maps.Stats());
    }
}

[Collection(GeneratedObjectsCollection.Name)]
public sealed class CustomUdpUpstreamIngressTests(GeneratedObjects objects) : UpstreamIngressTests(objects, CustomUdpProtocol.Instance);

[Collection(GeneratedObjectsCollection.Name)]
public sealed class QuicMoqUpstreamIngressTests(GeneratedObjects objects) : UpstreamIngressTests(objects, QuicMoqProtocol.Instance);

[Collection(GeneratedObjectsCollection.Name)]
public sealed class TickFeedUpstreamIngressTests(GeneratedObjects objects) : UpstreamIngressTests(objects, TickFeedProtocol.Instance);
