using System.Text.Json;
using FastRelay.Cli;
using FastRelay.Cli.Commands;
using FastRelay.Cli.Lab;
using Xunit;

namespace FastRelay.Tests.Lab;

public class LabTopologyTests
{
    [Theory]
    [InlineData("Bad")]
    [InlineData("1abc")]
    [InlineData("waytoolongprefix")]
    [InlineData("a-b")]
    public void Invalid_prefix_is_a_user_error(string prefix)
    {
        var e = Assert.Throws<UserFacingException>(() => new LabOptions { Prefix = prefix }.Validate());
        Assert.Contains(prefix, e.Message);
    }

    [Fact]
    public void Option_ranges_are_checked()
    {
        Assert.Throws<UserFacingException>(() => new LabOptions { RelayInterfaces = 3 }.Validate());
        Assert.Throws<UserFacingException>(() => new LabOptions { Subscribers = -1 }.Validate());
        Assert.Throws<UserFacingException>(() => new LabOptions { Subscribers = LabOptions.MaxSubscribers + 1 }.Validate());
        Assert.Throws<UserFacingException>(() => new LabOptions { Mtu = 1000 }.Validate());
        new LabOptions { Prefix = "fr00ff", Subscribers = 0, RelayInterfaces = 2, Mtu = 9000 }.Validate();
        Assert.Matches(LabOptions.DefaultPrefixPattern, LabOptions.RandomPrefix());
    }

    [LabTheory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Up_builds_the_topology_and_down_leaves_nothing_behind(int relayInterfaces)
    {
        var lab = await LabTopology.UpAsync(new LabOptions { Subscribers = 2, RelayInterfaces = relayInterfaces });
        List<string> macs;
        try
        {
            Assert.Matches(LabOptions.DefaultPrefixPattern, lab.Prefix);
            Assert.Equal([$"{lab.Prefix}-pub", $"{lab.Prefix}-relay", $"{lab.Prefix}-sw", $"{lab.Prefix}-s0", $"{lab.Prefix}-s1"], lab.Namespaces);
            Assert.Subset(LabTopology.ExistingNamespaces().ToHashSet(), lab.Namespaces.ToHashSet());
            Assert.Equal(["pub", "relay", "s0", "s1"], lab.Hosts.Select(h => h.Name));
            Assert.Equal(relayInterfaces, lab.Relay.Interfaces.Count);
            Assert.Equal(relayInterfaces == 2 ? "eth1" : "eth0", lab.RelayDownstream.Name);
            Assert.Equal(relayInterfaces == 2 ? "upstream" : "shared", lab.RelayUpstream.Segment);

            // Every host interface: a real ifindex and MAC inside its namespace, addresses in the prefix's ranges.
            foreach (var host in lab.Hosts)
            foreach (var nic in host.Interfaces)
            {
                var link = await lab.ExecAsync(host, "ip", "-j", "link", "show", "dev", nic.Name);
                var json = JsonDocument.Parse(link.StandardOutput).RootElement[0];
                Assert.Equal(nic.IfIndex, json.GetProperty("ifindex").GetInt32());
                Assert.Equal(nic.MacText, json.GetProperty("address").GetString());
                Assert.StartsWith($"10.{LabTopology.SubnetByte(lab.Prefix)}.", nic.IPv4.ToString());
                Assert.StartsWith($"fd{LabTopology.SubnetByte(lab.Prefix):x2}:", nic.IPv6.ToString());
            }
            // All addresses distinct; subscribers share the relay's downstream subnet.
            Assert.Equal(lab.Hosts.Sum(h => h.Interfaces.Count), lab.Hosts.SelectMany(h => h.Interfaces).Select(i => i.IPv4).Distinct().Count());
            Assert.All(lab.Subscribers, s => Assert.Equal(lab.RelayDownstream.IPv4.GetAddressBytes()[..3], s.IPv4.GetAddressBytes()[..3]));
            Assert.Equal(relayInterfaces == 1, lab.Publisher.IPv4.GetAddressBytes()[2] == lab.Subscribers[0].IPv4.GetAddressBytes()[2]);

            // Forwarding only in the relay; no static neighbours anywhere (the relay resolves them itself).
            Assert.Equal("1", (await lab.ExecAsync(lab.Relay, "cat", "/proc/sys/net/ipv4/ip_forward")).StandardOutput.Trim());
            Assert.Equal("1", (await lab.ExecAsync(lab.Relay, "cat", "/proc/sys/net/ipv6/conf/all/forwarding")).StandardOutput.Trim());
            Assert.Equal("0", (await lab.ExecAsync(lab.Subscribers[0], "cat", "/proc/sys/net/ipv4/ip_forward")).StandardOutput.Trim());
            foreach (var host in lab.Hosts)
                Assert.DoesNotContain("PERMANENT", (await lab.ExecAsync(host, "ip", "neigh", "show", "nud", "permanent")).StandardOutput);
            // No address is tentative (DAD done or skipped).
            foreach (var host in lab.Hosts)
                Assert.Equal("", (await lab.ExecAsync(host, "ip", "addr", "show", "tentative")).StandardOutput.Trim());

            var record = LabRegistry.TryLoad(lab.Prefix);
            Assert.NotNull(record);
            Assert.Equal("up", record.State);
            Assert.Equal(lab.Describe().ToJson(), record.ToJson());
            macs = lab.Hosts.SelectMany(h => h.Interfaces).Select(i => i.MacText).ToList();
        }
        finally
        {
            await lab.DisposeAsync();
        }
        Assert.True(lab.IsDown);
        await LabAssert.NothingLeftAsync(lab.Prefix, macs);
        await lab.DisposeAsync(); // idempotent
    }

    [LabTheory]
    [InlineData("netns add {0}-relay")]          // early: only the switch namespace exists
    [InlineData("ip -n {0}-s1 -4 addr add")]      // midway, while subscribers are set up in parallel
    [InlineData("ip -n {0}-pub -6 route add")]   // after both relay links
    [InlineData("wait until")]                   // everything created, before the lab is handed out
    public async Task A_failure_midway_removes_everything_created_so_far(string failAt)
    {
        var prefix = LabOptions.RandomPrefix();
        var marker = string.Format(failAt, prefix);
        var steps = new List<string>();
        var options = new LabOptions
        {
            Prefix = prefix,
            Subscribers = 2,
            RelayInterfaces = 2,
            OnStep = step =>
            {
                lock (steps) steps.Add(step);
                if (step.StartsWith(marker, StringComparison.Ordinal))
                    throw new InvalidOperationException("injected failure at " + step);
            },
        };
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => LabTopology.UpAsync(options));
        Assert.StartsWith("injected failure", e.Message);
        Assert.Contains(steps, s => s.StartsWith("netns add", StringComparison.Ordinal)); // something had been created
        await LabAssert.NothingLeftAsync(prefix);
    }

