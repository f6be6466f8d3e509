using System.Net;
using System.Net.Sockets;
using FastRelay.Protocols.CustomUdp.Wire;

namespace FastRelay.Protocols.CustomUdp.Clients;

/// <summary>Parses <c>HOST[:PORT]</c>: <c>10.0.0.1:7400</c>, <c>[fd00::1]:7400</c>, <c>fd00::1</c>, <c>relay.lab</c> (port
/// defaults to 7400). Names are resolved, IPv4 first.</summary>
public static class RelayAddress
{
    /// <exception cref="FormatException">Not HOST[:PORT], or a port outside 1..65535.</exception>
    /// <exception cref="SocketException">The name does not resolve.</exception>
    public static IPEndPoint Parse(string text, int defaultPort = CustomUdpWire.DefaultPort)
    {
        text = text.Trim();
        if (text.Length == 0) throw new FormatException("empty relay address");
        if (IPAddress.TryParse(text, out var bare) && !text.StartsWith('['))
            return new IPEndPoint(bare, defaultPort); // "::1" or "10.0.0.1": no port
        if (IPEndPoint.TryParse(text, out var endpoint))
            return endpoint.Port == 0 && !text.EndsWith(":0") ? new IPEndPoint(endpoint.Address, defaultPort) : Validate(endpoint, text);

        var host = text;
        var port = defaultPort;
        var colon = text.LastIndexOf(':');
        if (colon >= 0)
        {
            if (!int.TryParse(text.AsSpan(colon + 1), out port) || port is < 1 or > 65535)
                throw new FormatException($"'{text}': the port must be 1..65535");
            host = text[..colon];
        }
        if (host.Length == 0 || host.Contains(':')) throw new FormatException($"'{text}' is not HOST[:PORT]");
        var addresses = Dns.GetHostAddresses(host);
        var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
                     ?? addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetworkV6)
                     ?? throw new FormatException($"'{host}' has no IPv4 or IPv6 address");
        return new IPEndPoint(chosen, port);
    }

    private static IPEndPoint Validate(IPEndPoint endpoint, string text) =>
        endpoint.Port is >= 1 and <= 65535 ? endpoint : throw new FormatException($"'{text}': the port must be 1..65535");
}
