using System.Net;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Packets;

/// <summary>fr_subscriber_ingress: observation only. Always TC_ACT_UNSPEC, packets unchanged, fr_subscribers untouched.</summary>
public abstract class SubscriberIngressTests(GeneratedObjects objects, FastPathProtocol protocol)
{
    private RelaySession Session() => new(objects, protocol);

    /// <summary>A datagram from <paramref name="from"/> to the relay's subscriber-side endpoint.</summary>
    private byte[] FromSubscriber(SubscriberSpec sub, int payloadLength, IPEndPoint? from = null, ushort? port = null)
    {
        var source = from ?? sub.Remote;
        var builder = new PacketBuilder
        {
            SourceMac = sub.MacDestination, DestinationMac = sub.MacSource,
            Source = source.Address, Destination = sub.Local.Address,
            SourcePort = (ushort)source.Port, DestinationPort = port ?? (ushort)sub.Local.Port,
        };
        return builder.Build(Enumerable.Range(0, payloadLength).Select(i => (byte)i).ToArray());
    }

    [BpfFact]
    public void Datagrams_from_known_subscribers_are_counted_with_their_arrival_time()
    {
        using var s = Session();
        var v4 = s.AddSubscriber(1);
        var v6 = s.AddSubscriber(2, v6: true);
        var inactive = s.AddSubscriber(3, active: false);
        var subscribers = new uint[] { 1, 2, 3 }.ToDictionary(slot => slot, s.Maps.SubscriberBytes);

        var before = MonotonicClock.NowNs();
        s.SubscriberIngress.Run(new PacketFixture("v4 #1", FromSubscriber(v4, 30), TcAct.Unspec));
        var between = MonotonicClock.NowNs();
        s.SubscriberIngress.Run(new PacketFixture("v4 #2", FromSubscriber(v4, 45), TcAct.Unspec));
        s.SubscriberIngress.Run(new PacketFixture("v6", FromSubscriber(v6, 7), TcAct.Unspec));
        s.SubscriberIngress.Run(new PacketFixture("inactive", FromSubscriber(inactive, 0), TcAct.Unspec));
        var after = MonotonicClock.NowNs();

        var c1 = s.Maps.SubscriberStats(1);
        Assert.Equal(new SubscriberCounters { ReceivedPackets = 2, ReceivedBytes = 75 }, c1 with { LastReceivedNs = 0 });
        Assert.InRange(c1.LastReceivedNs, between, after);
        Assert.Equal(new SubscriberCounters { ReceivedPackets = 1, ReceivedBytes = 7 }, s.Maps.SubscriberStats(2) with { LastReceivedNs = 0 });
        Assert.InRange(s.Maps.SubscriberStats(3).LastReceivedNs, before, after);
        Assert.Equal(1UL, s.Maps.SubscriberStats(3).ReceivedPackets);
        Assert.Equal(new RelayStats { SubscriberIngressSeen = 4 }, s.Maps.Stats());
        // Liveness is not activation: no slot changed, the inactive one included.
        Assert.All(subscribers, p => Assert.Equal(p.Value, s.Maps.SubscriberBytes(p.Key)));
        Assert.Empty(s.TakeEvents());
    }

    [BpfFact]
    public void Unknown_senders_are_counted_and_other_traffic_is_ignored()
    {
        using var s = Session();
        var sub = s.AddSubscriber(1);
        var before = s.Maps.SubscriberBytes(1);

        s.SubscriberIngress.Run(new PacketFixture("unknown address", FromSubscriber(sub, 10, new IPEndPoint(IPAddress.Parse("10.201.9.9"), sub.Remote.Port)), TcAct.Unspec));
        s.SubscriberIngress.Run(new PacketFixture("known address, other port", FromSubscriber(sub, 10, new IPEndPoint(sub.Remote.Address, sub.Remote.Port + 1)), TcAct.Unspec));
        Assert.Equal(new RelayStats { SubscriberIngressSeen = 2, SubscriberIngressUnknown = 2 }, s.Maps.Stats());

        s.SubscriberIngress.Run(new PacketFixture("not to the relay port", FromSubscriber(sub, 10, port: (ushort)(protocol.UdpPort + 1)), TcAct.Unspec));
        var arp = Convert.FromHexString("ffffffffffff02bb00000001" + "0806" + "0001080006040001" + "02bb00000001" + "0ac9010b" + "000000000000" + "0ac90101");
        s.SubscriberIngress.Run(new PacketFixture("ARP", arp, TcAct.Unspec));
        s.SubscriberIngress.Run(new PacketFixture("truncated", FromSubscriber(sub, 10)[..^4], TcAct.Unspec));

        Assert.Equal(new RelayStats { SubscriberIngressSeen = 2, SubscriberIngressUnknown = 2 }, s.Maps.Stats());
        Assert.Equal(new SubscriberCounters(), s.Maps.SubscriberStats(1));
        Assert.Equal(before, s.Maps.SubscriberBytes(1));
    }
}

[Collection(GeneratedObjectsCollection.Name)]
public sealed class CustomUdpSubscriberIngressTests(GeneratedObjects objects) : SubscriberIngressTests(objects, CustomUdpProtocol.Instance);

[Collection(GeneratedObjectsCollection.Name)]
public sealed class QuicMoqSubscriberIngressTests(GeneratedObjects objects) : SubscriberIngressTests(objects, QuicMoqProtocol.Instance);

[Collection(GeneratedObjectsCollection.Name)]
public sealed class TickFeedSubscriberIngressTests(GeneratedObjects objects) : SubscriberIngressTests(objects, TickFeedProtocol.Instance);
