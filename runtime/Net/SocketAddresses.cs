using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace FastRelay.Net;

/// <summary>Allocation-free reads of <see cref="SocketAddress"/> (the raw sockaddr that
/// <c>Socket.ReceiveFrom(Span&lt;byte&gt;, SocketFlags, SocketAddress)</c> fills in).</summary>
public static class SocketAddresses
{
    /// <summary>
    /// The peer's address in 16-byte IPv6 form (IPv4 as IPv4-mapped <c>::ffff:a.b.c.d</c>, so a peer has one identity on
    /// IPv4 and dual-stack sockets) and its port. The IPv6 scope id and flow label are ignored. False for other families
    /// or a too-short buffer.
    /// </summary>
    public static bool TryGetAddressAndPort(SocketAddress address, Span<byte> address16, out ushort port)
    {
        port = 0;
        if (address16.Length < 16) return false;
        var raw = address.Buffer.Span[..address.Size];
        switch (address.Family)
        {
            case AddressFamily.InterNetwork when raw.Length >= 8:
                address16[..10].Clear();
                address16[10] = 0xFF;
                address16[11] = 0xFF;
                raw.Slice(4, 4).CopyTo(address16[12..]);
                break;
            case AddressFamily.InterNetworkV6 when raw.Length >= 24:
                raw.Slice(8, 16).CopyTo(address16);
                break;
            default:
                return false;
        }
        port = BinaryPrimitives.ReadUInt16BigEndian(raw[2..]);
        return true;
    }

    /// <summary>The address (16-byte IPv6 form, IPv4 as IPv4-mapped) and port as one dictionary key, read without
    /// allocating; false for other families.</summary>
    public static bool TryGetKey(SocketAddress address, out (UInt128 Address, ushort Port) key)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (!TryGetAddressAndPort(address, bytes, out var port))
        {
            key = default;
            return false;
        }
        key = (BinaryPrimitives.ReadUInt128BigEndian(bytes), port);
        return true;
    }

    /// <summary>True if both name the same IP address and port (IPv4 equal to its IPv4-mapped IPv6 form; scope id and
    /// flow label ignored). False if either is not IPv4/IPv6.</summary>
    public static bool SameEndpoint(SocketAddress a, SocketAddress b)
    {
        Span<byte> x = stackalloc byte[16];
        Span<byte> y = stackalloc byte[16];
        return TryGetAddressAndPort(a, x, out var px) && TryGetAddressAndPort(b, y, out var py) && px == py && x.SequenceEqual(y);
    }

    /// <summary>Serialises an endpoint in the socket's own family (a dual-stack socket needs IPv4-mapped IPv6).</summary>
    public static SocketAddress For(Socket socket, IPEndPoint endpoint) => Normalise(socket, endpoint).Serialize();

    public static IPEndPoint Normalise(Socket socket, IPEndPoint endpoint) =>
        socket.AddressFamily == AddressFamily.InterNetworkV6 && endpoint.AddressFamily == AddressFamily.InterNetwork
            ? new IPEndPoint(endpoint.Address.MapToIPv6(), endpoint.Port)
            : endpoint;

    /// <summary>The plain form kernel maps and route lookups use: IPv4-mapped IPv6 becomes IPv4.</summary>
    public static IPEndPoint Plain(IPEndPoint endpoint) =>
        endpoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endpoint.Address.MapToIPv4(), endpoint.Port) : endpoint;
}
