using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using System.Text.Json;

namespace FastRelay.Cli.Lab;

/// <summary>
/// Builds and removes the lab: network namespaces for a publisher, a relay and N subscribers, joined by veth pairs
/// and a Linux bridge in a switch namespace.
/// <code>
///  1 interface:   pub:eth0 ──┐                         2 interfaces:  pub:eth0 ─── relay:eth0
///                 relay:eth0 ┼── sw:br0                                       relay:eth1 ──┐
///                 s0:eth0 ───┤   (one subnet)                                 s0:eth0 ─────┼── sw:br0
///                 s1:eth0 ───┘                                                s1:eth0 ─────┘
/// </code>
/// With <see cref="LabOptions.EdgeRelay"/> a second relay host (edge:eth0, .3) joins the bridge: a chain publisher →
/// relay → edge → subscribers.
/// Publisher and subscribers route everything off-link via the relay, which forwards IPv4 and IPv6 (the "kernel
/// floor" of the bench). Neighbours are not pre-populated: the relay resolves them itself.
/// </summary>
public static class LabTopology
{
    /// <summary>Blocking form of <see cref="UpAsync"/>.</summary>
    public static LabNetwork Up(LabOptions? options = null) => UpAsync(options).GetAwaiter().GetResult();

    /// <summary>Creates a lab. On any failure everything created so far is removed before the exception propagates.</summary>
    public static async Task<LabNetwork> UpAsync(LabOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new LabOptions();
        options.Validate();
        RequireRoot();
        var existing = ExistingNamespaces();
        var prefix = options.Prefix ?? PickPrefix(existing);
        if (existing.Any(ns => LabPlan.IsLabNamespace(prefix, ns)) || File.Exists(LabRegistry.PathOf(prefix)))
            throw new UserFacingException($"a lab with prefix {prefix} already exists: remove it with `fastrelay lab down {prefix}` or pick another prefix");
        var plan = new LabPlan(prefix, options.Subscribers, options.RelayInterfaces, options.Mtu, options.EdgeRelay);
        return await new Builder(plan, options).BuildAsync(cancellationToken);
    }

    /// <summary>Reopens a lab created by another process from its registry record. Disposing the result removes the lab.</summary>
    public static LabNetwork Attach(string prefix, LabOptions? options = null)
    {
        var record = LabRegistry.TryLoad(prefix) ?? throw new UserFacingException($"no lab {prefix} in {LabRegistry.Directory}");
        if (record.State != "up")
            throw new UserFacingException($"lab {prefix} is {record.State}, not up");
        return LabNetwork.FromDescription(record, options ?? new LabOptions());
    }

    /// <summary>
    /// Removes the lab with this prefix, whoever created it: the namespaces named in its registry record plus any
    /// namespace named &lt;prefix&gt;-pub|relay|sw|s&lt;n&gt;, then the record. Returns the namespaces removed.
    /// </summary>
    public static async Task<IReadOnlyList<string>> DownAsync(string prefix, CancellationToken cancellationToken = default)
    {
        RequireRoot();
        var record = LabRegistry.TryLoad(prefix);
        var existing = ExistingNamespaces();
        var namespaces = (record?.Namespaces ?? [])
            .Concat(existing.Where(ns => LabPlan.IsLabNamespace(prefix, ns)))
            .Distinct()
            .Where(existing.Contains)
            .ToList();
        await RemoveNamespacesAsync(namespaces, cancellationToken);
        LabBpfFs.Unmount(prefix);
        if (File.Exists(LabRegistry.PathOf(prefix)))
            LabRegistry.Remove(prefix);
        DeleteWorkDirectory(prefix);
        return namespaces;
    }

    /// <summary>Removes every lab this tool created: all registry records, plus namespaces that look like a lab with a
    /// default prefix (fr + 4 hex digits). Returns the prefixes removed.</summary>
    public static async Task<IReadOnlyList<string>> DownAllAsync(CancellationToken cancellationToken = default)
    {
        var prefixes = LabRegistry.Prefixes()
            .Concat(ExistingNamespaces().Select(LabPlan.PrefixOf).OfType<string>().Where(p => LabOptions.DefaultPrefixPattern.IsMatch(p)))
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();
        foreach (var prefix in prefixes)
            await DownAsync(prefix, cancellationToken);
        return prefixes;
    }

    /// <summary>The x of the lab's address ranges 10.x.0.0/16 and fdXX::/16 (XX = x in hex), derived from the prefix.</summary>
    public static byte SubnetByte(string prefix) => LabPlan.SubnetByte(prefix);

