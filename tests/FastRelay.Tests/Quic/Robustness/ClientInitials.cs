using System.Net;
using System.Net.Sockets;
using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Tests.Quic.Connection;

namespace FastRelay.Tests.Quic.Robustness;

/// <summary>
/// Client Initial datagrams made by hand for tests that talk to a server over a raw UDP socket: a genuine first flight
/// from a client core that no socket drives (so nothing retransmits it), the same ClientHello resealed into a packet of
/// any size, and forged Initials that look right to a header parser but cannot authenticate.
/// </summary>
internal static class ClientInitials
{
    private sealed class NoRoutes : IConnectionIdListener
    {
        public void OnIssued(in ConnectionId id) { }
        public void OnRetired(in ConnectionId id) { }
    }

    /// <summary>The first datagram of a fresh client (one Initial carrying the ClientHello, padded to 1200 bytes).</summary>
    public static byte[] Genuine(out ConnectionId destination, out ConnectionId source)
    {
        var settings = new ConnectionSettingsBuilder(QuicPerspective.Client).Build();
        using var client = QuicConnectionCore.CreateClient(settings, new NoRoutes(), 1_000_000);
        var buffer = new byte[1500];
        int n = client.WriteDatagram(buffer, 1_000_000);
        var datagram = buffer[..n];
        if (!PacketHeaderParser.TryParse(datagram, 8, out var header, out _)) throw new InvalidOperationException("client Initial did not parse");
        ConnectionId.TryCreate(header.DestinationConnectionId.Span, out destination);
        ConnectionId.TryCreate(header.SourceConnectionId.Span, out source);
        return datagram;
    }

    /// <summary>The frames of a genuine first Initial with its trailing PADDING removed (CRYPTO with the ClientHello).</summary>
    public static byte[] ClientHelloFrames(byte[] genuineDatagram, in ConnectionId destination)
    {
        var copy = genuineDatagram.ToArray();
        if (!PacketHeaderParser.TryParse(copy, 8, out var header, out _)) throw new InvalidOperationException("no header");
        var (clientKeys, serverKeys) = PacketKeys.CreateInitial(destination.Span);
        using (clientKeys)
        using (serverKeys)
        {
            var packet = copy.AsSpan(0, header.PacketLength);
            if (!PacketProtection.TryUnprotect(packet, header.PacketNumberOffset, null, clientKeys, out _, out int offset, out int length, out _))
                throw new InvalidOperationException("genuine Initial did not decrypt");
            var frames = packet.Slice(offset, length);
            int end = frames.Length;
            while (end > 0 && frames[end - 1] == 0) end--;
            return frames[..end].ToArray();
        }
    }

    /// <summary>One Initial packet (no padding unless <paramref name="paddedPayload"/> is larger than the frames) sealed with the client's Initial keys.</summary>
    public static byte[] Seal(in ConnectionId destination, in ConnectionId source, ulong packetNumber, ReadOnlySpan<byte> frames, int paddedPayload = 0)
    {
        int payload = Math.Max(frames.Length, paddedPayload);
        var buffer = new byte[payload + 200];
        int headerLength = PacketHeaderWriter.WriteLongHeader(buffer, QuicPacketType.Initial, QuicVersion.V1, destination.Span, source.Span, [],
            packetNumber, 4, payload + PacketProtection.TagLength);
        frames.CopyTo(buffer.AsSpan(headerLength));
        var (clientKeys, serverKeys) = PacketKeys.CreateInitial(destination.Span);
        using (clientKeys)
        using (serverKeys)
        {
            int total = PacketProtection.Protect(buffer, headerLength - 4, packetNumber, payload, clientKeys);
            return buffer[..total];
        }
    }

    /// <summary>A datagram that passes every header check a server makes before decrypting: long header, type Initial,
    /// version 1, a random destination id of 8..20 bytes, a plausible Length, 1200 bytes — and random ciphertext.</summary>
    public static byte[] Forged(Random random)
    {
        var datagram = new byte[1200];
        random.NextBytes(datagram);
        int dcidLength = random.Next(8, 21);
        int p = 0;
        datagram[p++] = (byte)(0xC0 | (datagram[0] & 0x03));   // long header, fixed bit, Initial, any pn length
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(p), QuicVersion.V1);
        p += 4;
        datagram[p++] = (byte)dcidLength;
        p += dcidLength;
        datagram[p++] = 8;
        p += 8;
        datagram[p++] = 0;                                        // no token
        int rest = datagram.Length - p - 2;
        datagram[p++] = (byte)(0x40 | (rest >> 8));               // 2-byte varint Length: the rest of the datagram
        datagram[p] = (byte)rest;
        return datagram;
    }
}

/// <summary>A plain UDP socket on loopback that sends datagrams to a server and collects what comes back.</summary>
internal sealed class RawUdpPeer : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly IPEndPoint _server;

    public RawUdpPeer(IPEndPoint server)
    {
        _server = server;
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
    }

    public void Send(byte[] datagram) => _socket.SendTo(datagram, _server);

    /// <summary>The next datagram from the server, or null when none arrives within <paramref name="timeout"/>.</summary>
    public byte[]? Receive(TimeSpan timeout)
    {
        if (!_socket.Poll((int)Math.Min(int.MaxValue, timeout.Ticks / 10), SelectMode.SelectRead)) return null;
        var buffer = new byte[65536];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        int n = _socket.ReceiveFrom(buffer, ref from);
        return buffer[..n];
    }

    /// <summary>Everything that arrives until nothing has come for <paramref name="quiet"/>.</summary>
    public List<byte[]> Drain(TimeSpan quiet)
    {
        var all = new List<byte[]>();
        while (Receive(quiet) is { } d) all.Add(d);
        return all;
    }

    public void Dispose() => _socket.Dispose();
}
