using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using FastRelay.Cli.Lab;
using FastRelay.Protocols.Moq.Relay.FastPath;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Relay;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using FastRelay.Tests.Moq.FastPath;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Quic.Api;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using Xunit.Abstractions;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.Quic.AckFrequency;

/// <summary>
/// The ACK frequency request on a connection whose packets the kernel forwards and numbers, in namespaces (prefix fraf),
/// with the real TC programs (the setup of Moq/FastPath/FastPathSubscriberLabTests, paced like media): the relay's
/// connection is activated with a request, the subscriber (our stack) then acknowledges the kernel's copies about once
/// per threshold + 1 instead of once per two, every copy is still acknowledged and, with loss on the link, recovered.
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class FastPathAckFrequencyLabTests(GeneratedObjects objects, ITestOutputHelper output)
{
    private const ulong UpstreamStream = 2;
    private const int UpstreamHeaderLength = 9, Packets = 120, DataLength = 1100;
    private static readonly byte[] PublisherCid = [0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48];

    [LabTheory(needsClang: true)]
    [InlineData(false, 0)]
    [InlineData(true, 0)]
    [InlineData(true, 10)]
    public async Task The_subscriber_acknowledges_kernel_copies_as_asked(bool request, int lossPercent)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        // A long delay: the threshold, not the timer, decides how often the subscriber acknowledges this slow pacing.
        var asked = request ? new FastPathAckFrequency(4, TimeSpan.FromMilliseconds(500), 3) : null;
        await using var setup = await FastPathSubscriberLab.StartAsync(objects, "fraf", timeout.Token, ackFrequency: asked);
        var (lab, plane, subscriber, relay, fastPath) = (setup.Lab, setup.Plane, setup.Subscriber, setup.Relay, setup.FastPath);
        var family = AddressFamily.InterNetwork;
        await Eventually.TrueAsync(() => relay.GetPathStatistics().BytesInFlight == 0, "the request (with its IMMEDIATE_ACK) is acknowledged");
        if (lossPercent > 0) await lab.SetLossAsync(lab.Subscribers[0], lossPercent, seed: 5);

        byte[] ownHeader = [0x10, 0x05, 0x00, 0x00, 0x80];
        var upstreamBytes = RandomNumberGenerator.GetBytes(Packets * DataLength);
        var (subgroup, reading) = await setup.MapSubgroupAsync(UpstreamStream, ownHeader, UpstreamHeaderLength, PublisherCid, timeout.Token);

        // Paced like media: two packets (an object), then wait until the subscriber has them, or, under loss, a moment.
        long acks = subscriber.AckFramesSent, packets = subscriber.AckElicitingPacketsReceived;
        using (var publisher = lab.UdpSocket(lab.Publisher, family))
        {
            var relayUpstream = new IPEndPoint(lab.RelayUpstream.Address(family), G.UdpPort);
            for (var k = 0; k < Packets; k++)
            {
                long before = subscriber.AckElicitingPacketsReceived;
                publisher.SendTo(QuicMoqProtocol.Packet(PublisherCid, (uint)k, UpstreamStream, (ulong)(UpstreamHeaderLength + k * DataLength),
                    upstreamBytes.AsSpan(k * DataLength, DataLength), fin: k == Packets - 1), relayUpstream);
                await subgroup.WriteUpstreamAsync(upstreamBytes.AsMemory(k * DataLength, DataLength), fin: k == Packets - 1, timeout.Token);
                if (k % 2 == 1 && lossPercent == 0)
                    await Eventually.TrueAsync(() => subscriber.AckElicitingPacketsReceived >= before + 1, $"packet {k} arrived");
                else if (k % 2 == 1) await Task.Delay(5);   // pacing only: under loss a packet may never arrive as such
            }
        }

        var received = await reading;
        Assert.Equal(ownHeader.Concat(upstreamBytes).ToArray(), received);
        await Eventually.TrueAsync(() => relay.GetPathStatistics().BytesInFlight == 0, "every packet of the relay, copies included, acknowledged");
        acks = subscriber.AckFramesSent - acks;
        packets = subscriber.AckElicitingPacketsReceived - packets;
        var pump = plane.Counters;
        output.WriteLine($"request {request}, loss {lossPercent} %: {acks} ACKs for {packets} packets; kernel forwarded {pump.Forwarded}, " +
            $"relay lost {relay.GetPathStatistics().PacketsLost}");

        // The kernel forwards what its budget (the window's room, refreshed every 20 ms) allows; the relay sends the rest
        // itself. Without loss that is most of it (all, on a quiet machine); under 10 % loss the window stays small.
        Assert.True(pump.Forwarded >= (lossPercent == 0 ? Packets / 4 : 1), $"the kernel forwarded only {pump.Forwarded} of {Packets}");
        Assert.False(subscriber.Closing.IsCompleted, "the subscriber's QUIC stack saw no violation");
        Assert.False(relay.Closing.IsCompleted);
        double perPacket = (double)acks / packets;
        if (!request) Assert.True(perPacket >= 0.4, $"default: {acks} ACKs for {packets} packets");
        else if (lossPercent == 0) Assert.True(perPacket <= 0.3, $"asked one per 5: {acks} ACKs for {packets} packets");
        else
        {
            Assert.True(relay.GetPathStatistics().PacketsLost > 0, "nothing lost: the test proves nothing");
            // The window stays small under 10 % loss, and the request follows it down towards RFC 9000's ACK per two.
            Assert.True(perPacket < 0.6, $"{acks} ACKs for {packets} packets");
        }
    }
}
