using System.Buffers.Binary;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Packets;

/// <summary>
/// The IP header fields of a copy that belong to the publisher's path, not the subscriber's: TTL / hop limit (reset to
/// <see cref="Frames.CopyTtl"/>), ECN (a CE mark is congestion the subscriber's path never saw: cleared) and the IPv6 flow
/// label (the publisher's flow, not the relay's: cleared). DSCP stays. The IPv4 header checksum is updated once, together
/// with the addresses, and must be right.
/// </summary>
public abstract class CopyIpHeaderTests(GeneratedObjects objects, FastPathProtocol protocol)
{
    private const uint Slot = 2;
    private const byte DscpAf41WithCe = 0x88 | 0x03;

    private RelaySession Session() => new(objects, protocol);

    [BpfFact]
    public void A_copy_leaves_with_the_relays_hop_limit_no_ECN_mark_and_no_flow_label()
    {
        foreach (var v6 in new[] { false, true })
        {
            using var s = Session();
            var sub = s.AddSubscriber(Slot, v6: v6, nextPacketNumber: 11);
            var copy = new CopyCase(protocol, sub, new HeaderFields())
            {
                Upstream = Frames.FromUpstream(protocol, v6) with { Ttl = 3, Tos = DscpAf41WithCe, FlowLabel = 0xABCDE },
            };
            var sid = copy.MapStream(s.Maps, Slot);

            var expected = copy.Expected(11, sid);
            var result = s.SubscriberEgress.Run(new PacketFixture($"copy v6={v6}", copy.Input, TcAct.Ok, expected, s.CloneFor(Slot)));

            var ip = result.Output.AsSpan(14);
            if (v6)
            {
                Assert.Equal(0x6000_0000u | 0x88u << 20, BinaryPrimitives.ReadUInt32BigEndian(ip));
                Assert.Equal(Frames.CopyTtl, ip[7]);
            }
            else
            {
                Assert.Equal(0x88, ip[1]);
                Assert.Equal(Frames.CopyTtl, ip[8]);
                Assert.Equal(Checksums.Ipv4Header(ip[..20]), BinaryPrimitives.ReadUInt16BigEndian(ip[10..]));
            }
            Assert.Equal(Checksums.Udp(result.Output), ParsedFrame.Parse(result.Output).UdpChecksumField(result.Output));
        }
    }
}

[Collection(GeneratedObjectsCollection.Name)]
public sealed class CustomUdpCopyIpHeaderTests(GeneratedObjects objects) : CopyIpHeaderTests(objects, CustomUdpProtocol.Instance);

[Collection(GeneratedObjectsCollection.Name)]
public sealed class QuicMoqCopyIpHeaderTests(GeneratedObjects objects) : CopyIpHeaderTests(objects, QuicMoqProtocol.Instance);

[Collection(GeneratedObjectsCollection.Name)]
public sealed class TickFeedCopyIpHeaderTests(GeneratedObjects objects) : CopyIpHeaderTests(objects, TickFeedProtocol.Instance);
