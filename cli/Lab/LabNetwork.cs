using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using CliWrap;
using CliWrap.Buffered;

namespace FastRelay.Cli.Lab;

/// <summary>
/// A running lab (from <see cref="LabTopology.UpAsync"/>): its hosts, a way to run processes and sockets inside them,
/// and loss injection. Disposing it removes every namespace of the lab (and with them all veths, the bridge and tc
/// filters). Named LabNetwork rather than Lab so it does not clash with the FastRelay.Cli.Lab namespace.
/// </summary>
public sealed class LabNetwork : IAsyncDisposable, IDisposable
{
    private readonly LabOptions _options;
    private readonly SemaphoreSlim _lossLock = new(1, 1);
    private int _down;

    internal LabNetwork(string prefix, int relayInterfaces, int? mtu, string switchNamespace, string bridge,
        IReadOnlyList<LabHost> hosts, IReadOnlyList<string> namespaces, LabOptions options, int creatorPid, DateTimeOffset createdAt)
    {
        Prefix = prefix;
        RelayInterfaces = relayInterfaces;
        Mtu = mtu;
        SwitchNamespace = switchNamespace;
        BridgeName = bridge;
        Hosts = hosts;
        Namespaces = namespaces;
        _options = options;
        CreatorPid = creatorPid;
        CreatedAt = createdAt;
        Publisher = hosts.Single(h => h.Role == LabRole.Publisher);
        Relay = hosts.Single(h => h.Role == LabRole.Relay);
        Subscribers = hosts.Where(h => h.Role == LabRole.Subscriber).ToList();
        EdgeRelay = hosts.SingleOrDefault(h => h.Role == LabRole.EdgeRelay);
    }

    public string Prefix { get; }

    /// <summary>The lab's bpffs (see <see cref="LabBpfFs"/>): pass it to a relay in the lab as --bpffs.</summary>
    public string BpfFsPath => LabBpfFs.PathFor(Prefix);
    public int RelayInterfaces { get; }
    public int? Mtu { get; }
    public int CreatorPid { get; }
    public DateTimeOffset CreatedAt { get; }

    /// <summary>The namespace holding the bridge (pure L2, no addresses).</summary>
    public string SwitchNamespace { get; }

    public string BridgeName { get; }

    /// <summary>Publisher, relay, the edge relay if any, then subscribers s0..s(N-1).</summary>
    public IReadOnlyList<LabHost> Hosts { get; }

    public IReadOnlyList<string> Namespaces { get; }
    public LabHost Publisher { get; }
    public LabHost Relay { get; }
    public IReadOnlyList<LabHost> Subscribers { get; }

    /// <summary>The chain's second relay (<see cref="LabOptions.EdgeRelay"/>; eth0 on the subscribers' segment), else null.</summary>
    public LabHost? EdgeRelay { get; }

    /// <summary>The relay interface facing the publisher (eth0; the shared one in 1-interface mode).</summary>
    public LabInterface RelayUpstream => Relay.Interfaces[0];

    /// <summary>The relay interface facing the subscribers (eth1 in 2-interface mode; the shared eth0 otherwise).</summary>
    public LabInterface RelayDownstream => Relay.Interfaces[^1];

    public bool IsDown => Volatile.Read(ref _down) != 0;

    /// <summary>A host by name: pub, relay, edge, s0, s1, …</summary>
    public LabHost Host(string name) => Hosts.FirstOrDefault(h => h.Name == name)
        ?? throw new ArgumentException($"lab {Prefix} has no host {name} ({string.Join(", ", Hosts.Select(h => h.Name))})", nameof(name));

    /// <summary><c>ip netns exec &lt;ns&gt; program args…</c> as a CliWrap command (no validation set: CliWrap's default
    /// throws on a non-zero exit). Note that ip netns exec gives the process its own /sys for the namespace, so a
    /// program that needs bpffs must mount its own.</summary>
    public Command Command(LabHost host, string program, IEnumerable<string> args) =>
        CliWrap.Cli.Wrap(LabShell.Ip).WithArguments(["netns", "exec", host.Namespace, program, .. args]);

