using System.Net;
using System.Net.Sockets;

namespace FastRelay.Tests.GenericRelay;

/// <summary>A receiver in a lab namespace: keeps every datagram that arrives on its socket, in arrival order.</summary>
public sealed class UdpCollector : IDisposable
{
    private readonly Socket _socket;
    private readonly Thread _thread;
    private readonly List<byte[]> _datagrams = new();
    private volatile bool _stopped;

    public UdpCollector(Socket socket, string name)
    {
        _socket = socket;
        _socket.ReceiveTimeout = 100;
        Name = name;
        Endpoint = (IPEndPoint)socket.LocalEndPoint!;
        _thread = new Thread(Receive) { IsBackground = true, Name = "collector-" + name };
        _thread.Start();
    }

    public string Name { get; }

    public IPEndPoint Endpoint { get; }

    public int Count
    {
        get
        {
            lock (_datagrams)
                return _datagrams.Count;
        }
    }

    public IReadOnlyList<byte[]> Snapshot()
    {
        lock (_datagrams)
            return _datagrams.ToList();
    }

    private void Receive()
    {
        var buffer = new byte[65536];
        while (!_stopped)
        {
            try
            {
                var n = _socket.Receive(buffer);
                lock (_datagrams)
                    _datagrams.Add(buffer.AsSpan(0, n).ToArray());
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock or SocketError.ConnectionRefused)
            {
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                return;
            }
        }
    }

    public void Dispose()
    {
        _stopped = true;
        _thread.Join(TimeSpan.FromSeconds(2));
        _socket.Dispose();
    }
}
