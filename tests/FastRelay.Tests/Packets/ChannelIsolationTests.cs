using FastRelay.Cli.Fuzz;
using System.Net;
using FastRelay.Bpf;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Packets;

/// <summary>
/// A copy never reaches a subscriber of another channel, whatever fr_channels holds at the moment upstream ingress reads
/// it. A preallocated hash element that userspace replaces is handed to the next update at once, so a reader may find
/// another channel's slot list under the key it looked up: both the clone loop and egress check each slot's own channel
/// (fr_subscriber.channel, written by userspace at activation).
/// </summary>
public abstract class ChannelIsolationTests(GeneratedObjects objects, FastPathProtocol protocol)
{
    private const uint Channel = 7;
    private const uint OtherChannel = 9;

    private RelaySession Session() => new(objects, protocol);

    [BpfFact]
    public void A_clone_tagged_for_a_subscriber_of_another_channel_is_dropped_before_it_takes_a_number()
    {
        using var s = Session();
        const uint slot = 3;
        var sub = s.AddSubscriber(slot, nextPacketNumber: 40, channel: OtherChannel);
        var copy = new CopyCase(protocol, sub, new HeaderFields { Channel = Channel });
        copy.MapStream(s.Maps, slot);

        s.SubscriberEgress.Run(new PacketFixture("copy of channel 7 for a channel 9 subscriber", copy.Input, TcAct.Shot, Context: s.CloneFor(slot)));

        Assert.Equal(40UL, s.Maps.NextPacketNumber(slot));
        Assert.Equal(new RelayStats { EgressWrongChannel = 1 }, s.Maps.Stats());
        Assert.Empty(s.TakeEvents());

        // The same subscriber still gets its own channel's copies.
        var own = new CopyCase(protocol, sub, new HeaderFields { Channel = OtherChannel });
        var sid = own.MapStream(s.Maps, slot);
        s.SubscriberEgress.Run(new PacketFixture("copy of its own channel", own.Input, TcAct.Ok, own.Expected(40, sid), s.CloneFor(slot)));
    }

    [BpfFact]
    public void A_channel_entry_listing_a_slot_of_another_channel_clones_nothing_to_it()
    {
        using var device = RedirectDevice.Create();
        using var s = Session();
        s.AddSubscriber(0, ifIndex: device.IfIndex, channel: Channel);
        s.AddSubscriber(1, ifIndex: device.IfIndex, channel: OtherChannel);
        s.AddSubscriber(2, ifIndex: device.IfIndex, channel: Channel);
        // What a reader can see in a reused element: slot 1 belongs to channel 9.
        s.Maps.SetChannel(Channel, new ChannelSpec { Upstream = Topology.Upstream(), Slots = [0, 1, 2] });

        var input = Frames.FromUpstream(protocol).Build(Frames.Payload(protocol.Header(new HeaderFields { Channel = Channel }), Frames.Tail()));
        s.UpstreamIngress.Run(new PacketFixture("channel 7", input, TcAct.Ok));

        Assert.Equal(new RelayStats { UpstreamSeen = 1, UpstreamMatched = 1, Clones = 2, EgressWrongChannel = 1 }, s.Maps.Stats());
        Assert.Equal(2UL, device.TxDropped);
    }

    [BpfFact]
    public void A_channel_waiting_for_its_publisher_takes_nothing_from_a_spoofed_unspecified_source()
    {
        using var device = RedirectDevice.Create();
        using var s = Session();
        s.AddSubscriber(0, ifIndex: device.IfIndex);
        s.AddSubscriber(1, v6: true, ifIndex: device.IfIndex);
        foreach (var v6 in new[] { false, true })
        {
            var unspecified = new IPEndPoint(v6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
            // "No upstream yet", as the relay writes it: the family's unspecified address and port 0.
            s.Maps.SetChannel(Channel, new ChannelSpec { Upstream = unspecified, Slots = [0, 1] });
            // TC ingress runs before the stack's martian filter: a packet can claim to come from exactly that.
            var spoofed = (Frames.FromUpstream(protocol, v6) with { Source = unspecified.Address, SourcePort = 0 })
                .Build(Frames.Payload(protocol.Header(new HeaderFields { Channel = Channel }), Frames.Tail()));
            s.UpstreamIngress.Run(new PacketFixture($"spoofed unspecified source v6={v6}", spoofed, TcAct.Unspec));
        }

        Assert.Equal(new RelayStats { UpstreamSeen = 2, UpstreamForeignSource = 2 }, s.Maps.Stats());
        Assert.Equal(0UL, device.TxDropped);
    }
}

[Collection(GeneratedObjectsCollection.Name)]
public sealed class CustomUdpChannelIsolationTests(GeneratedObjects objects) : ChannelIsolationTests(objects, CustomUdpProtocol.Instance);

[Collection(GeneratedObjectsCollection.Name)]
public sealed class QuicMoqChannelIsolationTests(GeneratedObjects objects) : ChannelIsolationTests(objects, QuicMoqProtocol.Instance);

[Collection(GeneratedObjectsCollection.Name)]
public sealed class TickFeedChannelIsolationTests(GeneratedObjects objects) : ChannelIsolationTests(objects, TickFeedProtocol.Instance);