    /// <inheritdoc cref="Command(LabHost, string, IEnumerable{string})"/>
    public Command Command(LabHost host, string program, params string[] args) => Command(host, program, (IEnumerable<string>)args);

    /// <summary>Runs a program in a host and returns its output; throws <see cref="LabException"/> with its stderr when it fails.</summary>
    public async Task<BufferedCommandResult> ExecAsync(LabHost host, string program, IEnumerable<string> args, CancellationToken cancellationToken = default)
    {
        var list = args.ToList();
        var result = await Command(host, program, list).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(cancellationToken);
        if (result.ExitCode != 0)
            throw new LabException($"`{LabShell.Format(program, list)}` in {host.Namespace} failed (exit {result.ExitCode}): {result.StandardError.Trim()}");
        return result;
    }

    /// <inheritdoc cref="ExecAsync(LabHost, string, IEnumerable{string}, CancellationToken)"/>
    public Task<BufferedCommandResult> ExecAsync(LabHost host, string program, params string[] args) => ExecAsync(host, program, (IEnumerable<string>)args);

    /// <summary>A UDP socket living in the host's namespace, bound to <paramref name="local"/>; usable from any thread.</summary>
    public Socket UdpSocket(LabHost host, IPEndPoint local) => NetnsThread.CreateUdpSocket(host.Namespace, local);

    /// <summary>A UDP socket in the host's namespace bound to its first interface's address of this family.</summary>
    public Socket UdpSocket(LabHost host, AddressFamily family, int port = 0) => UdpSocket(host, new IPEndPoint(host.Address(family), port));

    /// <summary>Runs code inside a host's namespace on a dedicated thread (see <see cref="NetnsThread"/>).</summary>
    public Task<T> RunInAsync<T>(LabHost host, Func<T> body) => NetnsThread.RunAsync(host.Namespace, body);

    /// <summary>
    /// Drops <paramref name="percent"/> % of the UDP packets arriving at the host's interface (ingress; ARP and ND are
    /// never dropped), using a tc BPF filter compiled from bpf-templates/lab/loss.bpf.c. With a seed the same packets
    /// (by arrival order) are dropped on every run. Replaces an earlier setting; 0 % removes the filter.
    /// </summary>
    public async Task SetLossAsync(LabHost host, double percent, ulong? seed = null, string? interfaceName = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDown();
        var device = interfaceName is null ? host.InterfaceName : host.GetInterface(interfaceName).Name;
        await _lossLock.WaitAsync(cancellationToken);
        try
        {
            if (percent == 0)
            {
                await LossInjector.DetachAsync(host.Namespace, device, cancellationToken);
                return;
            }
            var obj = await LossInjector.CompileAsync(LabTopology.WorkDirectory(Prefix), percent, seed, _options, cancellationToken);
            await LossInjector.AttachAsync(host.Namespace, device, obj, cancellationToken);
        }
        finally
        {
            _lossLock.Release();
        }
    }

