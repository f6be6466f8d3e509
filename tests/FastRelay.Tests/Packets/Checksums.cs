using System.Buffers.Binary;

namespace FastRelay.Tests.Packets;

/// <summary>RFC 1071 checksums computed from scratch, to judge the kernel's incremental updates.</summary>
public static class Checksums
{
    public static ushort Ipv4Header(ReadOnlySpan<byte> header)
    {
        var ihl = (header[0] & 0x0F) * 4;
        uint sum = 0;
        for (var i = 0; i < ihl; i += 2)
            if (i != 10)
                sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        return Fold(sum);
    }

    /// <summary>The UDP checksum the frame should carry (0 becomes 0xFFFF, RFC 768).</summary>
    public static ushort Udp(ReadOnlySpan<byte> frame)
    {
        var result = (ushort)~UdpSum(frame);
        return result == 0 ? (ushort)0xFFFF : result;
    }

    /// <summary>The folded one's-complement sum over pseudo header and datagram, checksum field excluded. A value of
    /// 0xFFFF means the checksum computes to 0 and must be sent as 0xFFFF.</summary>
    public static ushort UdpSum(ReadOnlySpan<byte> frame)
    {
        var parsed = ParsedFrame.Parse(frame);
        var udp = frame.Slice(parsed.UdpOffset, parsed.UdpLength);
        uint sum = 0;
        var src = frame.Slice(parsed.SourceAddressOffset, parsed.AddressLength);
        var dst = frame.Slice(parsed.DestinationAddressOffset, parsed.AddressLength);
        sum += Sum(src) + Sum(dst) + 17 + (uint)parsed.UdpLength;
        for (var i = 0; i < udp.Length; i += 2)
        {
            if (i == 6)
                continue;
            sum += i + 1 < udp.Length ? BinaryPrimitives.ReadUInt16BigEndian(udp[i..]) : (uint)(udp[i] << 8);
        }
        return (ushort)~Fold(sum);
    }

    private static uint Sum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (var i = 0; i < data.Length; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        return sum;
    }

    private static ushort Fold(uint sum)
    {
        while (sum >> 16 != 0)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}

/// <summary>Offsets of an Ethernet/IP/UDP frame, read the way a test expects them, not the way the kernel does.</summary>
public readonly record struct ParsedFrame(bool IsIpv6, int IpOffset, int IpHeaderLength, int UdpOffset, int UdpLength,
    int SourceAddressOffset, int DestinationAddressOffset, int AddressLength)
{
    public int PayloadOffset => UdpOffset + 8;

    public static ParsedFrame Parse(ReadOnlySpan<byte> frame)
    {
        var ethType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        if (ethType == 0x86DD)
        {
            var udpLength = BinaryPrimitives.ReadUInt16BigEndian(frame[(14 + 4)..]);
            return new ParsedFrame(true, 14, 40, 54, udpLength, 14 + 8, 14 + 24, 16);
        }
        var ihl = (frame[14] & 0x0F) * 4;
        var udp = 14 + ihl;
        return new ParsedFrame(false, 14, ihl, udp, BinaryPrimitives.ReadUInt16BigEndian(frame[(udp + 4)..]), 14 + 12, 14 + 16, 4);
    }

    public ushort UdpChecksumField(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt16BigEndian(frame[(UdpOffset + 6)..]);

    public ushort SourcePort(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt16BigEndian(frame[UdpOffset..]);

    public ushort DestinationPort(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt16BigEndian(frame[(UdpOffset + 2)..]);
}
