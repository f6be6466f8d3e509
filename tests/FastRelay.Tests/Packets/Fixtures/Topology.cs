using System.Net;
using FastRelay.Tests.Packets.Protocols;

namespace FastRelay.Tests.Packets.Fixtures;

/// <summary>The addresses every packet fixture uses: one upstream, the relay, and subscribers by slot.</summary>
public static class Topology
{
    public static readonly byte[] UpstreamMac = [0x02, 0x10, 0, 0, 0, 0x01];
    public static readonly byte[] RelayUpstreamMac = [0x02, 0x10, 0, 0, 0, 0x02];
    public static readonly byte[] RelaySubscriberMac = [0x02, 0xAA, 0, 0, 0, 0x01];
    public const ushort UpstreamPort = 5000;

    public static IPEndPoint Upstream(bool v6 = false) => new(IPAddress.Parse(v6 ? "fd00:200::1" : "10.200.0.1"), UpstreamPort);

    public static IPAddress RelayUpstreamAddress(bool v6 = false) => IPAddress.Parse(v6 ? "fd00:200::2" : "10.200.0.2");

    public static SubscriberSpec Subscriber(FastPathProtocol protocol, uint slot, bool v6 = false) => new()
    {
        Local = new IPEndPoint(IPAddress.Parse(v6 ? "fd00:201::1" : "10.201.0.1"), protocol.UdpPort),
        Remote = new IPEndPoint(IPAddress.Parse(v6 ? $"fd00:201::{10 + slot:x}" : $"10.201.1.{10 + slot}"), (int)(6000 + slot)),
        MacSource = RelaySubscriberMac,
        MacDestination = [0x02, 0xBB, 0, 0, 0, (byte)slot],
        ConnectionId = protocol.ConnectionIdFor(slot),
    };
}
