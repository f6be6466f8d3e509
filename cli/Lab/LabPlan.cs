using System.Net;

namespace FastRelay.Cli.Lab;

/// <summary>
/// Names and addresses of a lab, decided before anything is created.
/// </summary>
/// <remarks>
/// Addressing (x = a byte derived from the prefix, so labs with different prefixes use different ranges):
/// <code>
///   segment 0 ("shared" / "downstream"): 10.x.0.0/24, fdXX:0:0:0::/64   relay .1 / ::1, subscriber i .(10+i) / ::(10+i)
///   segment 1 ("upstream", 2-interface): 10.x.1.0/24, fdXX:0:0:1::/64   relay .1 / ::1, publisher .2 / ::2
/// </code>
/// With an edge relay (a relay chain) it sits on segment 0 as .3 / ::3.
/// In 1-interface mode the publisher sits on segment 0 as .2. All addresses live only inside the lab's namespaces.
/// Interfaces are created directly inside the namespaces (never in the root namespace), so their names only have to be
/// unique per namespace: eth0/eth1 on hosts, and the host name (pub, relay, s0, …) for bridge ports in &lt;prefix&gt;-sw.
/// </remarks>
internal sealed record LabPlan(string Prefix, int Subscribers, int RelayInterfaces, int? Mtu, bool EdgeRelay = false)
{
    public const string Bridge = "br0";
    public const int IPv4PrefixLength = 24, IPv6PrefixLength = 64;
    public const byte SharedSegment = 0, UpstreamSegment = 1;
    public const byte RelayHostNumber = 1, PublisherHostNumber = 2, EdgeRelayHostNumber = 3, FirstSubscriberHostNumber = 10;

    public byte X { get; } = SubnetByte(Prefix);

    public string PublisherNs => Prefix + "-pub";
    public string RelayNs => Prefix + "-relay";
    public string SwitchNs => Prefix + "-sw";
    public string EdgeRelayNs => Prefix + "-edge";
    public string SubscriberName(int i) => "s" + i;
    public string SubscriberNs(int i) => Prefix + "-" + SubscriberName(i);

    /// <summary>Every namespace of the lab, in creation order.</summary>
    public IReadOnlyList<string> Namespaces =>
        [PublisherNs, RelayNs, SwitchNs, .. (EdgeRelay ? [EdgeRelayNs] : Array.Empty<string>()), .. Enumerable.Range(0, Subscribers).Select(SubscriberNs)];

    public IPAddress V4(byte segment, byte host) => new([10, X, segment, host]);

    public IPAddress V6(byte segment, byte host)
    {
        var bytes = new byte[16];
        bytes[0] = 0xfd;
        bytes[1] = X;
        bytes[7] = segment;
        bytes[15] = host;
        return new IPAddress(bytes);
    }

    public string PublisherSegmentName => RelayInterfaces == 2 ? "upstream" : "shared";
    public string SubscriberSegmentName => RelayInterfaces == 2 ? "downstream" : "shared";
    public byte PublisherSegment => RelayInterfaces == 2 ? UpstreamSegment : SharedSegment;

    /// <summary>Byte 1..254 from the prefix (FNV-1a), the x of 10.x.0.0/16 and fdXX::/16.</summary>
    public static byte SubnetByte(string prefix)
    {
        var hash = 2166136261u;
        foreach (var c in prefix)
            hash = (hash ^ c) * 16777619u;
        return (byte)(1 + hash % 254);
    }

    /// <summary>The namespaces that belong to a lab with this prefix, by name (works without the registry).</summary>
    public static bool IsLabNamespace(string prefix, string ns) =>
        ns.StartsWith(prefix + "-", StringComparison.Ordinal) && IsHostSuffix(ns[(prefix.Length + 1)..]);

    /// <summary>Splits "fr12ab-s3" into its prefix when the part after the last '-' is a lab host name.</summary>
    public static string? PrefixOf(string ns)
    {
        var dash = ns.LastIndexOf('-');
        return dash > 0 && IsHostSuffix(ns[(dash + 1)..]) ? ns[..dash] : null;
    }

    private static bool IsHostSuffix(string suffix) =>
        suffix is "pub" or "relay" or "edge" or "sw" ||
        (suffix.Length > 1 && suffix[0] == 's' && suffix[1..].All(char.IsAsciiDigit));
}
