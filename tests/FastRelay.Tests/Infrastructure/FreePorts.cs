using System.Net;
using System.Net.Sockets;

namespace FastRelay.Tests.Infrastructure;

/// <summary>A TCP port nobody listens on right now, for servers that take a port number rather than port 0 (HttpListener).</summary>
public static class FreePorts
{
    public static int Tcp()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
