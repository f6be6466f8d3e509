using System.Net;
using System.Net.Sockets;
using FastRelay.Protocols.Quic.Io;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace FastRelay.Tests.Quic.Ecn;

/// <summary>
/// ECN codepoints through <see cref="DatagramSocket"/> on real loopback sockets: what one socket marks per message
/// (IP_TOS / IPV6_TCLASS control message) the other reads from recvmmsg's control messages, for single datagrams, GSO
/// super-packets (every segment keeps the mark) and IPv4 and IPv6.
/// </summary>
public sealed class EcnSocketTests
{
    private static DatagramSocket Open(AddressFamily family, out IPEndPoint endPoint)
    {
        var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback, 0));
        endPoint = (IPEndPoint)socket.LocalEndPoint!;
        return new DatagramSocket(socket, 16, enableSegmentation: true, enableReceiveCoalescing: false, NullLogger.Instance);
    }

    /// <summary>Every datagram received within the deadline with its codepoint.</summary>
    private static async Task<List<(int Length, byte Ecn)>> ReceiveAsync(DatagramSocket receiver, int expected)
    {
        var got = new List<(int, byte)>();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (got.Count < expected && DateTime.UtcNow < deadline)
        {
            int slots = receiver.Receive();
            if (slots == 0) { await Task.Delay(1); continue; }
            for (int s = 0; s < slots; s++)
            {
                var (data, _, ecn) = receiver.Received(s);
                got.Add((data.Length, ecn));
            }
        }
        return got;
    }

    [Theory]
    [InlineData(AddressFamily.InterNetwork, (byte)0x02)]
    [InlineData(AddressFamily.InterNetwork, (byte)0x03)]
    [InlineData(AddressFamily.InterNetwork, (byte)0x01)]
    [InlineData(AddressFamily.InterNetworkV6, (byte)0x02)]
    [InlineData(AddressFamily.InterNetworkV6, (byte)0x03)]
    public async Task The_codepoint_sent_is_the_codepoint_read(AddressFamily family, byte ecn)
    {
        if (!OperatingSystem.IsLinux()) return; // ECN marking uses Linux control messages
        using var sender = Open(family, out _);
        using var receiver = Open(family, out var to);
        Assert.True(receiver.ReadsEcn && sender.MarksEcn);
        var address = to.Serialize();
        // One datagram alone, then a batch that goes as a GSO super-packet (8 × 1200) plus a shorter tail.
        sender.SendBatch(new byte[300], [300], address, allowSegmentation: true, ecn);
        sender.SendBatch(new byte[8 * 1200 + 100], [1200, 1200, 1200, 1200, 1200, 1200, 1200, 1200, 100], address, allowSegmentation: true, ecn);
        // Unmarked traffic stays Not-ECT.
        sender.SendBatch(new byte[50], [50], address, allowSegmentation: true, 0);
        var got = await ReceiveAsync(receiver, 11);
        Assert.Equal(11, got.Count);
        Assert.All(got.Take(10), d => Assert.Equal(ecn, d.Ecn));
        Assert.Equal((50, (byte)0), got[10]);
    }
}
