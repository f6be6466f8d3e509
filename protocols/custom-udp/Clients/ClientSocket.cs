using System.Net;
using System.Net.Sockets;

namespace FastRelay.Protocols.CustomUdp.Clients;

/// <summary>The one UDP socket a client uses, of the relay's address family, bound to an ephemeral port (or the given
/// local endpoint). Both IPv4 and IPv6 relays work; the relay's sockaddr is kept for allocation-free sends.</summary>
internal static class ClientSocket
{
    public static Socket Open(IPEndPoint relay, IPEndPoint? local)
    {
        var socket = new Socket(relay.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (relay.AddressFamily == AddressFamily.InterNetworkV6)
                socket.DualMode = false;
            socket.ReceiveBufferSize = 4 << 20; // capped by net.core.rmem_max
            socket.SendBufferSize = 4 << 20;
            socket.Bind(local ?? new IPEndPoint(relay.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends without throwing: false on a socket error (counted by the caller).</summary>
    public static bool TrySend(Socket socket, ReadOnlySpan<byte> datagram, SocketAddress to)
    {
        try
        {
            return socket.SendTo(datagram, SocketFlags.None, to) == datagram.Length;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Receives one datagram (allocation-free); -1 on a socket error (e.g. an ICMP error queued on the socket).</summary>
    public static int TryReceive(Socket socket, Span<byte> buffer, SocketAddress from)
    {
        try
        {
            return socket.ReceiveFrom(buffer, SocketFlags.None, from);
        }
        catch (SocketException)
        {
            return -1;
        }
    }

    /// <summary>Waits until a datagram is readable or the timeout passes (ms granularity: poll(2)).</summary>
    public static bool WaitReadable(Socket socket, long timeoutNs)
    {
        var ms = timeoutNs <= 0 ? 0 : (int)Math.Min((timeoutNs + 999_999) / 1_000_000, 1000);
        return socket.Poll(ms * 1000, SelectMode.SelectRead);
    }
}
