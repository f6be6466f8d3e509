using System.Net;
using System.Net.Sockets;
using FastRelay.Cli.Lab;
using Xunit;

namespace FastRelay.Tests.Lab;

public class LabReachabilityTests
{
    [LabTheory]
    [InlineData(1, AddressFamily.InterNetwork)]
    [InlineData(1, AddressFamily.InterNetworkV6)]
    [InlineData(2, AddressFamily.InterNetwork)]
    [InlineData(2, AddressFamily.InterNetworkV6)]
    public async Task Udp_reaches_every_neighbour_in_both_directions(int relayInterfaces, AddressFamily family)
    {
        await using var lab = await LabTopology.UpAsync(new LabOptions { Subscribers = 2, RelayInterfaces = relayInterfaces });
        var pub = lab.Publisher;
        var relay = lab.Relay;
        var up = lab.RelayUpstream.Address(family);
        var down = lab.RelayDownstream.Address(family);
        var paths = new List<(string Name, LabHost From, IPAddress FromAddress, LabHost To, IPAddress ToAddress)>
        {
            ("publisher → relay", pub, pub.Address(family), relay, up),
            ("relay → publisher", relay, up, pub, pub.Address(family)),
        };
        foreach (var s in lab.Subscribers)
        {
            paths.Add(($"relay → {s.Name}", relay, down, s, s.Address(family)));
            paths.Add(($"{s.Name} → relay", s, s.Address(family), relay, down));
        }
        // Through the relay's kernel forwarding in 2-interface mode, across the bridge in 1-interface mode.
        paths.Add(("publisher → s1", pub, pub.Address(family), lab.Subscribers[1], lab.Subscribers[1].Address(family)));
        paths.Add(("s0 → publisher", lab.Subscribers[0], lab.Subscribers[0].Address(family), pub, pub.Address(family)));

        foreach (var path in paths)
        {
            var received = await UdpProbe.RunAsync(lab, path.From, path.FromAddress, path.To, path.ToAddress, count: 5);
            Assert.True(received.Count == 5, $"{path.Name} ({path.FromAddress} → {path.ToAddress}): {received.Count}/5 arrived");
        }

        // The relay learned its neighbours by itself (ARP / ND), none of them are static.
        var neighbours = (await lab.ExecAsync(relay, "ip", family == AddressFamily.InterNetwork ? "-4" : "-6", "neigh", "show")).StandardOutput;
        foreach (var s in lab.Subscribers)
            Assert.Contains(s.Interface.MacText, neighbours);
        Assert.DoesNotContain("PERMANENT", neighbours);
    }

    [LabTheory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Tx_checksum_offload_is_off_on_every_host_interface(int relayInterfaces)
    {
        await using var lab = await LabTopology.UpAsync(new LabOptions { Subscribers = 1, RelayInterfaces = relayInterfaces });
        foreach (var host in lab.Hosts)
        foreach (var nic in host.Interfaces)
        {
            var features = (await lab.ExecAsync(host, "ethtool", "-k", nic.Name)).StandardOutput;
            Assert.Contains("tx-checksumming: off", features);
        }
    }

    [LabFact]
    public async Task Mtu_option_applies_to_every_link()
    {
        await using var lab = await LabTopology.UpAsync(new LabOptions { Subscribers = 1, RelayInterfaces = 2, Mtu = 1400 });
        foreach (var host in lab.Hosts)
        foreach (var nic in host.Interfaces)
            Assert.Contains("mtu 1400", (await lab.ExecAsync(host, "ip", "link", "show", "dev", nic.Name)).StandardOutput);
    }

    [LabFact]
    public async Task Command_runs_a_process_inside_the_host()
    {
        await using var lab = await LabTopology.UpAsync(new LabOptions { Subscribers = 1 });
        var result = await lab.ExecAsync(lab.Subscribers[0], "ip", "-br", "-4", "addr", "show", "dev", "eth0");
        Assert.Contains(lab.Subscribers[0].IPv4.ToString(), result.StandardOutput);
        var failure = await Assert.ThrowsAsync<LabException>(() => lab.ExecAsync(lab.Relay, "ip", "link", "show", "dev", "nosuchdev"));
        Assert.Contains(lab.Relay.Namespace, failure.Message);
        Assert.Contains("nosuchdev", failure.Message);

        // NetnsThread: code on a thread inside the namespace sees the namespace's interfaces.
        var names = await lab.RunInAsync(lab.Relay, () => System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces().Select(n => n.Name).Order().ToList());
        Assert.Equal(["eth0", "lo"], names);
    }
}
