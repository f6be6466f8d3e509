using FastRelay.Tests.Packets.Protocols;

namespace FastRelay.Tests.Packets.Fixtures;

/// <summary>
/// Input and expected frames, built independently of the kernel: addressing from <see cref="Topology"/>, headers from
/// the protocol's own encoder, checksums from <see cref="Checksums"/> (inside <see cref="PacketBuilder"/>).
/// </summary>
public static class Frames
{
    /// <summary>Application payload after the protocol header: a recognisable pattern.</summary>
    public static byte[] Tail(int length = 40) => Enumerable.Range(0, length).Select(i => (byte)(0xD0 ^ i)).ToArray();

    public static byte[] Payload(ReadOnlySpan<byte> header, ReadOnlySpan<byte> tail) => [.. header, .. tail];

    /// <summary>A datagram from the upstream to the relay port, as upstream ingress sees it.</summary>
    public static PacketBuilder FromUpstream(FastPathProtocol protocol, bool v6 = false) => new()
    {
        SourceMac = Topology.UpstreamMac,
        DestinationMac = Topology.RelayUpstreamMac,
        Source = Topology.Upstream(v6).Address,
        Destination = Topology.RelayUpstreamAddress(v6),
        SourcePort = Topology.UpstreamPort,
        DestinationPort = protocol.UdpPort,
    };

    /// <summary>The hop limit every copy leaves with: a copy is a new datagram from the relay, not the publisher's one
    /// forwarded (its TTL would leak the publisher's path length and could expire on the way to the subscriber).</summary>
    public const byte CopyTtl = 64;

    /// <summary>The same datagram re-addressed to a subscriber (IP options, id, DSCP and checksum mode kept). For a subscriber
    /// of the other family the copy is a new header of that family: no IPv4 options, IPv4 id 0 with DF (what Linux sends
    /// for an unconnected socket's DF datagrams), and a UDP checksum (IPv6 requires one; an IPv4 copy of an IPv6 datagram
    /// keeps it).</summary>
    public static PacketBuilder ToSubscriber(PacketBuilder like, SubscriberSpec sub)
    {
        var copy = ToRelayStack(like, sub) with
        {
            Ttl = CopyTtl,
            Tos = (byte)(like.Tos & 0xFC), // ECN of the publisher's path (CE above all) is not the subscriber's path's
            FlowLabel = 0,
        };
        return copy.IsIpv6 == like.IsIpv6 ? copy : copy with { Ipv4Options = [], Ipv4Id = 0, UdpChecksum = true };
    }

    private static PacketBuilder ToRelayStack(PacketBuilder like, SubscriberSpec sub) => like with
    {
        SourceMac = sub.MacSource,
        DestinationMac = sub.MacDestination,
        Source = sub.Local.Address,
        Destination = sub.Remote.Address,
        SourcePort = (ushort)sub.Local.Port,
        DestinationPort = (ushort)sub.Remote.Port,
    };

    /// <summary>A datagram the relay's own stack sends to a subscriber.</summary>
    public static PacketBuilder FromRelayStack(SubscriberSpec sub, bool udpChecksum = true) =>
        ToRelayStack(new PacketBuilder { UdpChecksum = udpChecksum }, sub);

    /// <summary>The frame a subscriber should receive for an upstream datagram with this header and tail.</summary>
    public static byte[] ExpectedCopy(FastPathProtocol protocol, PacketBuilder upstream, SubscriberSpec sub,
        ReadOnlySpan<byte> header, ReadOnlySpan<byte> tail, ulong packetNumber, ulong? streamId) =>
        ToSubscriber(upstream, sub).Build(Payload(protocol.RewrittenHeader(header, sub.ConnectionId, packetNumber, streamId), tail));
}
