using FastRelay.Bpf;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Packets;

/// <summary>fr_subscriber_egress on untagged packets the relay's own stack sends to a subscriber: numbered from the
/// same counter as the forwarded copies; everything that is not clearly such a packet is left alone.</summary>
public abstract class UserspaceOriginTests(GeneratedObjects objects, FastPathProtocol protocol)
{
    private const uint Slot = 5;
    private const ulong StackNumber = 0x2A;

    private RelaySession Session() => new(objects, protocol);

    /// <summary>A packet of the connection that is not fast-path data (e.g. an ACK or control message).</summary>
    private byte[] StackPacket(SubscriberSpec sub, ulong packetNumber, bool udpChecksum = true, PacketKind? kind = null) =>
        Frames.FromRelayStack(sub, udpChecksum).Build(Frames.Payload(
            protocol.Header(new HeaderFields { Kind = kind ?? protocol.StackPacketKind, PacketNumber = packetNumber, StreamId = 0x99 }), Frames.Tail(31)));

    [BpfFact]
    public void Stack_packets_and_forwarded_copies_share_one_gapless_sequence()
    {
        foreach (var v6 in new[] { false, true })
        {
            using var s = Session();
            var sub = s.AddSubscriber(Slot, v6: v6, nextPacketNumber: 700);
            var copy = new CopyCase(protocol, sub, new HeaderFields { Urgency = 1 });
            var sid = copy.MapStream(s.Maps, Slot);

            s.SubscriberEgress.Run(new PacketFixture("copy 700", copy.Input, TcAct.Ok, copy.Expected(700, sid), s.CloneFor(Slot)));
            var result = s.SubscriberEgress.Run(new PacketFixture("stack 701", StackPacket(sub, StackNumber), TcAct.Ok, StackPacket(sub, 701)));
            s.SubscriberEgress.Run(new PacketFixture("copy 702", copy.Input, TcAct.Ok, copy.Expected(702, sid), s.CloneFor(Slot)));

            Assert.Equal(Checksums.Udp(result.Output), ParsedFrame.Parse(result.Output).UdpChecksumField(result.Output));
            Assert.Equal(703UL, s.Maps.NextPacketNumber(Slot));
            Assert.Equal(new RelayStats { EgressRewritten = 2, EgressUserspaceNumbered = 1 }, s.Maps.Stats());
            Assert.Equal(new SubscriberCounters
            {
                ForwardedPackets = 2, ForwardedBytes = 2UL * (uint)copy.PayloadLength, UserspacePackets = 1,
            }, s.Maps.SubscriberStats(Slot));
            Assert.Equal([RegistrationView.Forwarded, RegistrationView.Userspace, RegistrationView.Forwarded], s.TakeEvents().Select(e => e.Origin));
        }
    }

    [BpfFact]
    public void Fast_path_shaped_stack_packets_are_numbered_too_and_a_zero_IPv4_checksum_stays_zero()
    {
        using var s = Session();
        var sub = s.AddSubscriber(Slot, nextPacketNumber: 3);
        s.SubscriberEgress.Run(new PacketFixture("retransmitted data", StackPacket(sub, StackNumber, kind: PacketKind.FastPath), TcAct.Ok,
            StackPacket(sub, 3, kind: PacketKind.FastPath)));
        var result = s.SubscriberEgress.Run(new PacketFixture("no checksum", StackPacket(sub, StackNumber, udpChecksum: false), TcAct.Ok,
            StackPacket(sub, 4, udpChecksum: false)));
        Assert.Equal(0, ParsedFrame.Parse(result.Output).UdpChecksumField(result.Output));
        Assert.Equal(5UL, s.Maps.NextPacketNumber(Slot));
    }

    [BpfFact]
    public void Packets_that_are_not_clearly_for_an_active_subscriber_connection_are_untouched()
    {
        using var s = Session();
        var sub = s.AddSubscriber(Slot, nextPacketNumber: 60);
        var inactive = s.AddSubscriber(Slot + 1, active: false, nextPacketNumber: 60);
        var stranger = Topology.Subscriber(protocol, Slot + 2); // never registered
        var fromRelay = Frames.FromRelayStack(sub);
        var header = protocol.Header(new HeaderFields { Kind = protocol.StackPacketKind });

        var cases = new Dictionary<string, byte[]>
        {
            ["unknown destination"] = StackPacket(stranger, StackNumber),
            ["inactive subscriber"] = StackPacket(inactive, StackNumber),
            ["not from the relay port"] = (fromRelay with { SourcePort = (ushort)(protocol.UdpPort + 1) }).Build(Frames.Payload(header, Frames.Tail())),
            ["destination port differs"] = (fromRelay with { DestinationPort = (ushort)(sub.Remote.Port + 1) }).Build(Frames.Payload(header, Frames.Tail())),
            ["other protocol"] = StackPacket(sub, StackNumber, kind: PacketKind.Foreign),
            ["shorter than what numbering reads"] = fromRelay.Build(header.AsSpan(0, protocol.NumberingLength - 1)),
        };
        foreach (var (name, input) in cases)
            s.SubscriberEgress.Run(new PacketFixture(name, input, TcAct.Unspec));

        Assert.Equal(60UL, s.Maps.NextPacketNumber(Slot));
        Assert.Equal(60UL, s.Maps.NextPacketNumber(Slot + 1));
        Assert.Equal(new RelayStats(), s.Maps.Stats());
        Assert.Empty(s.TakeEvents());
    }

    [BpfFact]
    public void A_stack_packet_that_cannot_be_numbered_is_dropped_and_counted_never_sent_with_the_stacks_number()
    {
        using var s = Session();
        var sub = s.AddSubscriber(Slot, nextPacketNumber: 60);

        // A UDP_SEGMENT super-packet carries several datagrams behind one header: only the first could be numbered, the
        // rest would leave with numbers of the stack's own that the kernel may already have given to copies.
        s.SubscriberEgress.Run(new PacketFixture("GSO", StackPacket(sub, StackNumber), TcAct.Shot,
            Context: new SkbContext { GsoSize = 1200, GsoSegs = 2 }));

        Assert.Equal(60UL, s.Maps.NextPacketNumber(Slot));
        Assert.Equal(new RelayStats { EgressUserspaceDropped = 1 }, s.Maps.Stats());
        Assert.Empty(s.TakeEvents());

        // The next stack packet is numbered as usual: nothing was taken for the dropped one.
        s.SubscriberEgress.Run(new PacketFixture("after", StackPacket(sub, StackNumber), TcAct.Ok, StackPacket(sub, 60)));
    }
}

[Collection(GeneratedObjectsCollection.Name)]
public sealed class CustomUdpUserspaceOriginTests(GeneratedObjects objects) : UserspaceOriginTests(objects, CustomUdpProtocol.Instance);

[Collection(GeneratedObjectsCollection.Name)]
public sealed class QuicMoqUserspaceOriginTests(GeneratedObjects objects) : UserspaceOriginTests(objects, QuicMoqProtocol.Instance);

[Collection(GeneratedObjectsCollection.Name)]
public sealed class TickFeedUserspaceOriginTests(GeneratedObjects objects) : UserspaceOriginTests(objects, TickFeedProtocol.Instance);
