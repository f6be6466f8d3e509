using System.Net;
using System.Net.Sockets;

namespace FastRelay.Tests.Quic.Api;

/// <summary>
/// A UDP middlebox on loopback between one client and one server: forwards both ways and keeps a copy of every
/// datagram, so a test can read what actually crossed the wire. <see cref="DropToServer"/> can drop datagrams.
/// </summary>
internal sealed class UdpCapturingProxy : IDisposable
{
    private readonly Socket _front = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private Socket _back = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private volatile bool _rebindRequested;
    private readonly IPEndPoint _server;
    private readonly Thread _thread;
    private EndPoint? _client;
    private volatile bool _stopped;

    public UdpCapturingProxy(IPEndPoint server)
    {
        _server = server;
        _front.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _back.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        EndPoint = (IPEndPoint)_front.LocalEndPoint!;
        _thread = new Thread(Run) { IsBackground = true, Name = "udp proxy" };
        _thread.Start();
    }

    public IPEndPoint EndPoint { get; }
    public List<byte[]> ToServer { get; } = [];
    public List<byte[]> ToClient { get; } = [];
    public Func<byte[], bool> DropToServer { get; set; } = _ => false;
    /// <summary>Rewrites each server-to-client datagram in place before it is captured and forwarded (a kernel egress stand-in).</summary>
    public Action<byte[]>? RewriteToClient { get; set; }

    /// <summary>Sends a datagram of our own to the client, as if the server had sent it (once the client was seen).</summary>
    public void InjectToClient(byte[] datagram)
    {
        if (_client is not { } client) throw new InvalidOperationException("no client yet");
        lock (ToClient) ToClient.Add(datagram);
        _front.SendTo(datagram, client);
    }
    /// <summary>Datagrams the server sent to the proxy's current server-side port since the last <see cref="RebindServerSide"/>.</summary>
    public int FromServerSinceRebind => Volatile.Read(ref _fromServerSinceRebind);
    private int _fromServerSinceRebind;

    /// <summary>
    /// A NAT rebinding: from the next datagram on, the proxy talks to the server from a new source port, and what the
    /// server still sends to the old port is lost (that socket closes). The client notices nothing.
    /// </summary>
    public void RebindServerSide() => _rebindRequested = true;

    public List<byte[]> Snapshot(bool toServer)
    {
        var list = toServer ? ToServer : ToClient;
        lock (list) return [.. list];
    }

    private void Run()
    {
        var buffer = new byte[65536];
        var sockets = new List<Socket>();
        while (!_stopped)
        {
            if (_rebindRequested)
            {
                // Swapped on this thread, so Select never sees a disposed socket.
                var fresh = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                fresh.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                var old = _back;
                _back = fresh;
                old.Dispose();
                Volatile.Write(ref _fromServerSinceRebind, 0);
                _rebindRequested = false;
            }
            sockets.Clear();
            sockets.Add(_front);
            sockets.Add(_back);
            try
            {
                Socket.Select(sockets, null, null, 100_000);
                foreach (var socket in sockets)
                {
                    EndPoint from = new IPEndPoint(IPAddress.Any, 0);
                    int n = socket.ReceiveFrom(buffer, ref from);
                    var copy = buffer.AsSpan(0, n).ToArray();
                    if (socket == _front)
                    {
                        _client = from;
                        lock (ToServer) ToServer.Add(copy);
                        if (!DropToServer(copy)) _back.SendTo(copy, _server);
                    }
                    else if (_client is not null)
                    {
                        Interlocked.Increment(ref _fromServerSinceRebind);
                        RewriteToClient?.Invoke(copy);
                        lock (ToClient) ToClient.Add(copy);
                        _front.SendTo(copy, _client);
                    }
                }
            }
            catch (SocketException) { }
            catch (ObjectDisposedException) { return; }
        }
    }

    public void Dispose()
    {
        _stopped = true;
        _thread.Join(1000);
        _front.Dispose();
        _back.Dispose();
    }
}
