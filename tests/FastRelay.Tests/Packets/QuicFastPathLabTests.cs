using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using FastRelay.Bpf;
using FastRelay.Cli.Lab;
using FastRelay.Relay;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using FastRelay.Tests.Packets.Protocols;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.Packets;

/// <summary>
/// The quic_moq fast path over real veths in network namespaces: a publisher sends fast-path QUIC packets to the relay,
/// the generated programs (attached by <see cref="FastPathHost"/>) clone and rewrite them, and each subscriber's UDP
/// socket receives its own copy: its connection id, its gapless packet numbers, its stream id, offsets moved by its
/// mapping's delta, the data untouched. The subscriber's kernel checks the checksums (a bad one is dropped and counted
/// in InCsumErrors). Only the QUIC layout is crafted here; no QUIC stack is involved. Subscribers of the other IP family
/// than the publisher get copies translated by the kernel (FR_CONFIG_TRANSLATE_FAMILY; those labs are named frxf*).
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class QuicFastPathLabTests(GeneratedObjects objects)
{
    private const uint Channel = 7;
    private const ulong UpstreamStream = 2;
    private const int Packets = 20, DataLength = 300;
    /// <summary>The publisher's own subgroup header takes the stream's first bytes; the relay sends its own header for
    /// each subscriber itself, so the kernel forwards from here on.</summary>
    private const ulong FirstDataOffset = 8;
    private static readonly byte[] PublisherCid = [0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28];

    [LabTheory(needsClang: true)]
    [InlineData(AddressFamily.InterNetwork, AddressFamily.InterNetwork)]
    [InlineData(AddressFamily.InterNetworkV6, AddressFamily.InterNetworkV6)]
    [InlineData(AddressFamily.InterNetwork, AddressFamily.InterNetworkV6)]
    [InlineData(AddressFamily.InterNetworkV6, AddressFamily.InterNetwork)]
    public async Task Every_subscriber_receives_its_own_rewritten_copy_of_every_packet(AddressFamily publisherFamily, AddressFamily family)
    {
        var translated = publisherFamily != family;
        var prefix = (translated ? "frxf" : "frkq") + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2));
        await using var lab = await LabTopology.UpAsync(new LabOptions { Prefix = prefix, Subscribers = 2, RelayInterfaces = 2 });
        var down = lab.RelayDownstream;
        using var host = await lab.RunInAsync(lab.Relay, () => FastPathHost.Start(
            new FastPathHostOptions(G.Protocol, objects.ObjectPath(G.Protocol), prefix + "-quic", [lab.RelayUpstream.Name, down.Name], lab.BpfFsPath),
            NullLogger.Instance));
        var maps = new G.Maps(host.Object);
        if (translated)
            maps.Config.Update(0u, new G.Config { Flags = G.ConfigTranslateFamily });

        // What the relay's userspace would write: subscribers, their credit, the channel, the upstream stream's channel
        // (learnt from its subgroup header) and each subscriber's stream for it.
        var sockets = new List<Socket>();
        try
        {
            for (uint slot = 0; slot < lab.Subscribers.Count; slot++)
            {
                var sub = lab.Subscribers[(int)slot];
                var remote = new IPEndPoint(sub.Address(family), 6100 + (int)slot);
                sockets.Add(lab.UdpSocket(sub, remote));
                var s = new G.Subscriber
                {
                    Active = 1, IfIndex = (uint)down.IfIndex, Channel = new G.ChannelKey { Id = Channel },
                    Local = Endpoint(new IPEndPoint(down.Address(family), G.UdpPort)), Remote = Endpoint(remote),
                };
                down.Mac.GetAddressBytes().CopyTo(s.MacSource);
                sub.Mac.GetAddressBytes().CopyTo(s.MacDestination);
                CidOf(slot).CopyTo(s.ConnectionId);
                maps.Subscribers.Update(slot, s);
                maps.SubscribersByEndpoint.Update(Endpoint(remote), slot);
                maps.NextPacketNumbers.Update(slot, 1000UL * slot);
                maps.CreditLimits.Update(slot, ulong.MaxValue);
                maps.CreditUsed.Update(slot, 0);
                maps.Streams.Update(new G.StreamKey { Slot = slot, UpstreamStreamId = UpstreamStream },
                    new G.StreamValue
                    {
                        StreamId = StreamOf(slot), OffsetDelta = DeltaOf(slot), ForwardFrom = FirstDataOffset, Limit = QuicMoqProtocol.MaxVarint,
                    });
            }
            var channel = new G.Channel { Count = 2 };
            channel.Slots[0] = 0;
            channel.Slots[1] = 1;
            maps.Channels.Update(new G.ChannelKey { Id = Channel }, channel);
            var lookup = new G.ChannelLookupKey { StreamId = UpstreamStream };
            PublisherCid.CopyTo(lookup.DestinationConnectionId);
            maps.ChannelLookup.Update(lookup, new G.ChannelKey { Id = Channel });

            // The publisher's packets. Nothing listens on the relay port: the originals go up and are refused there,
            // which changes nothing for the copies.
            using var publisher = lab.UdpSocket(lab.Publisher, publisherFamily);
            var relay = new IPEndPoint(lab.RelayUpstream.Address(publisherFamily), G.UdpPort);
            for (var k = 0; k < Packets; k++)
                publisher.SendTo(QuicMoqProtocol.Packet(PublisherCid, (uint)(0x7000 + k), UpstreamStream, FirstDataOffset + (ulong)(k * DataLength), Data(k),
                    fin: k == Packets - 1), relay);

            for (var slot = 0; slot < sockets.Count; slot++)
            {
                var received = Receive(sockets[slot], Packets, () => Counters(maps));
                for (var k = 0; k < Packets; k++)
                {
                    var expected = QuicMoqProtocol.Packet(CidOf((uint)slot), (uint)(1000 * slot + k), StreamOf((uint)slot),
                        (ulong)((long)FirstDataOffset + k * DataLength + DeltaOf((uint)slot)), Data(k), fin: k == Packets - 1);
                    Assert.True(expected.AsSpan().SequenceEqual(received[k]), $"slot {slot} packet {k}: {Convert.ToHexString(received[k].AsSpan(0, 30))}");
                }
            }

            var events = new List<G.Registration>();
            using (var reader = new RingBufferReader(maps.Events, record => events.Add(G.EventReader.Decode(record))))
                reader.Consume();
            Assert.Equal(2 * Packets, events.Count);
            Assert.All(events, e => Assert.Equal(G.PacketOrigin.Forwarded, e.Origin));
            Assert.Equal(2, events.Count(e => e.Fin == 1));
            Assert.Equal(translated ? 2UL * Packets : 0, maps.Stats.LookupPerCpu(0u).Aggregate(0UL, (sum, v) => sum + v.EgressFamilyTranslated));
            foreach (var sub in lab.Subscribers)
                Assert.Equal("0", await UdpChecksumErrorsAsync(lab, sub, family));
        }
        finally
        {
            foreach (var socket in sockets)
                socket.Dispose();
        }
    }

    private static byte[] CidOf(uint slot) => [0xC0, 0xC1, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, (byte)(0xD0 + slot)];

    private static ulong StreamOf(uint slot) => 3 + 4 * slot;

    /// <summary>Slot 0's own subgroup header is 4 bytes longer than the upstream's, slot 1's 2 bytes shorter.</summary>
    private static long DeltaOf(uint slot) => slot == 0 ? 4 : -2;

    private static byte[] Data(int k) => Enumerable.Range(0, DataLength).Select(i => (byte)(k * 31 + i)).ToArray();

    private static G.Endpoint Endpoint(IPEndPoint e)
    {
        var ep = new G.Endpoint { Family = EndpointBytes.Family(e), Port = EndpointBytes.NetworkPort(e) };
        EndpointBytes.Address(e, false).CopyTo(ep.Address);
        return ep;
    }

    /// <summary>count datagrams in arrival order; generous per-datagram deadline (two shared cores).</summary>
    private static List<byte[]> Receive(Socket socket, int count, Func<string> counters)
    {
        socket.ReceiveTimeout = 10_000;
        var buffer = new byte[2048];
        var received = new List<byte[]>();
        while (received.Count < count)
        {
            try
            {
                var n = socket.Receive(buffer);
                received.Add(buffer.AsSpan(0, n).ToArray());
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
            {
                throw new Xunit.Sdk.XunitException($"{received.Count} of {count} copies arrived at {socket.LocalEndPoint}; kernel counters: {counters()}");
            }
        }
        return received;
    }

    /// <summary>The relay's non-zero counters, for a failure message.</summary>
    private static string Counters(G.Maps maps)
    {
        var fields = typeof(G.Stats).GetFields();
        var perCpu = maps.Stats.LookupPerCpu(0u);
        return string.Join(", ", fields.Select(f => (f.Name, Sum: perCpu.Sum(v => (decimal)(ulong)f.GetValue(v)!))).Where(x => x.Sum != 0)
            .Select(x => $"{x.Name}={x.Sum}"));
    }

    /// <summary>The subscriber kernel's UDP checksum error counter (/proc/net/snmp or snmp6).</summary>
    private static async Task<string> UdpChecksumErrorsAsync(LabNetwork lab, LabHost host, AddressFamily family)
    {
        if (family == AddressFamily.InterNetworkV6)
        {
            var snmp6 = (await lab.ExecAsync(host, "cat", "/proc/net/snmp6")).StandardOutput;
            return snmp6.Split('\n').Select(l => l.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
                .Single(f => f.Length == 2 && f[0] == "Udp6InCsumErrors")[1];
        }
        var lines = (await lab.ExecAsync(host, "cat", "/proc/net/snmp")).StandardOutput.Split('\n').Where(l => l.StartsWith("Udp:")).ToList();
        var names = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var values = lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return values[Array.IndexOf(names, "InCsumErrors")];
    }
}
