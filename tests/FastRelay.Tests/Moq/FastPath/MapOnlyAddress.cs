using System.Net;
using FastRelay.Protocols.Moq.Relay.FastPath;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>A subscriber address for tests that only exercise the plane's maps (no packet is sent to it): a distinct
/// port and connection id per subscriber, interface 1, zero MACs.</summary>
internal static class MapOnlyAddress
{
    public static FastPathSubscriberAddress At(int port) => new(
        new IPEndPoint(IPAddress.Parse("10.9.0.1"), G.UdpPort), new IPEndPoint(IPAddress.Parse("10.9.0.2"), port),
        [9, 9, 9, 9, 9, 9, 9, (byte)port], 1, new byte[6], new byte[6]);
}