    /// <summary>Names under /run/netns.</summary>
    public static IReadOnlySet<string> ExistingNamespaces() =>
        Directory.Exists(NetnsThread.RunDirectory)
            ? Directory.EnumerateFiles(NetnsThread.RunDirectory).Select(Path.GetFileName).OfType<string>().ToHashSet()
            : new HashSet<string>();

    /// <summary>Per-lab scratch space (compiled loss objects).</summary>
    internal static string WorkDirectory(string prefix) => Path.Combine(Path.GetTempPath(), "fastrelay-lab", prefix);

    internal static void DeleteWorkDirectory(string prefix)
    {
        var dir = WorkDirectory(prefix);
        if (Directory.Exists(dir))
            Directory.Delete(dir, recursive: true);
    }

    /// <summary>Deletes namespaces (their veths, bridge and tc filters go with them). Tries all, then reports failures.</summary>
    internal static async Task RemoveNamespacesAsync(IEnumerable<string> namespaces, CancellationToken cancellationToken)
    {
        var failures = new List<string>();
        foreach (var ns in namespaces)
        {
            var result = await LabShell.TryRunAsync(LabShell.Ip, ["netns", "del", ns], cancellationToken);
            if (result.ExitCode != 0 && File.Exists(Path.Combine(NetnsThread.RunDirectory, ns)))
                failures.Add($"{ns}: {result.StandardError.Trim()}");
        }
        if (failures.Count > 0)
            throw new LabException("could not remove namespaces: " + string.Join("; ", failures));
    }

    private static void RequireRoot()
    {
        if (!OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess)
            throw new UserFacingException("the lab needs root on Linux (network namespaces, veth, tc): run with sudo");
    }

    private static string PickPrefix(IReadOnlySet<string> existing)
    {
        while (true)
        {
            var prefix = LabOptions.RandomPrefix();
            if (!existing.Any(ns => LabPlan.IsLabNamespace(prefix, ns)) && !File.Exists(LabRegistry.PathOf(prefix)))
                return prefix;
        }
    }

    /// <summary>One Up: remembers which namespaces it created so a failure removes exactly those.</summary>
    private sealed class Builder(LabPlan plan, LabOptions options)
    {
        private readonly ConcurrentBag<string> _created = [];
        private readonly DateTimeOffset _createdAt = DateTimeOffset.UtcNow;