    [LabFact]
    public async Task A_failing_command_names_itself_and_cleans_up()
    {
        var prefix = LabOptions.RandomPrefix();
        // A lab command that fails (here: the subscriber's veth) surfaces as LabException; the lab is rolled back.
        var options = new LabOptions { Prefix = prefix, Subscribers = 1, OnStep = step =>
        {
            if (step.Contains("link add eth0") && step.Contains($"{prefix}-s0"))
                throw new LabException("simulated `ip link add` failure");
        } };
        var e = await Assert.ThrowsAsync<LabException>(() => LabTopology.UpAsync(options));
        Assert.Contains("simulated", e.Message);
        await LabAssert.NothingLeftAsync(prefix);
    }

    [LabFact]
    public async Task An_existing_prefix_is_refused_without_touching_that_lab()
    {
        await using var lab = await LabTopology.UpAsync(new LabOptions { Subscribers = 1 });
        var e = await Assert.ThrowsAsync<UserFacingException>(() => LabTopology.UpAsync(new LabOptions { Prefix = lab.Prefix }));
        Assert.Contains("already exists", e.Message);
        Assert.Subset(LabTopology.ExistingNamespaces().ToHashSet(), lab.Namespaces.ToHashSet());
        Assert.NotNull(LabRegistry.TryLoad(lab.Prefix));
    }

