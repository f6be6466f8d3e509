using System.Buffers.Binary;
using System.Net;

namespace FastRelay.Tests.Packets;

/// <summary>Builds Ethernet + IPv4/IPv6 + UDP frames byte by byte, with correct checksums computed here, independent
/// of the kernel code under test.</summary>
public sealed record PacketBuilder
{
    public byte[] SourceMac { get; init; } = [0x02, 0, 0, 0, 0, 0x01];
    public byte[] DestinationMac { get; init; } = [0x02, 0, 0, 0, 0, 0x02];
    public IPAddress Source { get; init; } = IPAddress.Parse("10.200.0.1");
    public IPAddress Destination { get; init; } = IPAddress.Parse("10.200.0.2");
    public ushort SourcePort { get; init; } = 5000;
    public ushort DestinationPort { get; init; } = 7400;

    /// <summary>IPv4 options (a multiple of 4 bytes, at most 40) to exercise IHL &gt; 5.</summary>
    public byte[] Ipv4Options { get; init; } = [];

    /// <summary>False leaves the IPv4 UDP checksum 0 ("no checksum").</summary>
    public bool UdpChecksum { get; init; } = true;

    public byte Ttl { get; init; } = 64;

    /// <summary>IPv4 identification (the header is always sent with DF).</summary>
    public ushort Ipv4Id { get; init; } = 0x1234;

    /// <summary>IPv4 TOS / IPv6 traffic class: DSCP in the upper six bits, ECN in the lower two.</summary>
    public byte Tos { get; init; }

    /// <summary>IPv6 flow label (20 bits).</summary>
    public uint FlowLabel { get; init; }

    public bool IsIpv6 => Source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;

    public byte[] Build(ReadOnlySpan<byte> payload)
    {
        var ipHeader = IsIpv6 ? 40 : 20 + Ipv4Options.Length;
        var frame = new byte[14 + ipHeader + 8 + payload.Length];
        SourceMac.CopyTo(frame, 6);
        DestinationMac.CopyTo(frame, 0);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), (ushort)(IsIpv6 ? 0x86DD : 0x0800));
        var ip = frame.AsSpan(14, ipHeader);
        var udpLength = 8 + payload.Length;
        if (IsIpv6)
        {
            BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6000_0000u | (uint)Tos << 20 | (FlowLabel & 0xFFFFF));
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)udpLength);
            ip[6] = 17;
            ip[7] = Ttl;
            Source.GetAddressBytes().CopyTo(ip[8..]);
            Destination.GetAddressBytes().CopyTo(ip[24..]);
        }
        else
        {
            ip[0] = (byte)(0x40 | (ipHeader / 4));
            ip[1] = Tos;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(ipHeader + udpLength));
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], Ipv4Id);
            BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000); // DF
            ip[8] = Ttl;
            ip[9] = 17;
            Source.GetAddressBytes().CopyTo(ip[12..]);
            Destination.GetAddressBytes().CopyTo(ip[16..]);
            Ipv4Options.CopyTo(ip[20..]);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksums.Ipv4Header(ip));
        }
        var udp = frame.AsSpan(14 + ipHeader);
        BinaryPrimitives.WriteUInt16BigEndian(udp, SourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], DestinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udpLength);
        payload.CopyTo(udp[8..]);
        if (UdpChecksum || IsIpv6)
            BinaryPrimitives.WriteUInt16BigEndian(udp[6..], Checksums.Udp(frame));
        return frame;
    }
}
