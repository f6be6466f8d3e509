using FastRelay.Cli.Fuzz;
using FastRelay.Bpf;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Runtime;
using Xunit;
using G = FastRelay.Protocols.CustomUdp.CustomUdpHeaderFastPath;

namespace FastRelay.Tests.Packets;

/// <summary>The kernel cache of custom_udp (KernelCachePackets = 1024): upstream ingress keeps each fanned-out packet in
/// its channel's ring and, with FR_CONFIG_CONSUME_CACHED, drops the original instead of passing it up.</summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class KernelCacheTests(GeneratedObjects objects)
{
    private const ushort ChannelId = 7;
    private const uint CacheBase = G.KernelCachePackets; // the channel's ring is the second one
    private readonly FastPathProtocol _protocol = CustomUdpProtocol.Instance;

    private sealed class Lab : IDisposable
    {
        public Lab(GeneratedObjects objects, FastPathProtocol protocol, bool consume, bool crossFamilySubscriber = false,
            bool translate = false, int? mtu = null)
        {
            Device = RedirectDevice.Create(translate ? "frxf" : "frpk", mtu);
            Session = new RelaySession(objects, protocol);
            Maps = new G.Maps(Session.Object);
            Session.AddSubscriber(0, ifIndex: Device.IfIndex);
            if (crossFamilySubscriber)
                Session.AddSubscriber(1, v6: true, ifIndex: Device.IfIndex);
            var channel = new G.Channel { Count = crossFamilySubscriber ? 2u : 1u, CacheBase = CacheBase };
            channel.Slots[0] = 0;
            channel.Slots[1] = 1;
            Maps.Channels.Update(new G.ChannelKey { Id = ChannelId }, channel);
            Maps.Config.Update(0u, new G.Config { Flags = (consume ? G.ConfigConsumeCached : 0) | (translate ? G.ConfigTranslateFamily : 0) });
        }

        public RedirectDevice Device { get; }
        public RelaySession Session { get; }
        public G.Maps Maps { get; }

        public G.CacheEntry Entry(ulong upstreamPacketNumber) => Maps.Cache.Lookup(CacheBase + (uint)(upstreamPacketNumber % G.KernelCachePackets));

        public G.Channel Channel() => Maps.Channels.Lookup(new G.ChannelKey { Id = ChannelId });

        public void Dispose()
        {
            Session.Dispose();
            Device.Dispose();
        }
    }

    private byte[] Packet(ulong upstreamPacketNumber, int tail = 40) =>
        Frames.FromUpstream(_protocol).Build(Payload(upstreamPacketNumber, tail));

    private byte[] Payload(ulong upstreamPacketNumber, int tail = 40) =>
        Frames.Payload(_protocol.Header(new HeaderFields { Channel = ChannelId, PacketNumber = upstreamPacketNumber }), Frames.Tail(tail));

    [BpfFact]
    public void A_fanned_out_packet_is_kept_in_its_channels_ring_and_the_original_dropped()
    {
        using var lab = new Lab(objects, _protocol, consume: true);
        var before = MonotonicClock.NowNs();
        lab.Session.UpstreamIngress.Run(new PacketFixture("cached", Packet(0x405), TcAct.Shot));
        var after = MonotonicClock.NowNs();

        var entry = lab.Entry(0x405);
        var payload = Payload(0x405);
        Assert.Equal(0x405UL, entry.UpstreamPacketNumber);
        Assert.Equal((uint)payload.Length, entry.Length);
        Assert.Equal(payload, entry.Data[..payload.Length].ToArray());
        Assert.InRange(entry.ReceivedNs, before, after);
        Assert.Equal(1UL, lab.Device.TxDropped); // the subscriber's clone still left
        var channel = lab.Channel();
        Assert.Equal(1UL, channel.UpstreamPackets);
        Assert.Equal(entry.ReceivedNs, channel.LastUpstreamNs);

        // The ring wraps: the packet 1024 later takes the same entry.
        lab.Session.UpstreamIngress.Run(new PacketFixture("wrapped", Packet(0x405 + G.KernelCachePackets, tail: 3), TcAct.Shot));
        Assert.Equal(0x405UL + G.KernelCachePackets, lab.Entry(0x405).UpstreamPacketNumber);
        Assert.Equal((uint)Payload(0, tail: 3).Length, lab.Entry(0x405).Length);
        Assert.Equal(2UL, lab.Channel().UpstreamPackets);
    }

    [BpfFact]
    public void Without_the_consume_flag_the_original_goes_up_and_nothing_is_cached()
    {
        using var lab = new Lab(objects, _protocol, consume: false);
        lab.Session.UpstreamIngress.Run(new PacketFixture("passed up", Packet(9), TcAct.Ok));
        Assert.Equal(0U, lab.Entry(9).Length);
        Assert.Equal(0UL, lab.Channel().UpstreamPackets);
    }

    [BpfFact]
    public void An_original_whose_channel_has_a_subscriber_on_a_device_without_the_egress_program_goes_up()
    {
        // The subscriber got no clone (fr_egress_devices): the relay socket serves it from the original.
        using var lab = new Lab(objects, _protocol, consume: true);
        using var bare = RedirectDevice.Create("frbr");
        lab.Session.AddSubscriber(1, ifIndex: bare.IfIndex, egressDevice: false);
        var channel = lab.Channel();
        channel.Count = 2;
        lab.Maps.Channels.Update(new G.ChannelKey { Id = ChannelId }, channel);

        lab.Session.UpstreamIngress.Run(new PacketFixture("one subscriber unserved", Packet(9), TcAct.Ok));
        Assert.Equal(0U, lab.Entry(9).Length);
        Assert.Equal(new RelayStats { UpstreamSeen = 1, UpstreamMatched = 1, Clones = 1, CloneNoEgressProgram = 1 }, lab.Session.Maps.Stats());
        Assert.Equal(0UL, bare.TxDropped);
    }

    [BpfFact]
    public void Originals_the_relay_socket_still_needs_or_the_ring_cannot_hold_go_up()
    {
        // Without FR_CONFIG_TRANSLATE_FAMILY a subscriber of the other family is served from the original by the relay socket.
        using (var lab = new Lab(objects, _protocol, consume: true, crossFamilySubscriber: true))
        {
            lab.Session.UpstreamIngress.Run(new PacketFixture("cross-family subscriber", Packet(9), TcAct.Ok));
            Assert.Equal(0U, lab.Entry(9).Length);
        }
        // Larger than an entry: the relay's userspace cache takes it from the original.
        using (var lab = new Lab(objects, _protocol, consume: true))
        {
            lab.Session.UpstreamIngress.Run(new PacketFixture("too large", Packet(10, tail: G.CachePacketBytes), TcAct.Ok));
            Assert.Equal(0UL, lab.Channel().UpstreamPackets);
            lab.Session.UpstreamIngress.Run(new PacketFixture("largest that fits", Packet(11, tail: G.CachePacketBytes - _protocol.HeaderLength), TcAct.Shot));
            Assert.Equal((uint)G.CachePacketBytes, lab.Entry(11).Length);
        }
    }

    [BpfFact]
    public void With_translation_a_cross_family_subscriber_needs_the_original_only_for_a_copy_that_does_not_fit()
    {
        using var lab = new Lab(objects, _protocol, consume: true, crossFamilySubscriber: true, translate: true, mtu: 1280);
        // Both subscribers got a clone (the IPv6 one's is translated in egress): nothing left for the relay socket.
        lab.Session.UpstreamIngress.Run(new PacketFixture("translated", Packet(9), TcAct.Shot));
        Assert.Equal(9UL, lab.Entry(9).UpstreamPacketNumber);
        Assert.Equal(2UL, lab.Device.TxDropped);
        // 1233 payload bytes: 1281 as IPv6, over the device's 1280. The IPv6 subscriber gets it from the relay socket.
        lab.Session.UpstreamIngress.Run(new PacketFixture("too big for IPv6", Packet(10, tail: 1233 - _protocol.HeaderLength), TcAct.Ok));
        Assert.Equal(3UL, lab.Device.TxDropped);
        Assert.Equal(1UL, lab.Session.Maps.Stats().EgressFamilyTooBig);
    }
}
