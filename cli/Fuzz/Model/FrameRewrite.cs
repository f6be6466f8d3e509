using System.Buffers.Binary;

namespace FastRelay.Cli.Fuzz.Model;

/// <summary>How the model rewrites a frame that leaves egress (a copy for a subscriber, or a stack packet it numbers).</summary>
public static class FrameRewrite
{
    /// <summary>
    /// The frame as it leaves: for a copy (<paramref name="sub"/> set) the subscriber's MACs, addresses and ports, the path
    /// fields reset (TTL / hop limit, ECN, flow label), the other family's IP header when the families differ; the
    /// protocol header replaced by <paramref name="newHeader"/>; checksums moved by exactly the change, so that an
    /// error the upstream's checksum had is kept, and an IPv4 datagram without a UDP checksum keeps none.
    /// </summary>
    public static byte[] Apply(byte[] frame, ParsedFrame p, SubscriberSlot? sub, ReadOnlySpan<byte> oldHeader, ReadOnlySpan<byte> newHeader,
        bool rewritePorts, byte copyTtl)
    {
        var outFamily = sub?.Remote.Family ?? p.Family;
        var translate = outFamily != p.Family;
        var l4Tail = frame.AsSpan(p.L4Offset);
        var ipLength = translate ? ReferenceModel.IpHeaderLength(outFamily) : p.L4Offset - ParsedFrame.L3Offset;
        var output = new byte[ParsedFrame.L3Offset + ipLength + l4Tail.Length];
        frame.AsSpan(0, ParsedFrame.L3Offset).CopyTo(output);
        if (!translate)
            frame.AsSpan(ParsedFrame.L3Offset, ipLength).CopyTo(output.AsSpan(ParsedFrame.L3Offset));
        var l4 = ParsedFrame.L3Offset + ipLength;
        l4Tail.CopyTo(output.AsSpan(l4));

        var udpLength = p.PayloadLength + 8;
        var change = 0u; // the UDP checksum's change: pseudo header, ports, protocol header
        var ip = output.AsSpan(ParsedFrame.L3Offset, ipLength);
        if (sub is not null)
        {
            sub.MacDestination.CopyTo(output, 0);
            sub.MacSource.CopyTo(output, 6);
            var tos = (byte)(p.Tos & 0xFC);
            var local = sub.Local.Address.AsSpan(0, outFamily == 6 ? 16 : 4);
            var remote = sub.Remote.Address.AsSpan(0, outFamily == 6 ? 16 : 4);
            change = InternetChecksum.SumComplement(p.SourceAddress, change);
            change = InternetChecksum.SumComplement(p.DestinationAddress, change);
            change = InternetChecksum.Sum(local, change);
            change = InternetChecksum.Sum(remote, change);
            if (outFamily == 6)
            {
                BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6000_0000u | (uint)tos << 20);
                if (translate)
                {
                    BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)udpLength);
                    ip[6] = 17;
                }
                ip[7] = copyTtl;
                local.CopyTo(ip[8..]);
                remote.CopyTo(ip[24..]);
                BinaryPrimitives.WriteUInt16BigEndian(output.AsSpan(12), 0x86DD);
            }
            else if (translate)
            {
                ip.Clear();
                ip[0] = 0x45;
                ip[1] = tos;
                BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + udpLength));
                BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000);
                ip[8] = copyTtl;
                ip[9] = 17;
                local.CopyTo(ip[12..]);
                remote.CopyTo(ip[16..]);
                BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Complete(InternetChecksum.Sum(ip)));
                BinaryPrimitives.WriteUInt16BigEndian(output.AsSpan(12), 0x0800);
            }
            else
            {
                var old = frame.AsSpan(ParsedFrame.L3Offset, 20);
                ip[1] = tos;
                ip[8] = copyTtl;
                local.CopyTo(ip[12..]);
                remote.CopyTo(ip[16..]);
                var headerChange = InternetChecksum.SumComplement(old[..2]);
                headerChange = InternetChecksum.SumComplement(old[8..10], headerChange);
                headerChange = InternetChecksum.SumComplement(old[12..20], headerChange);
                headerChange = InternetChecksum.Sum(ip[..2], headerChange);
                headerChange = InternetChecksum.Sum(ip[8..10], headerChange);
                headerChange = InternetChecksum.Sum(ip[12..20], headerChange);
                BinaryPrimitives.WriteUInt16BigEndian(ip[10..],
                    InternetChecksum.Update(BinaryPrimitives.ReadUInt16BigEndian(old[10..]), headerChange));
            }
        }

        var udp = output.AsSpan(l4);
        if (rewritePorts && sub is not null)
        {
            change = InternetChecksum.SumComplement(udp[..4], change);
            BinaryPrimitives.WriteUInt16BigEndian(udp, sub.Local.Port);
            BinaryPrimitives.WriteUInt16BigEndian(udp[2..], sub.Remote.Port);
            change = InternetChecksum.Sum(udp[..4], change);
        }
        change = InternetChecksum.SumComplement(oldHeader, change);
        change = InternetChecksum.Sum(newHeader, change);
        newHeader.CopyTo(udp[8..]);

        ushort check;
        if (outFamily == 4 && p.UdpChecksum == 0)
            check = 0; // "no checksum" stays so
        else if (translate && p.UdpChecksum == 0)
        {
            // An IPv4 datagram without a checksum becomes IPv6, which needs one: computed in full over the copy.
            udp[6] = udp[7] = 0;
            var sum = InternetChecksum.Sum(ip[8..40]);
            sum = InternetChecksum.Sum([0, 0, (byte)(udpLength >> 8), (byte)udpLength, 0, 0, 0, 17], sum);
            sum = InternetChecksum.Sum(udp[..udpLength], sum);
            check = InternetChecksum.Complete(sum);
        }
        else
            check = InternetChecksum.Update(p.UdpChecksum, change);
        if (check == 0 && !(outFamily == 4 && p.UdpChecksum == 0))
            check = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], check);
        return output;
    }
}
