using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using FastRelay.Cli.Lab;

namespace FastRelay.Tests.Lab;

/// <summary>
/// A ping made of UDP: numbered datagrams from one lab host to another, sent and received by sockets created inside
/// the hosts' namespaces (<see cref="NetnsThread"/>), so no tool has to exist in the image.
/// </summary>
public static class UdpProbe
{
    /// <summary>Sends <paramref name="count"/> datagrams from <paramref name="fromAddress"/> in <paramref name="from"/>
    /// to <paramref name="toAddress"/> in <paramref name="to"/>; returns the sequence numbers that arrived (from the
    /// expected source address). Stops when all arrived, or <paramref name="quiet"/> (default 2.5 s) after the last one.</summary>
    public static async Task<IReadOnlySet<int>> RunAsync(LabNetwork lab, LabHost from, IPAddress fromAddress, LabHost to, IPAddress toAddress,
        int count = 3, TimeSpan? quiet = null)
    {
        // Longer than IPv6 neighbour discovery's 1 s retransmission: a first solicitation lost on a loaded machine (seen:
        // relay → s1 over IPv6, 0/5 within 400 ms in a CI run) delays every datagram queued behind it by that second.
        var silence = quiet ?? TimeSpan.FromMilliseconds(2500);
        using var receiver = lab.UdpSocket(to, new IPEndPoint(toAddress, 0));
        using var sender = lab.UdpSocket(from, new IPEndPoint(fromAddress, 0));
        var target = (IPEndPoint)receiver.LocalEndPoint!;
        var received = new HashSet<int>();
        var sending = true;

        var receiving = Task.Run(async () =>
        {
            var buffer = new byte[64];
            var any = new IPEndPoint(toAddress.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
            while (received.Count < count)
            {
                using var timeout = new CancellationTokenSource(silence);
                try
                {
                    var result = await receiver.ReceiveFromAsync(buffer, SocketFlags.None, any, timeout.Token);
                    if (result.ReceivedBytes == 4 && ((IPEndPoint)result.RemoteEndPoint).Address.Equals(fromAddress))
                        received.Add(BinaryPrimitives.ReadInt32BigEndian(buffer));
                }
                catch (OperationCanceledException)
                {
                    if (!Volatile.Read(ref sending))
                        break;
                }
            }
        });

        var payload = new byte[4];
        for (var i = 0; i < count; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(payload, i);
            await sender.SendToAsync(payload, SocketFlags.None, target);
            if (i % 16 == 15)
                await Task.Delay(1); // let the receiver drain: its socket buffer holds only a few hundred small skbs
        }
        Volatile.Write(ref sending, false);
        await receiving;
        return received;
    }
}