        public async Task<LabNetwork> BuildAsync(CancellationToken cancellationToken)
        {
            LabRegistry.Save(new LabDescription(plan.Prefix, "creating", plan.RelayInterfaces, plan.Subscribers, plan.Mtu,
                plan.SwitchNs, LabPlan.Bridge, plan.Namespaces, [], Environment.ProcessId, _createdAt));
            try
            {
                await CreateSwitchAsync(cancellationToken);
                await CreateHostAsync(plan.RelayNs, relay: true, cancellationToken);
                await CreateHostAsync(plan.PublisherNs, relay: false, cancellationToken);
                if (plan.RelayInterfaces == 1)
                {
                    await LinkToBridgeAsync(plan.RelayNs, "eth0", "relay", cancellationToken);
                    await ConfigureAsync(plan.RelayNs, "eth0", LabPlan.SharedSegment, LabPlan.RelayHostNumber, cancellationToken);
                    await LinkToBridgeAsync(plan.PublisherNs, "eth0", "pub", cancellationToken);
                }
                else
                {
                    // Point-to-point: created in pub with its peer directly in relay; no bridge on the upstream side.
                    await IpAsync(plan.PublisherNs, ["link", "add", "eth0", .. MtuArgs(), "type", "veth", "peer", "name", "eth0", .. MtuArgs(), "netns", plan.RelayNs], cancellationToken);
                    await ConfigureAsync(plan.RelayNs, "eth0", LabPlan.UpstreamSegment, LabPlan.RelayHostNumber, cancellationToken);
                    await LinkToBridgeAsync(plan.RelayNs, "eth1", "relay", cancellationToken);
                    await ConfigureAsync(plan.RelayNs, "eth1", LabPlan.SharedSegment, LabPlan.RelayHostNumber, cancellationToken);
                }
                await ConfigureAsync(plan.PublisherNs, "eth0", plan.PublisherSegment, LabPlan.PublisherHostNumber, cancellationToken);
                await DefaultRoutesAsync(plan.PublisherNs, plan.PublisherSegment, cancellationToken);

                if (plan.EdgeRelay)
                {
                    // On the subscribers' bridge like a subscriber, forwarding like a relay; reaches the publisher's
                    // segment through the origin.
                    await CreateHostAsync(plan.EdgeRelayNs, relay: true, cancellationToken);
                    await LinkToBridgeAsync(plan.EdgeRelayNs, "eth0", "edge", cancellationToken);
                    await ConfigureAsync(plan.EdgeRelayNs, "eth0", LabPlan.SharedSegment, LabPlan.EdgeRelayHostNumber, cancellationToken);
                    await DefaultRoutesAsync(plan.EdgeRelayNs, LabPlan.SharedSegment, cancellationToken);
                }

                // Subscribers are independent of each other: set them up a few at a time.
                await Parallel.ForEachAsync(Enumerable.Range(0, plan.Subscribers),
                    new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
                    async (i, ct) =>
                    {
                        var ns = plan.SubscriberNs(i);
                        await CreateHostAsync(ns, relay: false, ct);
                        await LinkToBridgeAsync(ns, "eth0", plan.SubscriberName(i), ct);
                        await ConfigureAsync(ns, "eth0", LabPlan.SharedSegment, (byte)(LabPlan.FirstSubscriberHostNumber + i), ct);
                        await DefaultRoutesAsync(ns, LabPlan.SharedSegment, ct);
                    });

                var hosts = await WaitReadyAsync(cancellationToken);
                LabBpfFs.Mount(plan.Prefix);
                var lab = new LabNetwork(plan.Prefix, plan.RelayInterfaces, plan.Mtu, plan.SwitchNs, LabPlan.Bridge, hosts,
                    plan.Namespaces, options, Environment.ProcessId, _createdAt);
                LabRegistry.Save(lab.Describe());
                return lab;
            }
            catch
            {
                // Partial failure: remove exactly what this Up created, whatever the token says, then rethrow.
                try
                {
                    await RemoveNamespacesAsync(_created, CancellationToken.None);
                    LabRegistry.Remove(plan.Prefix);
                    DeleteWorkDirectory(plan.Prefix);
                }
                catch (Exception cleanup)
                {
                    Console.Error.WriteLine($"fastrelay lab: cleanup after a failed `lab up` was incomplete: {cleanup.Message}");
                }
                throw;
            }
        }

        private async Task CreateSwitchAsync(CancellationToken cancellationToken)
        {
            await AddNamespaceAsync(plan.SwitchNs, cancellationToken);
            // The switch is pure L2: no IPv6 on its ports, so it sends no RS/MLD/DAD noise into the segment.
            await SysctlAsync(plan.SwitchNs, [
                ("net.ipv6.conf.all.disable_ipv6", "1"),
                ("net.ipv6.conf.default.disable_ipv6", "1"),
            ]);
            // STP off: ports forward as soon as they are up. Snooping off: multicast (ND) is always flooded.
            await IpAsync(plan.SwitchNs, ["link", "add", LabPlan.Bridge, .. MtuArgs(), "type", "bridge", "stp_state", "0", "mcast_snooping", "0"], cancellationToken);
            await IpAsync(plan.SwitchNs, ["link", "set", LabPlan.Bridge, "up"], cancellationToken);
        }

        private async Task CreateHostAsync(string ns, bool relay, CancellationToken cancellationToken)
        {
            await AddNamespaceAsync(ns, cancellationToken);
            var forwarding = relay ? "1" : "0";
            // Set before any device exists so that "default" applies to the veths created next.
            await SysctlAsync(ns, [
                // No DAD at all (also for link-local addresses): nothing is tentative, tests don't race.
                ("net.ipv6.conf.all.accept_dad", "0"),
                ("net.ipv6.conf.default.accept_dad", "0"),
                ("net.ipv6.conf.all.router_solicitations", "0"),
                ("net.ipv6.conf.default.router_solicitations", "0"),
                // IPv4 conf/all is inherited from the root namespace; make reverse-path filtering predictable.
                ("net.ipv4.conf.all.rp_filter", "0"),
                ("net.ipv4.conf.default.rp_filter", "0"),
                ("net.ipv4.ip_forward", forwarding),
                ("net.ipv6.conf.all.forwarding", forwarding),
            ]);
            await IpAsync(ns, ["link", "set", "lo", "up"], cancellationToken);
        }

        private async Task AddNamespaceAsync(string ns, CancellationToken cancellationToken)
        {
            Step($"netns add {ns}");
            await LabShell.RunAsync(LabShell.Ip, ["netns", "add", ns], cancellationToken);
            _created.Add(ns);
        }

