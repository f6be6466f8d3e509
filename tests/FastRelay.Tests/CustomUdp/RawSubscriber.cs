using System.Net;
using System.Net.Sockets;
using FastRelay.Protocols.CustomUdp.Wire;

namespace FastRelay.Tests.CustomUdp;

/// <summary>A subscriber that speaks the wire format by hand, so a test can send what the real client never would
/// (hostile NACKs, spoofed control messages) and see exactly what the relay answers.</summary>
public sealed class RawSubscriber : IDisposable
{
    private readonly byte[] _buffer = new byte[4096];

    public RawSubscriber(IPEndPoint relay, ushort channel)
    {
        Relay = relay;
        Channel = channel;
        Socket = new Socket(relay.AddressFamily, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 8 << 20 };
        Socket.Bind(new IPEndPoint(relay.Address, 0));
    }

    public IPEndPoint Relay { get; }
    public ushort Channel { get; }
    public Socket Socket { get; }
    /// <summary>The session secret from the relay's REPLY.</summary>
    public ulong Session { get; private set; }

    /// <summary>The cookie handshake; returns the REPLY.</summary>
    public Reply Subscribe()
    {
        var packet = new byte[256];
        Send(packet.AsSpan(0, new Subscribe(0, 0).Write(packet, Channel, 0)));
        var challenge = Expect(ControlType.Challenge, TimeSpan.FromSeconds(5));
        Assert(Challenge.TryRead(challenge, out var c), "challenge");
        Send(packet.AsSpan(0, new Confirm(Role.Subscriber, c.Cookie, 0, 0).Write(packet, Channel, 0)));
        var reply = Expect(ControlType.Reply, TimeSpan.FromSeconds(5));
        Assert(Reply.TryRead(reply, out var r), "reply");
        Session = r.Session;
        return r;
    }

    public void Send(ReadOnlySpan<byte> packet) => Socket.SendTo(packet, SocketFlags.None, Relay);

    public void SendNack(ReadOnlySpan<NackRange> ranges)
    {
        var packet = new byte[Nack.PacketSize(ranges.Length)];
        Send(packet.AsSpan(0, Nack.Write(packet, Channel, 0, Session, ranges)));
    }

    /// <summary>Counts datagrams by kind until none arrived for <paramref name="quiet"/> (or <paramref name="limit"/> passed).</summary>
    public (int Data, int Repairs) CountUntilQuiet(TimeSpan quiet, TimeSpan limit)
    {
        int data = 0, repairs = 0;
        var deadline = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < deadline && Socket.Poll((int)quiet.TotalMicroseconds, SelectMode.SelectRead))
        {
            var n = Socket.Receive(_buffer);
            var packet = _buffer.AsSpan(0, n);
            if (PacketHeader.IsDataPacket(packet))
                data++;
            else if (ControlMessage.TryReadType(packet, out _, out var type) && type == ControlType.Repair)
                repairs++;
        }
        return (data, repairs);
    }

    private byte[] Expect(ControlType type, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (!Socket.Poll(100_000, SelectMode.SelectRead))
                continue;
            var n = Socket.Receive(_buffer);
            if (ControlMessage.TryReadType(_buffer.AsSpan(0, n), out _, out var t) && t == type)
                return _buffer[..n];
        }
        throw new TimeoutException($"no {type} from the relay");
    }

    private static void Assert(bool condition, string what)
    {
        if (!condition)
            throw new InvalidOperationException($"malformed {what}");
    }

    public void Dispose() => Socket.Dispose();
}
