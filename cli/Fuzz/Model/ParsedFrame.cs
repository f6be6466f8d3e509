using System.Buffers.Binary;

namespace FastRelay.Cli.Fuzz.Model;

public enum ParseOutcome
{
    Ok,
    /// <summary>Not an IPv4/IPv6 UDP datagram the relay handles (other ethertype, VLAN tag, other protocol, IPv6
    /// extension header, fragment, jumbogram).</summary>
    Other,
    /// <summary>A header or a claimed length runs past the end of the frame.</summary>
    Truncated,
}

/// <summary>
/// Ethernet → IPv4 (any IHL, no fragment) | IPv6 (UDP as the next header) → UDP, every claimed length checked against the
/// frame, as the relay's programs must read it (bpf-templates/README.md, "The programs"): the model's own parser.
/// </summary>
public sealed record ParsedFrame
{
    public const int L3Offset = 14;

    public ParseOutcome Outcome { get; init; }
    public bool IsIpv6 { get; init; }
    public int L4Offset { get; init; }
    public int PayloadOffset => L4Offset + 8;
    /// <summary>UDP payload bytes per the UDP length field.</summary>
    public int PayloadLength { get; init; }
    public ushort UdpChecksum { get; init; }
    public byte Tos { get; init; }
    public byte Ttl { get; init; }
    public byte[] SourceAddress { get; init; } = [];
    public byte[] DestinationAddress { get; init; } = [];
    public ushort SourcePort { get; init; }
    public ushort DestinationPort { get; init; }

    public byte Family => (byte)(IsIpv6 ? 6 : 4);

    private static readonly ParsedFrame OtherFrame = new() { Outcome = ParseOutcome.Other };
    private static readonly ParsedFrame TruncatedFrame = new() { Outcome = ParseOutcome.Truncated };

    public static ParsedFrame Parse(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 14)
            return OtherFrame;
        var type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        int l4, ipPayload;
        ParsedFrame partial;
        if (type == 0x0800)
        {
            if (frame.Length < L3Offset + 20)
                return TruncatedFrame;
            var ip = frame[L3Offset..];
            var ihl = ip[0] & 0x0F;
            if (ip[0] >> 4 != 4 || ihl < 5 || ip[9] != 17)
                return OtherFrame;
            if ((BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3FFF) != 0) // MF or a fragment offset
                return OtherFrame;
            var total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
            if (total < ihl * 4 + 8 || L3Offset + total > frame.Length)
                return TruncatedFrame;
            l4 = L3Offset + ihl * 4;
            ipPayload = total - ihl * 4;
            partial = new ParsedFrame { IsIpv6 = false, Tos = ip[1], Ttl = ip[8], SourceAddress = ip[12..16].ToArray(), DestinationAddress = ip[16..20].ToArray() };
        }
        else if (type == 0x86DD)
        {
            if (frame.Length < L3Offset + 40)
                return TruncatedFrame;
            var ip = frame[L3Offset..];
            if (ip[0] >> 4 != 6 || ip[6] != 17)
                return OtherFrame;
            var plen = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
            if (plen == 0)
                return OtherFrame;
            if (plen < 8 || L3Offset + 40 + plen > frame.Length)
                return TruncatedFrame;
            l4 = L3Offset + 40;
            ipPayload = plen;
            partial = new ParsedFrame
            {
                IsIpv6 = true, Tos = (byte)((ip[0] << 4) | (ip[1] >> 4)), Ttl = ip[7],
                SourceAddress = ip[8..24].ToArray(), DestinationAddress = ip[24..40].ToArray(),
            };
        }
        else
            return OtherFrame;

        var udp = frame[l4..];
        var udpLength = BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);
        if (udpLength < 8 || udpLength > ipPayload)
            return TruncatedFrame;
        return partial with
        {
            Outcome = ParseOutcome.Ok, L4Offset = l4, PayloadLength = udpLength - 8,
            SourcePort = BinaryPrimitives.ReadUInt16BigEndian(udp), DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(udp[2..]),
            UdpChecksum = BinaryPrimitives.ReadUInt16BigEndian(udp[6..]),
        };
    }
}
