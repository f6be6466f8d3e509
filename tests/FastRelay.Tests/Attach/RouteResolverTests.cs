using System.Net;
using System.Net.NetworkInformation;
using FastRelay.Net;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Attach;

/// <summary>Netlink route/neighbour resolution inside namespace A of a <see cref="VethLab"/>.</summary>
[Collection(BpfCollection.Name)]
public sealed class RouteResolverTests
{
    private static PhysicalAddress Mac(string s) => PhysicalAddress.Parse(s.Replace(':', '-').ToUpperInvariant());

    [BpfTheory]
    [InlineData("10.199.0.2", "10.199.0.1")]
    [InlineData("fd99::2", "fd99::1")]
    public void Resolves_an_on_link_destination_with_a_static_neighbour(string destination, string source)
    {
        using var lab = new VethLab();
        var r = lab.A.Run(() => RouteResolver.Resolve(IPAddress.Parse(destination)));

        Assert.Equal(IPAddress.Parse(destination), r.Destination);
        Assert.Equal(lab.IfindexA, r.Ifindex);
        Assert.Equal(lab.DevA, r.Device);
        Assert.Equal(IPAddress.Parse(source), r.Source);
        Assert.Null(r.Gateway);
        Assert.Equal(r.Destination, r.NextHop);
        Assert.Equal(Mac(VethLab.MacB), r.NextHopMac);
        Assert.Equal(Mac(VethLab.MacA), r.DeviceMac);
    }

    [BpfFact]
    public void A_routed_destination_resolves_to_the_gateways_mac()
    {
        using var lab = new VethLab();
        VethLab.Run("ip", "-n", lab.NsA, "route", "add", "10.77.0.0/16", "via", VethLab.AddrB.ToString());
        VethLab.Run("ip", "-n", lab.NsA, "-6", "route", "add", "fd77::/64", "via", VethLab.Addr6B.ToString());

        var v4 = lab.A.Run(() => RouteResolver.Resolve(IPAddress.Parse("10.77.1.1")));
        Assert.Equal(VethLab.AddrB, v4.Gateway);
        Assert.Equal(VethLab.AddrB, v4.NextHop);
        Assert.Equal(Mac(VethLab.MacB), v4.NextHopMac);
        Assert.Equal(VethLab.AddrA, v4.Source);

        var v6 = lab.A.Run(() => RouteResolver.Resolve(IPAddress.Parse("fd77::5")));
        Assert.Equal(VethLab.Addr6B, v6.Gateway);
        Assert.Equal(Mac(VethLab.MacB), v6.NextHopMac);
        Assert.Equal(lab.DevA, v6.Device);
    }

    [BpfTheory]
    [InlineData("10.199.0.3")]
    [InlineData("fd99::3")]
    public void A_destination_without_neighbour_entry_asks_the_caller_to_send_first(string destination)
    {
        using var lab = new VethLab();
        var e = Assert.Throws<NeighbourNotResolvedException>(() => lab.A.Run(() => RouteResolver.Resolve(IPAddress.Parse(destination))));
        Assert.Equal(IPAddress.Parse(destination), e.NextHop);
        Assert.Equal(lab.DevA, e.Device);
        Assert.Contains("send it a packet", e.Message);
    }

    [BpfFact]
    public void Local_and_unroutable_destinations_are_route_errors()
    {
        using var lab = new VethLab();
        var local = Assert.Throws<RouteNotFoundException>(() => lab.A.Run(() => RouteResolver.Resolve(VethLab.AddrA)));
        Assert.Contains("this host", local.Message);
        var none = Assert.Throws<RouteNotFoundException>(() => lab.A.Run(() => RouteResolver.Resolve(IPAddress.Parse("192.0.2.1"))));
        Assert.Contains("192.0.2.1", none.Message);
        Assert.Throws<RouteNotFoundException>(() => lab.A.Run(() => RouteResolver.Resolve(IPAddress.Parse("2001:db8::1"))));
    }

    [BpfFact]
    public void Ipv4_mapped_addresses_resolve_as_ipv4()
    {
        using var lab = new VethLab();
        var r = lab.A.Run(() => RouteResolver.Resolve(VethLab.AddrB.MapToIPv6()));
        Assert.Equal(VethLab.AddrB, r.Destination);
        Assert.Equal(Mac(VethLab.MacB), r.NextHopMac);
    }
}