    /// <summary>
    /// Caps the rate of everything the switch sends to <paramref name="host"/> (its bridge port's egress: a token bucket,
    /// tbf, with a queue of <paramref name="queueMilliseconds"/> beyond which packets drop), as a slow access link would;
    /// 0 removes the cap. For congestion tests: the relay's congestion controller sees the losses and the queueing.
    /// </summary>
    public async Task SetRateLimitAsync(LabHost host, long bitsPerSecond, int queueMilliseconds = 50, CancellationToken cancellationToken = default)
    {
        ThrowIfDown();
        if (host.Role == LabRole.Relay)
            throw new ArgumentException("the relay has one bridge port per interface; cap a subscriber or the publisher", nameof(host));
        string[] netns = ["netns", "exec", SwitchNamespace, LabShell.Tc];
        await LabShell.TryRunAsync(LabShell.Ip, [.. netns, "qdisc", "del", "dev", host.Name, "root"], cancellationToken);
        if (bitsPerSecond <= 0) return;
        // A burst of at least 10 full-size packets (tbf needs burst ≥ rate / HZ, and a bucket smaller than a packet sends nothing).
        var burstBytes = Math.Max(10 * 1500, bitsPerSecond / 8 / 100);
        await LabShell.RunAsync(LabShell.Ip, [.. netns, "qdisc", "add", "dev", host.Name, "root", "tbf",
            "rate", $"{bitsPerSecond}bit", "burst", $"{burstBytes}", "latency", $"{queueMilliseconds}ms"], cancellationToken);
    }

    /// <summary>Blocking form of <see cref="SetLossAsync"/>.</summary>
    public void SetLoss(LabHost host, double percent, ulong? seed = null, string? interfaceName = null) =>
        SetLossAsync(host, percent, seed, interfaceName).GetAwaiter().GetResult();

    /// <summary>Removes the loss filter (the clsact qdisc stays; other filters on it are untouched).</summary>
    public Task ClearLossAsync(LabHost host, string? interfaceName = null, CancellationToken cancellationToken = default) =>
        SetLossAsync(host, 0, null, interfaceName, cancellationToken);

    /// <summary>Blocking form of <see cref="ClearLossAsync"/>.</summary>
    public void ClearLoss(LabHost host, string? interfaceName = null) => ClearLossAsync(host, interfaceName).GetAwaiter().GetResult();

    public LabDescription Describe() => new(Prefix, IsDown ? "down" : "up", RelayInterfaces, Subscribers.Count, Mtu, SwitchNamespace, BridgeName,
        Namespaces,
        Hosts.Select(h => new LabHostDescription(h.Name, h.Role.ToString().ToLowerInvariant(), h.Namespace,
            h.Interfaces.Select(i => new LabInterfaceDescription(i.Name, i.IfIndex, i.MacText,
                $"{i.IPv4}/{i.IPv4PrefixLength}", $"{i.IPv6}/{i.IPv6PrefixLength}", i.Segment)).ToList())).ToList(),
        CreatorPid, CreatedAt);

    /// <summary>Removes the lab: all its namespaces, its registry record and scratch files. Idempotent.</summary>
    public async Task DownAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _down, 1) != 0)
            return;
        await LabTopology.DownAsync(Prefix, cancellationToken);
    }

    public ValueTask DisposeAsync() => new(DownAsync());

    public void Dispose() => DownAsync().GetAwaiter().GetResult();

    public override string ToString() => $"lab {Prefix}";

    internal static LabNetwork FromDescription(LabDescription d, LabOptions options) =>
        new(d.Prefix, d.RelayInterfaces, d.Mtu, d.SwitchNamespace, d.Bridge,
            d.Hosts.Select(h => new LabHost(h.Name, Enum.Parse<LabRole>(h.Role, ignoreCase: true), h.Namespace,
                h.Interfaces.Select(i =>
                {
                    var (v4, v4Length) = Split(i.IPv4);
                    var (v6, v6Length) = Split(i.IPv6);
                    return new LabInterface(i.Name, i.IfIndex, PhysicalAddress.Parse(i.Mac.Replace(':', '-')), v4, v4Length, v6, v6Length, i.Segment);
                }).ToList())).ToList(),
            d.Namespaces, options, d.CreatorPid, d.CreatedAt);

    private static (IPAddress, int) Split(string cidr)
    {
        var slash = cidr.IndexOf('/');
        return (IPAddress.Parse(cidr[..slash]), int.Parse(cidr[(slash + 1)..]));
    }

    private void ThrowIfDown() => ObjectDisposedException.ThrowIf(IsDown, this);
}
