using FastRelay.Cli.Fuzz;
using FastRelay.Bpf;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Packets;

/// <summary>
/// The device checks for stacked devices (fr_device.h, issue 13 item 3), through BPF_PROG_TEST_RUN with the skb on a
/// chosen device (the test run's default is loopback): subscriber egress rewrites and numbers a subscriber's packets
/// only on the device the subscriber is bound to, and upstream ingress clones only to devices listed in
/// fr_egress_devices. The VLAN-tag check of the ingress programs needs a tagged skb, which a test run cannot make
/// (StackedDevicesTests covers the stack end to end).
/// </summary>
public abstract class DeviceCheckTests(GeneratedObjects objects, FastPathProtocol protocol)
{
    private const uint Slot = 3;
    private const uint ChannelId = 7;
    private const ulong StackNumber = 0x2A;

    private RelaySession Session() => new(objects, protocol);

    private byte[] StackPacket(SubscriberSpec sub, ulong packetNumber) =>
        Frames.FromRelayStack(sub).Build(Frames.Payload(
            protocol.Header(new HeaderFields { Kind = protocol.StackPacketKind, PacketNumber = packetNumber, StreamId = 0x99 }), Frames.Tail(31)));

    [BpfFact]
    public void A_clone_on_another_device_than_its_subscribers_is_dropped_before_it_takes_a_number()
    {
        using var device = RedirectDevice.Create("frbr");
        using var s = Session();
        var sub = s.AddSubscriber(Slot, ifIndex: device.IfIndex, nextPacketNumber: 40);
        var copy = new CopyCase(protocol, sub, new HeaderFields());
        var sid = copy.MapStream(s.Maps, Slot);

        // Loopback is not the subscriber's device: what a copy looks like at the device below the subscriber's.
        s.SubscriberEgress.Run(new PacketFixture("another device", copy.Input, TcAct.Shot, Context: s.CloneFor(Slot)));
        Assert.Equal(40UL, s.Maps.NextPacketNumber(Slot));
        Assert.Equal(new RelayStats { EgressWrongDevice = 1 }, s.Maps.Stats());
        Assert.Equal(new SubscriberCounters(), s.Maps.SubscriberStats(Slot));
        Assert.Empty(s.TakeEvents());

        s.SubscriberEgress.Run(new PacketFixture("its device", copy.Input, TcAct.Ok, copy.Expected(40, sid),
            s.CloneFor(Slot) with { Ifindex = device.IfIndex }));
        Assert.Equal(41UL, s.Maps.NextPacketNumber(Slot));
        Assert.Equal(new RelayStats { EgressWrongDevice = 1, EgressRewritten = 1 }, s.Maps.Stats());
    }

    [BpfFact]
    public void A_stack_packet_is_numbered_on_its_subscribers_device_and_passes_the_devices_below_untouched()
    {
        using var device = RedirectDevice.Create("frbr");
        using var s = Session();
        var sub = s.AddSubscriber(Slot, ifIndex: device.IfIndex, nextPacketNumber: 60);
        var input = StackPacket(sub, StackNumber);

        var numbered = s.SubscriberEgress.Run(new PacketFixture("its device", input, TcAct.Ok, StackPacket(sub, 60),
            new SkbContext { Ifindex = device.IfIndex }));
        // The numbered packet then passes the device below (a bridge port, a VLAN's lower device): left exactly as it is.
        s.SubscriberEgress.Run(new PacketFixture("device below", numbered.Output, TcAct.Unspec, numbered.Output));

        Assert.Equal(61UL, s.Maps.NextPacketNumber(Slot));
        Assert.Equal(new RelayStats { EgressUserspaceNumbered = 1 }, s.Maps.Stats());
        Assert.Equal(new SubscriberCounters { UserspacePackets = 1 }, s.Maps.SubscriberStats(Slot));
        Assert.Single(s.TakeEvents());
    }

    [BpfFact]
    public void Upstream_ingress_clones_only_to_devices_with_the_egress_program()
    {
        using var attached = RedirectDevice.Create("frbr");
        using var bare = RedirectDevice.Create("frbr");
        using var s = Session();
        s.AddSubscriber(0, ifIndex: attached.IfIndex);
        s.AddSubscriber(1, ifIndex: bare.IfIndex, egressDevice: false);
        s.Maps.SetChannel(ChannelId, new ChannelSpec { Slots = [0, 1] });
        var input = Frames.FromUpstream(protocol).Build(Frames.Payload(protocol.Header(new HeaderFields { Channel = ChannelId }), Frames.Tail()));

        // The original goes up: userspace serves the subscriber the kernel could not.
        s.UpstreamIngress.Run(new PacketFixture("fan-out", input, TcAct.Ok));
        Assert.Equal(new RelayStats { UpstreamSeen = 1, UpstreamMatched = 1, Clones = 1, CloneNoEgressProgram = 1 }, s.Maps.Stats());
        Assert.Equal(1UL, attached.TxDropped);
        Assert.Equal(0UL, bare.TxDropped); // no clone left through it with the publisher's addresses

        // Once the host has attached there, it gets its clone.
        s.AddEgressDevice(bare.IfIndex);
        s.UpstreamIngress.Run(new PacketFixture("fan-out after attach", input, TcAct.Ok));
        Assert.Equal(3UL, s.Maps.Stats().Clones);
        Assert.Equal(1UL, bare.TxDropped);
    }
}

[Collection(GeneratedObjectsCollection.Name)]
public sealed class CustomUdpDeviceCheckTests(GeneratedObjects objects) : DeviceCheckTests(objects, CustomUdpProtocol.Instance);

[Collection(GeneratedObjectsCollection.Name)]
public sealed class QuicMoqDeviceCheckTests(GeneratedObjects objects) : DeviceCheckTests(objects, QuicMoqProtocol.Instance);

[Collection(GeneratedObjectsCollection.Name)]
public sealed class TickFeedDeviceCheckTests(GeneratedObjects objects) : DeviceCheckTests(objects, TickFeedProtocol.Instance);