    [LabFact]
    public async Task Down_by_prefix_removes_a_lab_created_elsewhere()
    {
        var lab = await LabTopology.UpAsync(new LabOptions { Subscribers = 1, RelayInterfaces = 2 });
        try
        {
            // Another process would only know the prefix: the registry gives back the same picture.
            var attached = LabTopology.Attach(lab.Prefix);
            Assert.Equal(lab.Describe().ToJson(), attached.Describe().ToJson());
            Assert.Equal(lab.Subscribers[0].Mac, attached.Subscribers[0].Mac);

            var removed = await LabTopology.DownAsync(lab.Prefix);
            Assert.Equal(lab.Namespaces.Order(), removed.Order());
            await LabAssert.NothingLeftAsync(lab.Prefix);
            Assert.Empty(await LabTopology.DownAsync(lab.Prefix)); // nothing left to remove, no error
        }
        finally
        {
            await lab.DisposeAsync(); // already gone: harmless
        }
    }

    [LabFact]
    public async Task Down_by_prefix_finds_namespaces_without_a_registry_record()
    {
        var lab = await LabTopology.UpAsync(new LabOptions { Subscribers = 1 });
        try
        {
            LabRegistry.Remove(lab.Prefix); // e.g. /run/fastrelay-lab cleared, namespaces still there
            var removed = await LabTopology.DownAsync(lab.Prefix);
            Assert.Equal(lab.Namespaces.Order(), removed.Order());
            await LabAssert.NothingLeftAsync(lab.Prefix);
        }
        finally
        {
            await lab.DisposeAsync();
        }
    }

    [LabFact]
    public async Task Two_labs_up_at_once_do_not_collide()
    {
        var ups = new[]
        {
            LabTopology.UpAsync(new LabOptions { Subscribers = 1, RelayInterfaces = 1 }),
            LabTopology.UpAsync(new LabOptions { Subscribers = 1, RelayInterfaces = 2 }),
        };
        LabNetwork[] labs;
        try
        {
            labs = await Task.WhenAll(ups);
        }
        catch
        {
            foreach (var up in ups.Where(u => u.IsCompletedSuccessfully))
                await up.Result.DisposeAsync();
            throw;
        }
        await using var a = labs[0];
        await using var b = labs[1];
        Assert.NotEqual(a.Prefix, b.Prefix);
        Assert.Empty(a.Namespaces.Intersect(b.Namespaces));
        foreach (var lab in new[] { a, b })
            Assert.Equal([0], await UdpProbe.RunAsync(lab, lab.Subscribers[0], lab.Subscribers[0].IPv4, lab.Relay, lab.RelayDownstream.IPv4, count: 1));

        await a.DownAsync();
        await LabAssert.NothingLeftAsync(a.Prefix);
        // b is untouched by a's removal.
        Assert.Subset(LabTopology.ExistingNamespaces().ToHashSet(), b.Namespaces.ToHashSet());
        Assert.Equal([0], await UdpProbe.RunAsync(b, b.Publisher, b.Publisher.IPv6, b.Relay, b.RelayUpstream.IPv6, count: 1));
    }

    [LabFact]
    public async Task Cli_up_prints_the_topology_and_down_removes_it()
    {
        var output = new StringWriter();
        Assert.Equal(0, await LabCommand.UpAsync(new LabOptions { Subscribers = 1, RelayInterfaces = 2 }, json: true, output, default));
        var description = LabDescription.FromJson(output.ToString());
        try
        {
            Assert.Equal("up", description.State);
            Assert.Equal(["pub", "relay", "s0"], description.Hosts.Select(h => h.Name));
            Assert.Equal(["eth0", "eth1"], description.Hosts[1].Interfaces.Select(i => i.Name));
            Assert.Contains("\"ipv4\"", output.ToString());
            Assert.Matches(@"^10\.\d+\.0\.10/24$", description.Hosts[2].Interfaces[0].IPv4);
            Assert.Contains(description.Hosts[1].Namespace, LabTopology.Attach(description.Prefix).Describe().ToText());
        }
        finally
        {
            var down = new StringWriter();
            Assert.Equal(0, await LabCommand.DownAsync(description.Prefix, all: false, down, default));
            Assert.Contains("removed", down.ToString());
        }
        await LabAssert.NothingLeftAsync(description.Prefix);
        await Assert.ThrowsAsync<UserFacingException>(() => LabCommand.DownAsync(null, all: false, TextWriter.Null, default));
        await Assert.ThrowsAsync<UserFacingException>(() => LabCommand.DownAsync("fr0000", all: true, TextWriter.Null, default));
    }
}

