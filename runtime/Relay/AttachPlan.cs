using FastRelay.Net;

namespace FastRelay.Relay;

/// <summary>A device the host attaches the three programs to.</summary>
public sealed record PlannedDevice(string Name, int Ifindex);

/// <summary>Where the programs go (<paramref name="Devices"/>), the requested devices that get none
/// (<paramref name="Skipped"/>: ports and lower devices, where a killed relay of an earlier version may still have left
/// filters), and what was moved or left out on the way (one line each, for the log).</summary>
public sealed record AttachPlanResult(IReadOnlyList<PlannedDevice> Devices, IReadOnlyList<PlannedDevice> Skipped, IReadOnlyList<string> Notes);

/// <summary>
/// Which devices get the fast path's programs when devices are stacked on the relay host. A packet crosses one hook per
/// device of a stack: a frame for a bridge arrives at a port's ingress and then at the bridge's, a copy sent through a
/// bridge leaves through the bridge's egress and then a port's. With the programs on every device, a packet fanned out
/// twice and a copy was numbered twice. The programs belong on the device the relay's addresses and routes are on,
/// the top of the stack: that is the device a subscriber's route leaves through (fr_subscriber.ifindex), where its
/// copies get their MACs, and where the kernel then does the rest (the bridge picks the port, the VLAN device adds the
/// tag). So:
/// <list type="bullet">
/// <item>A bridge, bond or team port gets nothing: it has no traffic of its own, everything it receives goes up to its
/// master and everything it sends came down through the master's egress. Naming a port means its master.</item>
/// <item>A VLAN's lower device keeps the programs: its untagged traffic is its own, and the kernel side tells the two
/// apart (ingress ignores tagged frames, egress acts only on the subscriber's own device; fr_device.h).</item>
/// <item>A macvlan's, ipvlan's or macsec's lower device gets nothing: its frames for the upper device look like its own
/// at its ingress, so the kernel could not tell them apart.</item>
/// <item>A VRF is not a stack of this kind (packets stay on the enslaved device): its ports keep the programs.</item>
/// </list>
/// </summary>
public static class AttachPlan
{
    /// <summary>Upper devices whose frames pass the lower device's ingress untagged.</summary>
    private static readonly HashSet<string> UntaggedUpperKinds = ["macvlan", "macvtap", "ipvlan", "ipvtap", "macsec"];

    public static AttachPlanResult For(IEnumerable<string> requested, IReadOnlyList<NetLink> links)
    {
        var byIndex = links.ToDictionary(l => l.Ifindex);
        var devices = new List<PlannedDevice>();
        var skipped = new List<PlannedDevice>();
        var notes = new List<string>();
        foreach (var name in requested)
        {
            var link = links.FirstOrDefault(l => l.Name == name)
                ?? throw new ArgumentException($"network device '{name}' not found in this network namespace ({NetworkNamespace.CurrentIdentity()})", nameof(requested));
            var named = link;
            // Climb to the top: a port of a bridge that is itself a port of another (a bond in a bridge) ends at the last.
            for (var depth = 0; depth < 8 && link.Master != 0 && byIndex.TryGetValue(link.Master, out var master) && master.Kind != "vrf"; depth++)
            {
                notes.Add($"{link.Name} is a port of {master.Kind ?? "device"} {master.Name}: the programs go on {master.Name}");
                link = master;
            }
            var untaggedUpper = links.FirstOrDefault(l => l.Lower == link.Ifindex && l.Kind is { } k && UntaggedUpperKinds.Contains(k));
            if (untaggedUpper is not null)
            {
                notes.Add($"{link.Name} is the lower device of {untaggedUpper.Kind} {untaggedUpper.Name}, whose frames it sees as its own: left without programs");
                link = null;
            }
            if (link != named && skipped.All(d => d.Ifindex != named.Ifindex))
                skipped.Add(new PlannedDevice(named.Name, named.Ifindex));
            if (link is not null && devices.All(d => d.Ifindex != link.Ifindex))
                devices.Add(new PlannedDevice(link.Name, link.Ifindex));
        }
        // A device both named and reached as a master is attached, not skipped.
        skipped.RemoveAll(s => devices.Any(d => d.Ifindex == s.Ifindex));
        return new AttachPlanResult(devices, skipped, notes);
    }
}
