using FastRelay.Net;
using FastRelay.Relay;
using Xunit;

namespace FastRelay.Tests.Attach;

/// <summary>AttachPlan on device tables this machine's kernel cannot build (no bonding, VLAN, ipvlan or VRF here);
/// StackedDevicesTests reads a real one with a bridge and a macvlan.</summary>
public class AttachPlanTests
{
    private static readonly NetLink Eth0 = new(2, "eth0", Master: 10, Lower: 0, Kind: null);
    private static readonly NetLink Eth1 = new(3, "eth1", Master: 10, Lower: 0, Kind: null);
    private static readonly NetLink Bond = new(10, "bond0", Master: 20, Lower: 0, Kind: "bond");
    private static readonly NetLink Bridge = new(20, "br0", Master: 0, Lower: 0, Kind: "bridge");
    private static readonly NetLink Eth2 = new(4, "eth2", Master: 0, Lower: 0, Kind: null);
    private static readonly NetLink Vlan = new(30, "eth2.10", Master: 0, Lower: 4, Kind: "vlan");
    private static readonly NetLink Eth3 = new(5, "eth3", Master: 0, Lower: 0, Kind: null);
    private static readonly NetLink Ipvlan = new(31, "ipv0", Master: 0, Lower: 5, Kind: "ipvlan");
    private static readonly NetLink Eth4 = new(6, "eth4", Master: 40, Lower: 0, Kind: null);
    private static readonly NetLink Vrf = new(40, "vrf-blue", Master: 0, Lower: 0, Kind: "vrf");
    private static readonly NetLink[] Links = [Eth0, Eth1, Bond, Bridge, Eth2, Vlan, Eth3, Ipvlan, Eth4, Vrf];

    private static string[] Names(IEnumerable<PlannedDevice> devices) => devices.Select(d => d.Name).ToArray();

    [Fact]
    public void Slaves_of_a_bond_in_a_bridge_mean_the_bridge_once()
    {
        var plan = AttachPlan.For(["eth0", "eth1", "bond0"], Links);
        Assert.Equal(["br0"], Names(plan.Devices));
        Assert.Equal(20, plan.Devices[0].Ifindex);
        Assert.Equal(["eth0", "eth1", "bond0"], Names(plan.Skipped));
        Assert.Contains("eth0 is a port of bond bond0: the programs go on bond0", plan.Notes);
        Assert.Contains("bond0 is a port of bridge br0: the programs go on br0", plan.Notes);
    }

    [Fact]
    public void A_VLANs_lower_device_keeps_the_programs_beside_the_VLAN_device()
    {
        var plan = AttachPlan.For(["eth2", "eth2.10"], Links);
        Assert.Equal(["eth2", "eth2.10"], Names(plan.Devices));
        Assert.Empty(plan.Skipped);
        Assert.Empty(plan.Notes);
    }

    [Fact]
    public void An_ipvlans_lower_device_gets_none_and_a_VRF_port_keeps_its_own()
    {
        var plan = AttachPlan.For(["eth3", "ipv0", "eth4"], Links);
        Assert.Equal(["ipv0", "eth4"], Names(plan.Devices));
        Assert.Equal(["eth3"], Names(plan.Skipped));
        Assert.Contains(plan.Notes, n => n.StartsWith("eth3 is the lower device of ipvlan ipv0"));
    }

    [Fact]
    public void A_master_named_as_well_as_its_port_is_attached_and_not_skipped()
    {
        var plan = AttachPlan.For(["br0", "bond0"], Links);
        Assert.Equal(["br0"], Names(plan.Devices));
        Assert.Equal(["bond0"], Names(plan.Skipped));
        Assert.Throws<ArgumentException>(() => AttachPlan.For(["nosuch0"], Links));
    }
}
