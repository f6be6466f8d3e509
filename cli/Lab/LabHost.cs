using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace FastRelay.Cli.Lab;

public enum LabRole
{
    Publisher,
    Relay,
    Subscriber,
    /// <summary>The second relay of a chain (<see cref="LabOptions.EdgeRelay"/>), on the subscribers' segment.</summary>
    EdgeRelay,
}

/// <summary>One interface of a lab host, as seen inside the host's namespace.</summary>
/// <param name="Name">Device name inside the namespace (eth0, eth1).</param>
/// <param name="IfIndex">ifindex inside the namespace (what TC attach and bpf_redirect want).</param>
/// <param name="Segment">"shared" (1-interface mode), "upstream" (relay ↔ publisher) or "downstream" (bridge with the subscribers).</param>
public sealed record LabInterface(
    string Name,
    int IfIndex,
    PhysicalAddress Mac,
    IPAddress IPv4,
    int IPv4PrefixLength,
    IPAddress IPv6,
    int IPv6PrefixLength,
    string Segment)
{
    public IPAddress Address(AddressFamily family) => family switch
    {
        AddressFamily.InterNetwork => IPv4,
        AddressFamily.InterNetworkV6 => IPv6,
        _ => throw new ArgumentOutOfRangeException(nameof(family), family, "IPv4 or IPv6"),
    };

    /// <summary>aa:bb:cc:dd:ee:ff</summary>
    public string MacText => string.Join(':', Mac.GetAddressBytes().Select(b => b.ToString("x2")));
}

/// <summary>A lab host: one network namespace with its interfaces. Publisher and subscribers have one interface
/// (eth0); the relay has eth0, plus eth1 in 2-interface mode.</summary>
public sealed class LabHost(string name, LabRole role, string @namespace, IReadOnlyList<LabInterface> interfaces)
{
    /// <summary>pub, relay, s0, s1, …</summary>
    public string Name { get; } = name;

    public LabRole Role { get; } = role;

    /// <summary>Network namespace name (under /run/netns).</summary>
    public string Namespace { get; } = @namespace;

    public IReadOnlyList<LabInterface> Interfaces { get; } = interfaces;

    /// <summary>The first interface (eth0): the only one of publisher and subscribers.</summary>
    public LabInterface Interface => Interfaces[0];

    public string InterfaceName => Interface.Name;
    public int IfIndex => Interface.IfIndex;
    public PhysicalAddress Mac => Interface.Mac;
    public IPAddress IPv4 => Interface.IPv4;
    public IPAddress IPv6 => Interface.IPv6;
    public IPAddress Address(AddressFamily family) => Interface.Address(family);

    public LabInterface GetInterface(string name) => Interfaces.FirstOrDefault(i => i.Name == name)
        ?? throw new ArgumentException($"host {Name} has no interface {name} ({string.Join(", ", Interfaces.Select(i => i.Name))})", nameof(name));

    public override string ToString() => $"{Name} ({Namespace})";
}
