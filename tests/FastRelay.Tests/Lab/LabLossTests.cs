using System.Net.Sockets;
using FastRelay.Cli.Lab;
using Xunit;

namespace FastRelay.Tests.Lab;

public class LabLossTests
{
    private const int Packets = 400;

    [LabTheory(needsClang: true)]
    [InlineData(AddressFamily.InterNetwork)]
    [InlineData(AddressFamily.InterNetworkV6)]
    public async Task Half_loss_drops_about_half_and_clearing_it_restores_delivery(AddressFamily family)
    {
        await using var lab = await LabTopology.UpAsync(new LabOptions { Subscribers = 1 });
        var s0 = lab.Subscribers[0];
        Assert.Equal(Packets, (await Probe(lab, s0, family)).Count);

        await lab.SetLossAsync(s0, 50);
        var lossy = await Probe(lab, s0, family);
        // Binomial(400, 0.5): sd = 10; 120..280 is ±8 sd, never flaky, yet far from "no loss" and "all lost".
        Assert.InRange(lossy.Count, 120, 280);

        await lab.ClearLossAsync(s0);
        Assert.Equal(Packets, (await Probe(lab, s0, family)).Count);
        await lab.ClearLossAsync(s0); // nothing attached: fine
    }

    [LabFact(needsClang: true)]
    public async Task Full_loss_drops_udp_but_never_arp_or_neighbour_discovery()
    {
        await using var lab = await LabTopology.UpAsync(new LabOptions { Subscribers = 1, RelayInterfaces = 2 });
        var s0 = lab.Subscribers[0];
        await lab.SetLossAsync(s0, 100);
        foreach (var family in new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 })
        {
            Assert.Empty(await UdpProbe.RunAsync(lab, lab.Relay, lab.RelayDownstream.Address(family), s0, s0.Address(family), count: 20, quiet: TimeSpan.FromMilliseconds(200)));
            // The relay still resolved s0: the ARP reply / neighbour advertisement came back through the lossy ingress
            // (s0 answered the relay's request, which arrived through the filter too).
            var neighbour = (await lab.ExecAsync(lab.Relay, "ip", "neigh", "show", s0.Address(family).ToString())).StandardOutput;
            Assert.Contains(s0.Interface.MacText, neighbour);
        }
        // The other direction is untouched: loss is on s0's ingress only.
        Assert.Equal(20, (await UdpProbe.RunAsync(lab, s0, s0.IPv4, lab.Relay, lab.RelayDownstream.IPv4, count: 20)).Count);
    }

    [LabFact(needsClang: true)]
    public async Task Seeded_loss_drops_the_same_packets_every_time()
    {
        await using var lab = await LabTopology.UpAsync(new LabOptions { Subscribers = 1 });
        var s0 = lab.Subscribers[0];
        await lab.SetLossAsync(s0, 30, seed: 42);
        var first = await Probe(lab, s0, AddressFamily.InterNetwork);
        await lab.SetLossAsync(s0, 30, seed: 42); // a fresh program: its packet counter starts again at 0
        var second = await Probe(lab, s0, AddressFamily.InterNetwork);
        Assert.Equal(first.Order(), second.Order());
        Assert.InRange(first.Count, Packets * 50 / 100, Packets * 90 / 100);

        await lab.SetLossAsync(s0, 30, seed: 7);
        var other = await Probe(lab, s0, AddressFamily.InterNetwork);
        Assert.NotEqual(first.Order(), other.Order());
    }

    [LabFact]
    public async Task Loss_percent_out_of_range_is_refused()
    {
        await using var lab = await LabTopology.UpAsync(new LabOptions { Subscribers = 1 });
        await lab.ClearLossAsync(lab.Subscribers[0]); // nothing attached, not even clsact: fine
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => lab.SetLossAsync(lab.Subscribers[0], 101));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => lab.SetLossAsync(lab.Subscribers[0], -1));
    }

    /// <summary>Relay → subscriber, the direction the relay's fan-out uses.</summary>
    private static Task<IReadOnlySet<int>> Probe(LabNetwork lab, LabHost subscriber, AddressFamily family) =>
        UdpProbe.RunAsync(lab, lab.Relay, lab.RelayDownstream.Address(family), subscriber, subscriber.Address(family), Packets);
}