        /// <summary>A veth pair created inside the host namespace with its peer directly in the switch namespace (so no
        /// lab device ever exists in the root namespace), the peer enslaved to the bridge.</summary>
        private async Task LinkToBridgeAsync(string ns, string device, string port, CancellationToken cancellationToken)
        {
            await IpAsync(ns, ["link", "add", device, .. MtuArgs(), "type", "veth", "peer", "name", port, .. MtuArgs(), "netns", plan.SwitchNs], cancellationToken);
            await IpAsync(plan.SwitchNs, ["link", "set", port, "master", LabPlan.Bridge, "up"], cancellationToken);
        }

        private async Task ConfigureAsync(string ns, string device, byte segment, byte host, CancellationToken cancellationToken)
        {
            await IpAsync(ns, ["link", "set", device, "up"], cancellationToken);
            await IpAsync(ns, ["-4", "addr", "add", $"{plan.V4(segment, host)}/{LabPlan.IPv4PrefixLength}", "dev", device], cancellationToken);
            await IpAsync(ns, ["-6", "addr", "add", $"{plan.V6(segment, host)}/{LabPlan.IPv6PrefixLength}", "dev", device, "nodad"], cancellationToken);
            // veth offloads the L4 checksum by default: the sender leaves it unfinished (CHECKSUM_PARTIAL) and the
            // receiving veth trusts it, so a TC program that writes a wrong UDP checksum would go unnoticed. With tx
            // checksumming off every sender (publisher, relay, subscribers) computes checksums in software and every
            // receiver verifies them: a bad checksum is a dropped packet (and a UDP InCsumErrors count).
            Step($"ethtool -K {device} tx off in {ns}");
            await LabShell.RunAsync(LabShell.Ip, ["netns", "exec", ns, LabShell.Ethtool, "-K", device, "tx", "off"], cancellationToken);
        }

        private async Task DefaultRoutesAsync(string ns, byte segment, CancellationToken cancellationToken)
        {
            await IpAsync(ns, ["-4", "route", "add", "default", "via", plan.V4(segment, LabPlan.RelayHostNumber).ToString()], cancellationToken);
            await IpAsync(ns, ["-6", "route", "add", "default", "via", plan.V6(segment, LabPlan.RelayHostNumber).ToString()], cancellationToken);
        }

        /// <summary>Polls until every link is up, every bridge port forwards and no address is tentative; then reads
        /// ifindex and MAC of every host interface.</summary>
        private async Task<IReadOnlyList<LabHost>> WaitReadyAsync(CancellationToken cancellationToken)
        {
            Step("wait until links are up and addresses are usable");
            var clock = Stopwatch.StartNew();
            var expected = new List<(string Name, LabRole Role, string Ns, (string Device, byte Segment, byte Host)[] Devices)>
            {
                ("pub", LabRole.Publisher, plan.PublisherNs, [("eth0", plan.PublisherSegment, LabPlan.PublisherHostNumber)]),
                ("relay", LabRole.Relay, plan.RelayNs, plan.RelayInterfaces == 1
                    ? [("eth0", LabPlan.SharedSegment, LabPlan.RelayHostNumber)]
                    : [("eth0", LabPlan.UpstreamSegment, LabPlan.RelayHostNumber), ("eth1", LabPlan.SharedSegment, LabPlan.RelayHostNumber)]),
            };
            if (plan.EdgeRelay)
                expected.Add(("edge", LabRole.EdgeRelay, plan.EdgeRelayNs, [("eth0", LabPlan.SharedSegment, LabPlan.EdgeRelayHostNumber)]));
            for (var i = 0; i < plan.Subscribers; i++)
                expected.Add((plan.SubscriberName(i), LabRole.Subscriber, plan.SubscriberNs(i), [("eth0", LabPlan.SharedSegment, (byte)(LabPlan.FirstSubscriberHostNumber + i))]));

            while (await SwitchProblemAsync(cancellationToken) is { } problem)
                await PauseOrFailAsync(clock, problem, cancellationToken);

            var hosts = new List<LabHost>();
            foreach (var (name, role, ns, devices) in expected)
            {
                while (true)
                {
                    var links = await AddressesAsync(ns, cancellationToken);
                    var problem = devices.Select(d => HostProblem(ns, links, d.Device, plan.V4(d.Segment, d.Host), plan.V6(d.Segment, d.Host))).FirstOrDefault(p => p is not null);
                    if (problem is null)
                    {
                        hosts.Add(new LabHost(name, role, ns, devices.Select(d =>
                        {
                            var link = links.Single(l => l.GetProperty("ifname").GetString() == d.Device);
                            return new LabInterface(d.Device, link.GetProperty("ifindex").GetInt32(),
                                PhysicalAddress.Parse(link.GetProperty("address").GetString()!.Replace(':', '-')),
                                plan.V4(d.Segment, d.Host), LabPlan.IPv4PrefixLength, plan.V6(d.Segment, d.Host), LabPlan.IPv6PrefixLength,
                                d.Segment == LabPlan.UpstreamSegment ? "upstream" : plan.SubscriberSegmentName);
                        }).ToList()));
                        break;
                    }
                    await PauseOrFailAsync(clock, problem, cancellationToken);
                }
            }
            return hosts;
        }

