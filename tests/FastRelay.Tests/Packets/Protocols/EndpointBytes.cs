using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace FastRelay.Tests.Packets.Protocols;

/// <summary>How <c>struct fr_endpoint</c> holds an endpoint: family 4|6, port in network order, IPv4 in addr[0..3].</summary>
public static class EndpointBytes
{
    public static byte Family(IPEndPoint e) => e.AddressFamily == AddressFamily.InterNetworkV6 ? (byte)6 : (byte)4;

    public static ushort NetworkPort(IPEndPoint e) =>
        BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness((ushort)e.Port) : (ushort)e.Port;

    /// <summary>16 bytes; an IPv4 address is followed by zeros, or by junk the kernel must ignore.</summary>
    public static byte[] Address(IPEndPoint e, bool junkAfterIpv4 = false)
    {
        var bytes = new byte[16];
        var address = e.Address.GetAddressBytes();
        address.CopyTo(bytes, 0);
        if (junkAfterIpv4 && address.Length == 4)
            bytes.AsSpan(4).Fill(0xA5);
        return bytes;
    }
}
