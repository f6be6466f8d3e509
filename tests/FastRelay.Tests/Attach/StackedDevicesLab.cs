using System.Net;

namespace FastRelay.Tests.Attach;

/// <summary>
/// A relay host whose devices are stacked, in four fresh namespaces named <c>frbr&lt;hex&gt;</c>R/P/S/M:
/// <code>
///  P:&lt;p&gt;p 10.198.1.2 ── R:&lt;p&gt;bp ┐
///                               ├─ R:&lt;p&gt;br (bridge) 10.198.1.1
///  S:&lt;p&gt;s 10.198.1.3 ── R:&lt;p&gt;bs ┘
///  M:&lt;p&gt;m 10.198.2.2 ── R:&lt;p&gt;ml ── R:&lt;p&gt;mv (macvlan on &lt;p&gt;ml) 10.198.2.1
/// </code>
/// The relay's addresses are on the bridge and on the macvlan device; the veths under them are a bridge's ports and a
/// macvlan's lower device. (A VLAN device would be the other stack of this kind, but this machine's kernel has no 802.1Q
/// support: CONFIG_VLAN_8021Q is not set. <see cref="StackedDevicesTests"/> covers tagged frames without it.) Fixed MACs, permanent neighbour entries and static bridge FDB entries (nothing floods, nothing has to be
/// learnt first); tx checksum offload off everywhere, so a wrong UDP checksum is dropped by the receiving kernel.
/// Dispose deletes the namespaces (and with them every device and filter), also after a failed setup.
/// </summary>
internal sealed class StackedDevicesLab : IDisposable
{
    public static readonly IPAddress RelayBridgeAddress = IPAddress.Parse("10.198.1.1");
    public static readonly IPAddress PublisherAddress = IPAddress.Parse("10.198.1.2");
    public static readonly IPAddress BridgeSubscriberAddress = IPAddress.Parse("10.198.1.3");
    public static readonly IPAddress RelayMacvlanAddress = IPAddress.Parse("10.198.2.1");
    public static readonly IPAddress MacvlanHostAddress = IPAddress.Parse("10.198.2.2");
    private const string MacBridge = "02:b7:00:00:00:01", MacRelayMacvlan = "02:b7:00:00:00:02";
    private const string MacP = "02:b7:00:00:01:02", MacS = "02:b7:00:00:01:03", MacM = "02:b7:00:00:02:02";

    public string Prefix { get; } = "frbr" + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 3));
    public string NsRelay => Prefix + "R";
    public string NsPublisher => Prefix + "P";
    public string NsBridgeSubscriber => Prefix + "S";
    public string NsMacvlanHost => Prefix + "M";
    public string PublisherDevice => Prefix + "p";
    public string Bridge => Prefix + "br";
    public string BridgePortToPublisher => Prefix + "bp";
    public string BridgePortToSubscriber => Prefix + "bs";
    public string MacvlanLower => Prefix + "ml";
    public string Macvlan => Prefix + "mv";

    public StackedDevicesLab()
    {
        try
        {
            foreach (var ns in new[] { NsRelay, NsPublisher, NsBridgeSubscriber, NsMacvlanHost })
            {
                Run("ip", "netns", "add", ns);
                Run("ip", "-n", ns, "link", "set", "lo", "up");
            }
            Run("ip", "-n", NsRelay, "link", "add", Bridge, "address", MacBridge, "type", "bridge", "stp_state", "0", "mcast_snooping", "0");
            var (p, s, m) = (Prefix + "p", Prefix + "s", Prefix + "m");
            Veth(BridgePortToPublisher, NsPublisher, p, MacP);
            Veth(BridgePortToSubscriber, NsBridgeSubscriber, s, MacS);
            Veth(MacvlanLower, NsMacvlanHost, m, MacM);
            foreach (var port in new[] { BridgePortToPublisher, BridgePortToSubscriber })
                Run("ip", "-n", NsRelay, "link", "set", port, "master", Bridge);
            Run("ip", "-n", NsRelay, "link", "add", "link", MacvlanLower, "name", Macvlan, "address", MacRelayMacvlan, "type", "macvlan", "mode", "bridge");

            Address(NsRelay, Bridge, RelayBridgeAddress);
            Address(NsRelay, Macvlan, RelayMacvlanAddress);
            Address(NsPublisher, p, PublisherAddress);
            Address(NsBridgeSubscriber, s, BridgeSubscriberAddress);
            Address(NsMacvlanHost, m, MacvlanHostAddress);
            foreach (var (ns, dev) in new[]
                     {
                         (NsRelay, Bridge), (NsRelay, BridgePortToPublisher), (NsRelay, BridgePortToSubscriber), (NsRelay, MacvlanLower), (NsRelay, Macvlan),
                         (NsPublisher, p), (NsBridgeSubscriber, s), (NsMacvlanHost, m),
                     })
            {
                Run("ip", "-n", ns, "link", "set", dev, "up");
                Run("ip", "netns", "exec", ns, "ethtool", "-K", dev, "tx", "off");
            }

            Neighbour(NsRelay, Bridge, PublisherAddress, MacP);
            Neighbour(NsRelay, Bridge, BridgeSubscriberAddress, MacS);
            Neighbour(NsRelay, Macvlan, MacvlanHostAddress, MacM);
            Neighbour(NsPublisher, p, RelayBridgeAddress, MacBridge);
            Neighbour(NsBridgeSubscriber, s, RelayBridgeAddress, MacBridge);
            Neighbour(NsMacvlanHost, m, RelayMacvlanAddress, MacRelayMacvlan);
            Run("bridge", "-n", NsRelay, "fdb", "replace", MacP, "dev", BridgePortToPublisher, "master", "static");
            Run("bridge", "-n", NsRelay, "fdb", "replace", MacS, "dev", BridgePortToSubscriber, "master", "static");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private void Veth(string relaySide, string peerNs, string peer, string? peerMac)
    {
        string[] peerArgs = peerMac is null ? ["peer", "name", peer, "netns", peerNs] : ["peer", "name", peer, "netns", peerNs, "address", peerMac];
        Run(["ip", "-n", NsRelay, "link", "add", relaySide, "type", "veth", .. peerArgs]);
    }

    private static void Address(string ns, string dev, IPAddress address) => Run("ip", "-n", ns, "addr", "add", $"{address}/24", "dev", dev);

    private static void Neighbour(string ns, string dev, IPAddress address, string mac) =>
        Run("ip", "-n", ns, "neigh", "replace", address.ToString(), "lladdr", mac, "dev", dev, "nud", "permanent");

    private static string Run(params string[] args) => VethLab.Run(args);

    public void Dispose()
    {
        foreach (var ns in new[] { NsRelay, NsPublisher, NsBridgeSubscriber, NsMacvlanHost })
        {
            try { Run("ip", "netns", "del", ns); }
            catch (InvalidOperationException) { /* never created */ }
        }
    }
}