        private async Task PauseOrFailAsync(Stopwatch clock, string problem, CancellationToken cancellationToken)
        {
            if (clock.Elapsed > options.ReadyTimeout)
                throw new LabException($"lab {plan.Prefix} not ready after {options.ReadyTimeout.TotalSeconds:0.#} s: {problem}");
            await Task.Delay(20, cancellationToken);
        }

        private static async Task<List<JsonElement>> AddressesAsync(string ns, CancellationToken cancellationToken)
        {
            var json = await LabShell.RunAsync(LabShell.Ip, ["-n", ns, "-j", "addr", "show"], cancellationToken);
            return JsonDocument.Parse(json).RootElement.EnumerateArray().ToList();
        }

        private static string? HostProblem(string ns, List<JsonElement> links, string device, IPAddress v4, IPAddress v6)
        {
            var link = links.FirstOrDefault(l => l.GetProperty("ifname").GetString() == device);
            if (link.ValueKind == JsonValueKind.Undefined)
                return $"{ns}: {device} missing";
            if (link.GetProperty("operstate").GetString() != "UP")
                return $"{ns}: {device} is {link.GetProperty("operstate").GetString()}";
            var addresses = link.TryGetProperty("addr_info", out var info) ? info.EnumerateArray().ToList() : [];
            foreach (var wanted in new[] { v4, v6 })
                if (!addresses.Any(a => a.TryGetProperty("local", out var local) && IPAddress.Parse(local.GetString()!).Equals(wanted)))
                    return $"{ns}: {device} has no address {wanted}";
            if (addresses.FirstOrDefault(a => Flag(a, "tentative") || Flag(a, "dadfailed")) is { ValueKind: JsonValueKind.Object } pending)
                return $"{ns}: {device} address {pending.GetProperty("local").GetString()} is tentative (DAD)";
            return null;
        }

        private async Task<string?> SwitchProblemAsync(CancellationToken cancellationToken)
        {
            var json = await LabShell.RunAsync(LabShell.Ip, ["-n", plan.SwitchNs, "-j", "-d", "link", "show"], cancellationToken);
            foreach (var link in JsonDocument.Parse(json).RootElement.EnumerateArray())
            {
                var name = link.GetProperty("ifname").GetString();
                if (name == LabPlan.Bridge && link.GetProperty("operstate").GetString() != "UP")
                    return $"{plan.SwitchNs}: {name} is {link.GetProperty("operstate").GetString()}";
                if (link.TryGetProperty("linkinfo", out var info) && info.TryGetProperty("info_slave_data", out var port) &&
                    port.TryGetProperty("state", out var state) && state.GetString() != "forwarding")
                    return $"{plan.SwitchNs}: bridge port {name} is {state.GetString()}";
            }
            return null;
        }

        private static bool Flag(JsonElement address, string name) => address.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;

        private string[] MtuArgs() => plan.Mtu is { } mtu ? ["mtu", mtu.ToString()] : [];

        private async Task IpAsync(string ns, string[] args, CancellationToken cancellationToken)
        {
            string[] full = ["-n", ns, .. args];
            Step(LabShell.Format("ip", full));
            await LabShell.RunAsync(LabShell.Ip, full, cancellationToken);
        }

        /// <summary>sysctls written from a thread inside the namespace (/proc/sys/net follows the writer's namespace),
        /// so no sysctl binary is needed.</summary>
        private Task SysctlAsync(string ns, (string Key, string Value)[] settings)
        {
            Step($"sysctl in {ns}: {string.Join(", ", settings.Select(s => s.Key + "=" + s.Value))}");
            return NetnsThread.RunAsync(ns, () =>
            {
                foreach (var (key, value) in settings)
                    File.WriteAllText("/proc/sys/" + key.Replace('.', '/'), value);
            });
        }

        private void Step(string description) => options.OnStep?.Invoke(description);
    }
}
