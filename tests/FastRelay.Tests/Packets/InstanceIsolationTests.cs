using FastRelay.Cli.Fuzz;
using FastRelay.Bpf;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Packets;

/// <summary>
/// Two relays on one host attach their egress programs to the same device. A clone is recognised by its skb->mark, so
/// each instance tags its clones with its own tag (fr_config.clone_mark) and its egress takes only packets that carry
/// it and are what upstream ingress clones (UDP to the relay port, fast-path match). Before, every instance used one
/// constant: whichever egress program came first in the chain took the other relay's clones for its own slots.
/// </summary>
public abstract class InstanceIsolationTests(GeneratedObjects objects, FastPathProtocol protocol)
{
    private const uint Channel = 7;
    private const uint TagA = 0x1A2B_0000;
    private const uint TagB = 0x3C4D_0000;

    private byte[] Upstream(HeaderFields fields, ushort? port = null) =>
        (Frames.FromUpstream(protocol) with { DestinationPort = port ?? protocol.UdpPort })
            .Build(Frames.Payload(protocol.Header(fields), Frames.Tail()));

    [BpfFact]
    public void Two_relays_on_one_device_each_rewrite_only_their_own_clones()
    {
        using var device = RedirectDevice.Create("frkh");
        using var a = new RelaySession(objects, protocol);
        using var b = new RelaySession(objects, protocol);
        foreach (var (relay, tag) in new[] { (a, TagA), (b, TagB) })
        {
            relay.Maps.SetCloneMark(tag);
            var sub = relay.AddSubscriber(0, ifIndex: device.IfIndex, nextPacketNumber: 100);
            new CopyCase(protocol, sub, new HeaderFields { Channel = Channel }).MapStream(relay.Maps, 0);
            relay.Maps.SetChannel(Channel, new ChannelSpec { Upstream = Topology.Upstream(), Slots = [0] });
        }
        // B's egress runs first on the device: it sees A's clones before A does.
        using var egressB = TcAttach.Attach(b.SubscriberEgress, (int)device.IfIndex, TcDirection.Egress, TcAttachMode.Tcx);
        using var egressA = TcAttach.Attach(a.SubscriberEgress, (int)device.IfIndex, TcDirection.Egress, TcAttachMode.Tcx);

        a.UpstreamIngress.Run(new PacketFixture("A's upstream packet", Upstream(new HeaderFields { Channel = Channel }), TcAct.Ok));

        Assert.Equal(new RelayStats { UpstreamSeen = 1, UpstreamMatched = 1, Clones = 1, EgressRewritten = 1 }, a.Maps.Stats());
        Assert.Equal(101UL, a.Maps.NextPacketNumber(0));
        Assert.Equal(new RelayStats(), b.Maps.Stats());
        Assert.Equal(100UL, b.Maps.NextPacketNumber(0));
        Assert.Single(a.TakeEvents());
        Assert.Empty(b.TakeEvents());
        Assert.Equal(1UL, device.TxDropped); // exactly one copy left, A's
    }

    [BpfFact]
    public void A_packet_with_the_default_tag_that_upstream_ingress_would_not_clone_is_not_rewritten()
    {
        // Another program's mark can collide with a tag; only the full checks tell a clone from such a packet.
        using var s = new RelaySession(objects, protocol);
        const uint slot = 1;
        var sub = s.AddSubscriber(slot, nextPacketNumber: 5);
        new CopyCase(protocol, sub, new HeaderFields { Channel = Channel }).MapStream(s.Maps, slot);

        s.SubscriberEgress.Run(new PacketFixture("not to the relay port", Upstream(new HeaderFields { Channel = Channel }, port: (ushort)(protocol.UdpPort + 1)),
            TcAct.Unspec, Context: s.CloneFor(slot)));
        s.SubscriberEgress.Run(new PacketFixture("not a fast-path packet", Upstream(new HeaderFields { Kind = PacketKind.Control, Channel = Channel }),
            TcAct.Unspec, Context: s.CloneFor(slot)));

        Assert.Equal(5UL, s.Maps.NextPacketNumber(slot));
        Assert.Equal(new RelayStats(), s.Maps.Stats());
    }

    [BpfFact]
    public void A_packet_with_this_instances_tag_that_upstream_ingress_would_not_clone_is_left_alone()
    {
        using var s = new RelaySession(objects, protocol);
        s.Maps.SetCloneMark(TagA);
        const uint slot = 1;
        var sub = s.AddSubscriber(slot, nextPacketNumber: 5);
        new CopyCase(protocol, sub, new HeaderFields { Channel = Channel }).MapStream(s.Maps, slot);
        var mark = TagA | (slot + 1);

        var cases = new Dictionary<string, byte[]>
        {
            ["not to the relay port"] = Upstream(new HeaderFields { Channel = Channel }, port: (ushort)(protocol.UdpPort + 1)),
            ["not a fast-path packet"] = Upstream(new HeaderFields { Kind = PacketKind.Control, Channel = Channel }),
            ["not this protocol"] = Upstream(new HeaderFields { Kind = PacketKind.Foreign, Channel = Channel }),
        };
        foreach (var (name, input) in cases)
        {
            var result = s.SubscriberEgress.Run(new PacketFixture(name, input, TcAct.Unspec, Context: new SkbContext { Mark = mark }));
            Assert.Equal(mark, result.Context.Mark);
        }
        // The shared default tag is another instance's now.
        s.SubscriberEgress.Run(new PacketFixture("default tag", Upstream(new HeaderFields { Channel = Channel }), TcAct.Unspec, Context: s.CloneFor(slot)));

        Assert.Equal(5UL, s.Maps.NextPacketNumber(slot));
        Assert.Equal(new RelayStats(), s.Maps.Stats());
        Assert.Empty(s.TakeEvents());

        // Its own clone is still taken.
        var copy = new CopyCase(protocol, sub, new HeaderFields { Channel = Channel });
        var sid = copy.MapStream(s.Maps, slot);
        s.SubscriberEgress.Run(new PacketFixture("own clone", copy.Input, TcAct.Ok, copy.Expected(5, sid), new SkbContext { Mark = mark }));
    }
}

[Collection(GeneratedObjectsCollection.Name)]
public sealed class CustomUdpInstanceIsolationTests(GeneratedObjects objects) : InstanceIsolationTests(objects, CustomUdpProtocol.Instance);

[Collection(GeneratedObjectsCollection.Name)]
public sealed class QuicMoqInstanceIsolationTests(GeneratedObjects objects) : InstanceIsolationTests(objects, QuicMoqProtocol.Instance);

[Collection(GeneratedObjectsCollection.Name)]
public sealed class TickFeedInstanceIsolationTests(GeneratedObjects objects) : InstanceIsolationTests(objects, TickFeedProtocol.Instance);
