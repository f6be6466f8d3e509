using System.Net;
using System.Net.Sockets;

namespace FastRelay.Tests.Quic.Ecn;

/// <summary>
/// A UDP relay on 127.0.0.1 between one client and one server that re-sends every datagram from its own sockets, whose
/// IP_TOS it sets: 0 bleaches the ECN bits (a middlebox that clears them), 0x02 keeps ECT(0), 0x03 marks every datagram
/// ECN-CE (a congested router). The kernel keeps TOS on loopback, so the receiver reads exactly that. Real packets.
/// </summary>
internal sealed class TosRewritingProxy : IDisposable
{
    private const int IpTos = 1;
    private readonly Socket _front = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly Socket _back = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly IPEndPoint _server;
    private readonly Thread _thread;
    private EndPoint? _client;
    private volatile bool _stopped;

    public TosRewritingProxy(IPEndPoint server, byte tosToServer, byte tosToClient)
    {
        _server = server;
        _front.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _back.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _back.SetRawSocketOption(0, IpTos, BitConverter.GetBytes((int)tosToServer));
        _front.SetRawSocketOption(0, IpTos, BitConverter.GetBytes((int)tosToClient));
        _front.ReceiveTimeout = _back.ReceiveTimeout = 50;
        EndPoint = (IPEndPoint)_front.LocalEndPoint!;
        _thread = new Thread(Run) { IsBackground = true, Name = "tos proxy" };
        _thread.Start();
    }

    public IPEndPoint EndPoint { get; }
    public int Forwarded => Volatile.Read(ref _forwarded);
    private int _forwarded;

    private void Run()
    {
        var buffer = new byte[65536];
        while (!_stopped)
        {
            try
            {
                var readable = new List<Socket> { _front, _back };
                Socket.Select(readable, null, null, 50_000);
                foreach (var socket in readable)
                {
                    EndPoint from = new IPEndPoint(IPAddress.Any, 0);
                    int n = socket.ReceiveFrom(buffer, ref from);
                    if (socket == _front)
                    {
                        _client = from;
                        _back.SendTo(buffer.AsSpan(0, n), SocketFlags.None, _server);
                    }
                    else if (_client is { } client) _front.SendTo(buffer.AsSpan(0, n), SocketFlags.None, client);
                    Interlocked.Increment(ref _forwarded);
                }
            }
            catch (SocketException) { }
            catch (ObjectDisposedException) { return; }
        }
    }

    public void Dispose()
    {
        _stopped = true;
        _thread.Join(TimeSpan.FromSeconds(2));
        _front.Dispose();
        _back.Dispose();
    }
}
