using System.Net;
using System.Net.Sockets;
using FastRelay.Net;

namespace FastRelay.Relay;

/// <summary>
/// The device, relay address and MACs towards a subscriber that never spoke to the relay (a configured address, not a
/// handshake peer): the egress program rewrites copies with them. When the next hop's MAC is not known yet, an empty
/// datagram to the subscriber's discard port (9) makes the kernel resolve it; the subscriber's own port never sees it.
/// </summary>
public static class SubscriberRoutes
{
    public const int DiscardPort = 9;

    /// <summary>Resolves the route to <paramref name="remote"/>; the relay's side of the copies is the route's source
    /// address and <paramref name="relayPort"/>.</summary>
    /// <exception cref="RouteNotFoundException">No usable route.</exception>
    /// <exception cref="NeighbourNotResolvedException">Still unresolved after the probe and a short wait.</exception>
    public static KernelSubscriber Resolve(int slot, ulong channel, IPEndPoint remote, int relayPort, byte[]? connectionId = null, CancellationToken cancellationToken = default)
    {
        var plain = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
        RouteResolution route;
        try
        {
            route = RouteResolver.Resolve(plain);
        }
        catch (NeighbourNotResolvedException)
        {
            Probe(plain);
            route = RouteResolver.ResolveRecentPeer(plain, cancellationToken);
        }
        return new KernelSubscriber(slot, channel, new IPEndPoint(plain, remote.Port), new IPEndPoint(route.Source, relayPort), route.Ifindex,
            route.DeviceMac.GetAddressBytes(), route.NextHopMac.GetAddressBytes(), connectionId);
    }

    private static void Probe(IPAddress address)
    {
        try
        {
            using var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            socket.SendTo(Array.Empty<byte>(), new IPEndPoint(address, DiscardPort));
        }
        catch (SocketException)
        {
            // Unreachable right now: the resolution that follows reports it.
        }
    }
}
