using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;

namespace FastRelay.Net;

/// <summary>Where packets to <see cref="Destination"/> leave: what a subscriber egress rewrite needs.</summary>
/// <param name="Gateway">The route's gateway, null when the destination is on-link.</param>
/// <param name="NextHop">The address whose neighbour entry gave <see cref="NextHopMac"/> (gateway or destination).</param>
/// <param name="Source">The source address the kernel would pick.</param>
public sealed record RouteResolution(
    IPAddress Destination, int Ifindex, string Device, IPAddress Source, IPAddress? Gateway, IPAddress NextHop,
    PhysicalAddress NextHopMac, PhysicalAddress DeviceMac);

/// <summary>The route is known but the next hop has no usable neighbour entry yet (none, INCOMPLETE or FAILED).
/// Send the destination a packet (so the kernel resolves it) and retry.</summary>
public sealed class NeighbourNotResolvedException(IPAddress destination, IPAddress nextHop, string device, string state)
    : Exception($"no neighbour entry for next hop {nextHop} on {device} (towards {destination}; state: {state}); " +
                "send it a packet so the kernel resolves it, then retry")
{
    public IPAddress Destination { get; } = destination;
    public IPAddress NextHop { get; } = nextHop;
    public string Device { get; } = device;
}

/// <summary>No route (or a local/unreachable/blackhole one) to the destination.</summary>
public sealed class RouteNotFoundException(IPAddress destination, string reason)
    : Exception($"no usable route to {destination}: {reason}")
{
    public IPAddress Destination { get; } = destination;
}

/// <summary>
/// Route and neighbour lookup over NETLINK_ROUTE (RTM_GETROUTE, RTM_GETNEIGH, RTM_GETLINK), IPv4 and IPv6, in the
/// calling thread's network namespace (<see cref="NetworkNamespace.Run{T}"/> for another).
/// </summary>
public static class RouteResolver
{
    private const ushort RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5, RTA_PREFSRC = 7, RTA_VIA = 18;
    private const ushort NDA_DST = 1, NDA_LLADDR = 2;
    private const ushort IFLA_ADDRESS = 1, IFLA_IFNAME = 3;
    private const byte RTN_UNICAST = 1, RTN_LOCAL = 2;
    private const ushort NUD_INCOMPLETE = 0x01, NUD_FAILED = 0x20, NUD_NOARP = 0x40;

