using System.Net;
using System.Net.Sockets;
using FastRelay.Protocols.Quic.Io;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastRelay.Tests.Quic.Ecn;

/// <summary>
/// A UDP relay on 127.0.0.1 between one client and one server that plays a network element on the ECN bits: each
/// datagram's codepoint as received (read with our <see cref="DatagramSocket"/>, IP_RECVTOS) is mapped to the one it is
/// re-sent with, or null to drop it. Bleaching (<c>_ =&gt; 0</c>), a congested router (<c>e =&gt; e == 0 ? 0 : 3</c>: ECT
/// becomes ECN-CE, Not-ECT stays), a black hole for marked packets (<c>e =&gt; e == 0 ? 0 : null</c>). Real packets:
/// the kernel keeps the TOS bits on loopback.
/// </summary>
internal sealed class EcnRelay : IDisposable
{
    private readonly DatagramSocket _front, _back;
    private readonly IPEndPoint _server;
    private readonly Thread _thread;
    private SocketAddress? _client;
    private volatile bool _stopped;

    private readonly Func<byte, byte?> _toServer, _toClient;

    public EcnRelay(IPEndPoint server, Func<byte, byte?> toServer, Func<byte, byte?> toClient)
    {
        _server = server;
        _toServer = toServer;
        _toClient = toClient;
        _front = Open(out var front);
        _back = Open(out _);
        EndPoint = front;
        _thread = new Thread(Run) { IsBackground = true, Name = "ecn relay" };
        _thread.Start();
    }

    private static DatagramSocket Open(out IPEndPoint endPoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        endPoint = (IPEndPoint)socket.LocalEndPoint!;
        return new DatagramSocket(socket, 8, enableSegmentation: false, enableReceiveCoalescing: false, NullLogger.Instance);
    }

    public IPEndPoint EndPoint { get; }
    /// <summary>Datagrams the mapping dropped.</summary>
    public int Dropped => Volatile.Read(ref _dropped);
    private int _dropped;

    private void Run()
    {
        var serverAddress = _server.Serialize();
        while (!_stopped)
        {
            bool any = Pump(_front, toServer: true, serverAddress) | Pump(_back, toServer: false, serverAddress);
            if (!any) Thread.Sleep(1);
        }
    }

    private bool Pump(DatagramSocket from, bool toServer, SocketAddress serverAddress)
    {
        int n;
        try { n = from.Receive(); }
        catch (ObjectDisposedException) { return false; }
        for (int i = 0; i < n; i++)
        {
            var (data, _, ecn) = from.Received(i);
            if (toServer && _client is null)
            {
                var source = from.Source(i);
                _client = new SocketAddress(source.Family, source.Size);
                source.Buffer.Span[..source.Size].CopyTo(_client.Buffer.Span);
            }
            if ((toServer ? _toServer : _toClient)(ecn) is not { } mark) { Interlocked.Increment(ref _dropped); continue; }
            int[] length = [data.Length];
            if (toServer) _back.SendBatch(data.Span, length, serverAddress, allowSegmentation: false, mark);
            else if (_client is { } client) _front.SendBatch(data.Span, length, client, allowSegmentation: false, mark);
        }
        return n > 0;
    }

    public void Dispose()
    {
        _stopped = true;
        _thread.Join(TimeSpan.FromSeconds(2));
        _front.Dispose();
        _back.Dispose();
    }
}
