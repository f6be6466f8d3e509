using FastRelay.Bpf;
using FastRelay.Bpf.Crypto;
using FastRelay.Cli.Fuzz;
using FastRelay.Protocols.Moq.Relay.FastPath;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Quic.Connection;
using FastRelay.Tests.Runtime;
using Xunit;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.KernelCrypto;

/// <summary>
/// Room for the tag (issue 16, docs/quic-encrypted-fast-path.md): a fast-path relay advertises a max_udp_payload_size
/// 16 bytes short of our stack's datagram size (<see cref="RelayFastPath.MaxReceiveUdpPayloadSize"/>), our fast-path
/// publisher fills its object packets to exactly that, and so the relay can seal the kernel's copy of its fullest packet
/// for an encrypted subscriber on a path of the same MTU. The publisher's real packets (our QUIC stack, in memory,
/// fast-path layout negotiated) go through the relay object's egress program to a sealed slot on a device whose MTU is
/// the publisher's path MTU: every copy, the full-size ones included, leaves sealed, and none is refused (TooBig stays
/// 0). A relay that does not ask gets full datagrams (the publisher keeps no room of its own: it did until session 12,
/// 16 bytes more than needed beside the relay's limit), whose full-size copies are then 16 bytes too long to seal.
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class PublisherTagRoomTests(GeneratedObjects objects)
{
    private const uint Slot = 2, Channel = 7;
    private const ulong DownstreamStream = 3;
    private const int PnOffset = 9;
    // The publisher's path: ConnectionSettings.MaxDatagramSize's default, an IPv4 path whose MTU carries exactly that.
    private const int PathDatagramBytes = 1452;
    private const int PathMtu = PathDatagramBytes + 20 + 8;

    private static bool IsFastPathPacket(byte[] d) =>
        d.Length >= QuicConnectionCore.FastPathDataOffset && (d[0] & 0x80) == 0 && (d[QuicConnectionCore.FastPathFrameOffset] | 1) == 0x0D;

    /// <summary>A stream of <paramref name="bytes"/> sent by a fast-path publisher (both ends with 0xBAAD), as it left the
    /// publisher: its fast-path packets, and the stream's id.</summary>
    private static (List<byte[]> Packets, ulong StreamId) PublisherPackets(int bytes, bool relayAsksForRoom)
    {
        var wire = new List<byte[]>();
        using var pair = new CorePair(c => c.Disable1RttEncryption = true, s =>
        {
            s.Disable1RttEncryption = true;
            if (relayAsksForRoom) s.MaxUdpPayloadSize = (ulong)RelayFastPath.MaxReceiveUdpPayloadSize;
        })
        {
            Mutate = (toServer, datagram) => { if (toServer) wire.Add(datagram.ToArray()); },
        };
        Assert.True(pair.Handshake());
        pair.RunUntil(() => false, 100_000); // HANDSHAKE_DONE confirms the publisher's handshake
        Assert.True(pair.Client.Streams.TryOpenStream(bidirectional: false, out ulong id));
        pair.Client.Streams.SetFastPathLayout(id, true);
        var payload = new byte[bytes];
        new Random(16).NextBytes(payload);
        Assert.Equal(bytes, pair.Client.Streams.Write(id, payload, fin: true));
        var received = new List<byte>();
        bool fin = false;
        Assert.True(pair.RunUntil(() =>
        {
            CorePair.Drain(pair.Server!, id, received, out bool f);
            return fin |= f;
        }), $"the relay side read {received.Count} of {bytes}");
        Assert.Equal(payload, received.ToArray());
        return (wire.Where(IsFastPathPacket).ToList(), id);
    }

    [BpfTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_copy_of_a_full_size_publisher_packet_is_sealed_on_a_path_of_the_same_mtu_when_the_relay_asked_for_room(bool relayAsksForRoom)
    {
        var (packets, streamId) = PublisherPackets(20_000, relayAsksForRoom);
        // Most packets are full: the publisher filled them to what the relay allows (the path's datagram otherwise).
        var fullest = packets.Max(p => p.Length);
        Assert.Equal(relayAsksForRoom ? RelayFastPath.MaxReceiveUdpPayloadSize : PathDatagramBytes, fullest);
        Assert.Equal(PathDatagramBytes - PacketProtection.TagLength, RelayFastPath.MaxReceiveUdpPayloadSize);
        Assert.True(packets.Count(p => p.Length == fullest) >= 10, $"{packets.Count(p => p.Length == fullest)} full-size packets of {packets.Count}");

        using var device = RedirectDevice.Create("frce", mtu: PathMtu);
        using var s = new RelaySession(objects, QuicMoqProtocol.Instance);
        using var keys = KernelCryptoFixtures.RandomKeys();
        var crypto = new QuicKernelCrypto(s.Object);
        KernelCryptoFixtures.Install(crypto, (int)Slot, 0, keys);
        crypto.SetConnection((int)Slot, PnOffset, 0, 0);
        s.AddSubscriber(Slot, nextPacketNumber: 1, channel: Channel, ifIndex: device.IfIndex);
        var maps = QuicMoqProtocol.Typed(s.Maps);
        maps.CreditLimits.Update(Slot, ulong.MaxValue);
        maps.CreditUsed.Update(Slot, 0);
        maps.Streams.Update(new G.StreamKey { Slot = Slot, UpstreamStreamId = streamId },
            new G.StreamValue { StreamId = DownstreamStream, OffsetDelta = 0, ForwardFrom = 0, Limit = QuicMoqProtocol.MaxVarint });
        // The channel as the relay's stack maps the publisher's stream: its connection id (as the publisher addressed the relay) and stream.
        var channel = new G.ChannelLookupKey { StreamId = streamId };
        packets[0].AsSpan(1, 8).CopyTo(channel.DestinationConnectionId);
        maps.ChannelLookup.Update(channel, new G.ChannelKey { Id = Channel });
        var onDevice = s.CloneFor(Slot) with { Ifindex = device.IfIndex };

        if (!relayAsksForRoom)
        {
            // Without the relay's limit a full-size copy has no room for the tag on this path: refused, not sealed.
            var full = packets.First(p => p.Length == fullest);
            s.SubscriberEgress.TestRun(Frames.FromUpstream(QuicMoqProtocol.Instance).Build(full), onDevice);
            Assert.Equal(RegistrationView.NotForwarded, Assert.Single(s.TakeEvents()).Origin);
            Assert.Equal(1UL, crypto.ReadStats().TooBig);
            Assert.Equal(0UL, crypto.ReadStats().Sealed);
            return;
        }
        foreach (var packet in packets)
        {
            var run = s.SubscriberEgress.TestRun(Frames.FromUpstream(QuicMoqProtocol.Instance).Build(packet), onDevice);
            if (run.ReturnValue != TcAct.Ok)
                Assert.Fail($"the copy of packet {packets.IndexOf(packet)} ({packet.Length} bytes) was dropped: {crypto.ReadStats()}, {s.Maps.Stats()}");
            var e = Assert.Single(s.TakeEvents());
            Assert.Equal(RegistrationView.Forwarded, e.Origin);
            // The copy is the publisher's packet plus the tag, and its IP datagram fills the path exactly when the packet was full.
            var copy = run.Output.AsSpan(ParsedFrame.Parse(run.Output).PayloadOffset).ToArray();
            Assert.Equal(packet.Length + PacketProtection.TagLength, copy.Length);
            Assert.True(copy.Length + 28 <= PathMtu);
        }
        var stats = crypto.ReadStats();
        Assert.Equal((ulong)packets.Count, stats.Sealed);
        Assert.Equal(0UL, stats.TooBig);
    }
}
