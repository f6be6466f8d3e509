using System.Buffers.Binary;
using System.Text;

namespace FastRelay.Net;

/// <summary>One network device and how it is stacked (RTM_NEWLINK).</summary>
/// <param name="Master">ifindex of the bridge, bond, team or VRF it is enslaved to (IFLA_MASTER); 0 = none.</param>
/// <param name="Lower">ifindex of the device it is built on (IFLA_LINK: a VLAN's or macvlan's lower device) in this
/// namespace; 0 = none or in another namespace (a veth's peer).</param>
/// <param name="Kind">IFLA_INFO_KIND ("bridge", "vlan", "veth", "bond", ...); null for a plain physical device.</param>
public sealed record NetLink(int Ifindex, string Name, int Master, int Lower, string? Kind);

/// <summary>Every network device of the calling thread's namespace with its stacking, from one RTM_GETLINK dump.</summary>
public static class LinkTable
{
    private const ushort IFLA_IFNAME = 3, IFLA_LINK = 5, IFLA_MASTER = 10, IFLA_LINKINFO = 18, IFLA_LINK_NETNSID = 37;
    private const ushort IFLA_INFO_KIND = 1;

    public static IReadOnlyList<NetLink> Read()
    {
        using var nl = RtNetlink.Open();
        var links = new List<NetLink>();
        foreach (var (type, payload) in nl.Dump(RtNetlink.RTM_GETLINK, stackalloc byte[16]))
            if (type == RtNetlink.RTM_NEWLINK && payload.Length >= 16)
                links.Add(Parse(payload));
        return links;
    }

    private static NetLink Parse(byte[] payload)
    {
        var ifindex = BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(4));
        string name = $"ifindex {ifindex}";
        int master = 0, lower = 0;
        var lowerElsewhere = false;
        string? kind = null;
        foreach (var (t, v) in RtNetlink.Attributes(payload.AsSpan(16)))
        {
            switch (t)
            {
                case IFLA_IFNAME: name = Encoding.UTF8.GetString(v.AsSpan().TrimEnd((byte)0)); break;
                case IFLA_MASTER when v.Length >= 4: master = BinaryPrimitives.ReadInt32LittleEndian(v); break;
                case IFLA_LINK when v.Length >= 4: lower = BinaryPrimitives.ReadInt32LittleEndian(v); break;
                case IFLA_LINK_NETNSID: lowerElsewhere = true; break;
                case IFLA_LINKINFO:
                    foreach (var (it, iv) in RtNetlink.Attributes(v))
                        if (it == IFLA_INFO_KIND)
                            kind = Encoding.UTF8.GetString(iv.AsSpan().TrimEnd((byte)0));
                    break;
            }
        }
        // A device's IFLA_LINK names itself when it has no lower device; a veth's names its peer, in this namespace or
        // (IFLA_LINK_NETNSID) another: neither is a device it is built on.
        if (lower == ifindex || lowerElsewhere || kind == "veth")
            lower = 0;
        return new NetLink(ifindex, name, master, lower, kind);
    }
}
