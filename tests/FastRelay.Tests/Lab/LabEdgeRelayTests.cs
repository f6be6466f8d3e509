using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using FastRelay.Cli.Lab;
using Xunit;

namespace FastRelay.Tests.Lab;

/// <summary><see cref="LabOptions.EdgeRelay"/>: the second relay host of a chain (prefix frch).</summary>
public class LabEdgeRelayTests
{
    [LabTheory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task An_edge_relay_joins_the_subscribers_segment_reaches_both_sides_and_goes_with_the_lab(int relayInterfaces)
    {
        var prefix = "frch" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2));
        var lab = await LabTopology.UpAsync(new LabOptions { Prefix = prefix, Subscribers = 1, RelayInterfaces = relayInterfaces, EdgeRelay = true });
        List<string> macs;
        try
        {
            Assert.Equal([$"{prefix}-pub", $"{prefix}-relay", $"{prefix}-sw", $"{prefix}-edge", $"{prefix}-s0"], lab.Namespaces);
            Assert.Equal(["pub", "relay", "edge", "s0"], lab.Hosts.Select(h => h.Name));
            var edge = lab.EdgeRelay!;
            Assert.Equal(LabRole.EdgeRelay, edge.Role);
            Assert.Equal(lab.RelayDownstream.Segment, edge.Interface.Segment);
            Assert.Equal(3, edge.IPv4.GetAddressBytes()[3]);
            // The registry record carries it: another process attaching to the lab finds the edge too.
            Assert.Equal(edge.IPv4, LabTopology.Attach(prefix).EdgeRelay!.IPv4);

            foreach (var family in new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 })
            {
                var paths = new List<(string Name, LabHost From, IPAddress FromAddress, LabHost To, IPAddress ToAddress)>
                {
                    ("edge → origin", edge, edge.Address(family), lab.Relay, lab.RelayDownstream.Address(family)),
                    ("origin → edge", lab.Relay, lab.RelayDownstream.Address(family), edge, edge.Address(family)),
                    ("s0 → edge", lab.Subscribers[0], lab.Subscribers[0].Address(family), edge, edge.Address(family)),
                    ("edge → s0", edge, edge.Address(family), lab.Subscribers[0], lab.Subscribers[0].Address(family)),
                    ("publisher → edge", lab.Publisher, lab.Publisher.Address(family), edge, edge.Address(family)),
                };
                foreach (var path in paths)
                {
                    var received = await UdpProbe.RunAsync(lab, path.From, path.FromAddress, path.To, path.ToAddress, count: 3);
                    Assert.True(received.Count == 3, $"{path.Name} ({path.FromAddress} → {path.ToAddress}): {received.Count}/3 arrived");
                }
            }
            macs = lab.Hosts.SelectMany(h => h.Interfaces).Select(i => i.MacText).ToList();
        }
        finally
        {
            await lab.DisposeAsync();
        }
        await LabAssert.NothingLeftAsync(prefix, macs);
    }
}
