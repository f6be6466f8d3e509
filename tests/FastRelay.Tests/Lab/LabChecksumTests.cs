using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using FastRelay.Cli.Lab;
using Xunit;

namespace FastRelay.Tests.Lab;

/// <summary>
/// The point of turning tx checksum offload off: a UDP checksum that is wrong on the wire must cost the packet.
/// Here the relay sends hand-made UDP datagrams through a raw socket (the kernel does not touch their checksum).
/// </summary>
public class LabChecksumTests
{
    [LabFact]
    public async Task A_subscriber_drops_udp_with_a_wrong_checksum_and_accepts_a_right_one()
    {
        await using var lab = await LabTopology.UpAsync(new LabOptions { Subscribers = 1, RelayInterfaces = 2 });
        var s0 = lab.Subscribers[0];
        var source = lab.RelayDownstream.IPv4;
        using var receiver = lab.UdpSocket(s0, AddressFamily.InterNetwork);
        var port = ((IPEndPoint)receiver.LocalEndPoint!).Port;
        using var raw = NetnsThread.Run(lab.Relay.Namespace, () => new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Udp));
        raw.Bind(new IPEndPoint(source, 0));

        var bad = Datagram(source, s0.IPv4, 40000, port, "bad"u8, corrupt: true);
        var good = Datagram(source, s0.IPv4, 40000, port, "good"u8, corrupt: false);
        raw.SendTo(bad, new IPEndPoint(s0.IPv4, 0));
        raw.SendTo(good, new IPEndPoint(s0.IPv4, 0));

        var buffer = new byte[16];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var first = await receiver.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        Assert.Equal("good", System.Text.Encoding.ASCII.GetString(buffer, 0, first)); // the bad one never arrived

        var snmp = (await lab.ExecAsync(s0, "cat", "/proc/net/snmp")).StandardOutput.Split('\n').Where(l => l.StartsWith("Udp:")).ToArray();
        var names = snmp[0].Split(' ');
        var values = snmp[1].Split(' ');
        Assert.Equal("1", values[Array.IndexOf(names, "InCsumErrors")]);
    }

    private static byte[] Datagram(IPAddress source, IPAddress destination, int sourcePort, int destinationPort, ReadOnlySpan<byte> payload, bool corrupt)
    {
        var udp = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(0), (ushort)sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(2), (ushort)destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(4), (ushort)udp.Length);
        payload.CopyTo(udp.AsSpan(8));

        var pseudo = new byte[12 + udp.Length];
        source.GetAddressBytes().CopyTo(pseudo, 0);
        destination.GetAddressBytes().CopyTo(pseudo, 4);
        pseudo[9] = 17;
        BinaryPrimitives.WriteUInt16BigEndian(pseudo.AsSpan(10), (ushort)udp.Length);
        udp.CopyTo(pseudo, 12);
        uint sum = 0;
        for (var i = 0; i < pseudo.Length; i += 2)
            sum += (uint)(pseudo[i] << 8 | (i + 1 < pseudo.Length ? pseudo[i + 1] : 0));
        while (sum > 0xffff)
            sum = (sum & 0xffff) + (sum >> 16);
        var checksum = (ushort)~sum;
        if (checksum == 0) checksum = 0xffff;
        if (corrupt) checksum ^= 0x0101;
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(6), checksum);
        return udp;
    }
}