    /// <summary>
    /// <see cref="Resolve"/> for a peer the relay has just exchanged packets with (a handshake): the neighbour entry is
    /// normally there, and one still resolving gets a moment (up to 50 tries 10 ms apart) before the failure is thrown.
    /// </summary>
    public static RouteResolution ResolveRecentPeer(IPAddress destination, CancellationToken cancellationToken = default)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return Resolve(destination);
            }
            catch (NeighbourNotResolvedException) when (attempt < 50 && !cancellationToken.IsCancellationRequested)
            {
                Thread.Sleep(10);
            }
        }
    }

    /// <exception cref="RouteNotFoundException">No route, or the destination is local.</exception>
    /// <exception cref="NeighbourNotResolvedException">The next hop's MAC is not known yet.</exception>
    public static RouteResolution Resolve(IPAddress destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (destination.IsIPv4MappedToIPv6) destination = destination.MapToIPv4();
        using var nl = RtNetlink.Open();

        var (ifindex, source, gateway) = GetRoute(nl, destination);
        var (device, deviceMac) = GetLink(nl, ifindex);
        var nextHop = gateway ?? destination;
        var mac = GetNeighbour(nl, destination, nextHop, ifindex, device);
        return new RouteResolution(destination, ifindex, device, source, gateway, nextHop, mac, deviceMac);
    }

    private static byte Family(IPAddress a) => a.AddressFamily == AddressFamily.InterNetwork ? (byte)2 : (byte)10;

    private static (int Ifindex, IPAddress Source, IPAddress? Gateway) GetRoute(RtNetlink nl, IPAddress destination)
    {
        byte[] addr = destination.GetAddressBytes();
        Span<byte> rtmsg = stackalloc byte[12];
        rtmsg.Clear();
        rtmsg[0] = Family(destination);
        rtmsg[1] = (byte)(addr.Length * 8); // dst_len
        (ushort type, byte[] payload) reply;
        try
        {
            reply = nl.Request(RtNetlink.RTM_GETROUTE, rtmsg, (RTA_DST, addr));
        }
        catch (NetlinkException e)
        {
            throw new RouteNotFoundException(destination, e.Message);
        }
        if (reply.type != RtNetlink.RTM_NEWROUTE || reply.payload.Length < 12)
            throw new IOException($"unexpected netlink reply {reply.type} to RTM_GETROUTE");
        byte rtType = reply.payload[7];
        if (rtType == RTN_LOCAL) throw new RouteNotFoundException(destination, "it is an address of this host");
        if (rtType != RTN_UNICAST) throw new RouteNotFoundException(destination, $"route type {rtType} (not unicast)");

        int ifindex = 0;
        IPAddress? source = null, gateway = null;
        foreach (var (t, v) in RtNetlink.Attributes(reply.payload.AsSpan(12)))
        {
            switch (t)
            {
                case RTA_OIF: ifindex = BinaryPrimitives.ReadInt32LittleEndian(v); break;
                case RTA_PREFSRC: source = new IPAddress(v); break;
                case RTA_GATEWAY: gateway = new IPAddress(v); break;
                case RTA_VIA when v.Length >= 2: // struct rtvia: family, then the address (IPv4 routes via IPv6 next hops)
                    gateway = new IPAddress(v.AsSpan(2, BinaryPrimitives.ReadUInt16LittleEndian(v) == 10 ? 16 : 4)); break;
            }
        }
        if (ifindex == 0) throw new RouteNotFoundException(destination, "the route has no output device");
        if (source is null) throw new RouteNotFoundException(destination, $"no source address on ifindex {ifindex}");
        return (ifindex, source, gateway);
    }

    private static (string Name, PhysicalAddress Mac) GetLink(RtNetlink nl, int ifindex)
    {
        Span<byte> ifinfo = stackalloc byte[16];
        ifinfo.Clear();
        BinaryPrimitives.WriteInt32LittleEndian(ifinfo[4..], ifindex);
        var (type, payload) = nl.Request(RtNetlink.RTM_GETLINK, ifinfo);
        if (type != RtNetlink.RTM_NEWLINK || payload.Length < 16) throw new IOException($"unexpected netlink reply {type} to RTM_GETLINK");
        string name = $"ifindex {ifindex}";
        var mac = PhysicalAddress.None;
        foreach (var (t, v) in RtNetlink.Attributes(payload.AsSpan(16)))
        {
            if (t == IFLA_IFNAME) name = Encoding.UTF8.GetString(v.AsSpan().TrimEnd((byte)0));
            else if (t == IFLA_ADDRESS) mac = new PhysicalAddress(v);
        }
        return (name, mac);
    }

    private static PhysicalAddress GetNeighbour(RtNetlink nl, IPAddress destination, IPAddress nextHop, int ifindex, string device)
    {
        Span<byte> ndmsg = stackalloc byte[12];
        ndmsg.Clear();
        ndmsg[0] = Family(nextHop);
        BinaryPrimitives.WriteInt32LittleEndian(ndmsg[4..], ifindex);
        (ushort type, byte[] payload) reply;
        try
        {
            reply = nl.Request(RtNetlink.RTM_GETNEIGH, ndmsg, (NDA_DST, nextHop.GetAddressBytes()));
        }
        catch (NetlinkException e) when (e.Errno == 2 /* ENOENT */)
        {
            throw new NeighbourNotResolvedException(destination, nextHop, device, "none");
        }
        if (reply.type != RtNetlink.RTM_NEWNEIGH || reply.payload.Length < 12)
            throw new IOException($"unexpected netlink reply {reply.type} to RTM_GETNEIGH");
        ushort state = BinaryPrimitives.ReadUInt16LittleEndian(reply.payload.AsSpan(8));
        PhysicalAddress? mac = null;
        foreach (var (t, v) in RtNetlink.Attributes(reply.payload.AsSpan(12)))
            if (t == NDA_LLADDR) mac = new PhysicalAddress(v);
        if ((state & (NUD_INCOMPLETE | NUD_FAILED)) != 0 || mac is null || (mac.GetAddressBytes().All(b => b == 0) && (state & NUD_NOARP) == 0))
            throw new NeighbourNotResolvedException(destination, nextHop, device, StateName(state));
        return mac;
    }

    private static string StateName(ushort state) => state switch
    {
        0x01 => "INCOMPLETE", 0x02 => "REACHABLE", 0x04 => "STALE", 0x08 => "DELAY", 0x10 => "PROBE",
        0x20 => "FAILED", 0x40 => "NOARP", 0x80 => "PERMANENT", 0 => "NONE", _ => $"0x{state:x}",
    };
}
