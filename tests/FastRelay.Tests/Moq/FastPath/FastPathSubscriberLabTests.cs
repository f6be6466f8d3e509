using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using FastRelay.Cli.Lab;
using FastRelay.Protocols.Moq.Relay.FastPath;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Relay;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Quic.Api;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>
/// The subscriber half of the glue end to end, in namespaces (prefix frmf): a real QUIC subscriber (our stack, 0xBAAD)
/// connects to the relay's listener; <see cref="FastPathSubscriberConnection"/> puts the relay's connection on the
/// fast path (slot, external numbering) and maps one subgroup stream; fast-path packets of an upstream stream (crafted
/// in the contract layout, as our publisher sends them) are cloned by the real TC programs, and the pump registers
/// every copy with the relay's connection. The subscriber's QUIC stack reads a byte-identical stream (the relay's own
/// header, then the upstream bytes) and closes nothing; the relay's connection sees every forwarded packet acknowledged.
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class FastPathSubscriberLabTests(GeneratedObjects objects)
{
    private const ulong UpstreamStream = 2;
    private const int UpstreamHeaderLength = 9, Packets = 40, DataLength = 1100, SmallWindow = 16 * 1024;
    private static readonly byte[] PublisherCid = [0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48];

    /// <param name="lossPercent">UDP loss on the subscriber's link for the whole run.</param>
    /// <param name="silentFirst">The subscriber's link drops everything while the publisher's packets arrive (no ACK
    /// comes back), then recovers: the kernel must stop at the congestion window's room and leave the rest to the stack.</param>
    /// <param name="smallWindow">The subscriber grants 16 kB of connection flow control at a time (MAX_DATA slides as
    /// it reads) and the publisher's packets come paced: the kernel keeps forwarding only because the relay's credit
    /// thread raises the kernel's connection credit as each MAX_DATA arrives (its first grant covers 7 packets).</param>
    [LabTheory(needsClang: true)]
    [InlineData(0, false, false)]
    [InlineData(10, false, false)]
    [InlineData(0, true, false)]
    [InlineData(0, false, true)]
    public async Task A_quic_subscriber_reads_a_byte_identical_stream_whose_data_the_kernel_forwarded(int lossPercent, bool silentFirst, bool smallWindow)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var setup = await FastPathSubscriberLab.StartAsync(objects, "frmf", timeout.Token, client: smallWindow ? o =>
        {
            o.InitialConnectionReceiveWindow = SmallWindow;
            o.MaxConnectionReceiveWindow = SmallWindow;
        } : null);
        var (lab, plane, subscriber, relay, fastPath) = (setup.Lab, setup.Plane, setup.Subscriber, setup.Relay, setup.FastPath);
        var family = AddressFamily.InterNetwork;
        // Loss on the subscriber's link (its ingress, UDP only, seeded): lost copies are declared lost by the relay's
        // stack, which resends those ranges from its shadow copy.
        if (lossPercent > 0 || silentFirst)
            await lab.SetLossAsync(lab.Subscribers[0], silentFirst ? 100 : lossPercent, seed: 11);
        // The congestion budget is on from activation, at the window's room, nothing shed.
        var window = relay.GetPathStatistics().CongestionWindow;
        await Eventually.TrueAsync(() =>
        {
            var path = relay.GetPathStatistics();
            return plane.CongestionBudget(fastPath.Slot) == (path.CongestionWindow - path.BytesInFlight, (uint)SubscriberCongestion.Levels, true);
        }, "the budget is the window's room");

        // The relay opens the subscriber's subgroup stream with its own (shorter) header and maps the upstream stream.
        byte[] ownHeader = [0x10, 0x05, 0x00, 0x00, 0x80];
        var upstreamBytes = RandomNumberGenerator.GetBytes(Packets * DataLength);
        var (subgroup, reading) = await setup.MapSubgroupAsync(UpstreamStream, ownHeader, UpstreamHeaderLength, PublisherCid, timeout.Token);

        // The publisher's fast-path packets; the relay's stack writes the same bytes as shadow once "received".
        using (var publisher = lab.UdpSocket(lab.Publisher, family))
        {
            var relayUpstream = new IPEndPoint(lab.RelayUpstream.Address(family), G.UdpPort);
            void Publish(int k) => publisher.SendTo(QuicMoqProtocol.Packet(PublisherCid, (uint)k, UpstreamStream, (ulong)(UpstreamHeaderLength + k * DataLength),
                upstreamBytes.AsSpan(k * DataLength, DataLength), fin: k == Packets - 1), relayUpstream);
            if (smallWindow)
            {
                // Paced, about a credit refresh apart per few packets: MAX_DATA has time to come back between them.
                for (var k = 0; k < Packets; k++)
                {
                    Publish(k);
                    await subgroup.WriteUpstreamAsync(upstreamBytes.AsMemory(k * DataLength, DataLength), fin: k == Packets - 1, timeout.Token);
                    await Task.Delay(10, timeout.Token);
                }
            }
            else
            {
                for (var k = 0; k < Packets; k++) Publish(k);
                for (var k = 0; k < Packets; k++)
                    await subgroup.WriteUpstreamAsync(upstreamBytes.AsMemory(k * DataLength, DataLength), fin: k == Packets - 1, timeout.Token);
            }
        }
        if (smallWindow)
        {
            var paced = plane.Counters;
            Assert.True(paced.Forwarded >= Packets * 3 / 4,
                $"the kernel forwarded {paced.Forwarded} of {Packets}: its connection credit did not follow the subscriber's MAX_DATA ({paced})");
        }
        if (silentFirst)
        {
            // Nothing acknowledged: the kernel forwarded what the window had room for (each copy ~1,150 bytes) and
            // reported the rest not forwarded, instead of sending 44 kB into a window of about 12 kB.
            await Eventually.TrueAsync(() => plane.Counters.Forwarded + plane.Counters.NotForwarded == Packets, "every copy forwarded or reported");
            var silent = plane.Counters;
            Assert.InRange(silent.Forwarded, 1, window / DataLength + 1);
            Assert.True(silent.NotForwarded >= Packets - window / DataLength - 1, $"{silent}");
            await lab.ClearLossAsync(lab.Subscribers[0]);
        }

        var received = await reading;
        Assert.Equal(ownHeader.Concat(upstreamBytes).ToArray(), received);
        await Eventually.TrueAsync(() => relay.GetPathStatistics().BytesInFlight == 0, "every packet of the relay, copies included, acknowledged");
        // The budget's books balance: the kernel debited each copy it sent, the connection credited every change of its
        // window and flight; with nothing in flight the budget is the whole window again (a mismatch, e.g. debiting
        // another size than the one registered, would drift it).
        Assert.Equal(relay.GetPathStatistics().CongestionWindow, plane.CongestionBudget(fastPath.Slot).Bytes);

        var forwardedBytes = plane.Maps.SubscriberStats.Lookup(fastPath.Slot).ForwardedBytes;
        var pump = plane.Counters;
        // The 44 kB burst is more than a new connection's congestion window: the kernel forwards what its budget (the
        // window's room) allows and reports the rest not forwarded, which the relay's stack then sends itself under
        // its controller (how far the budget refills during the burst depends on how fast the ACKs come back).
        Assert.Equal(Packets, pump.Forwarded + pump.NotForwarded);
        Assert.True(pump.Forwarded >= 8, $"the kernel forwarded only {pump.Forwarded} of {Packets} (an initial window holds 10)");
        Assert.Equal(0, pump.SinkFailures);
        Assert.True(pump.Numbered > 0, "the relay's own packets were numbered by the kernel");
        // The shadow bytes stayed in the relay unless a copy was lost or not forwarded: without loss, had its stack sent
        // the forwarded ones too, it would have numbered at least as many packets of its own as there were copies.
        if (lossPercent == 0)
            Assert.True(pump.Numbered < pump.NotForwarded + Packets / 2, $"the relay's stack sent {pump.Numbered} packets of its own ({pump.NotForwarded} not forwarded)");
        Assert.Equal((ulong)(pump.Forwarded * DataLength), plane.ConnectionCreditUsed(fastPath.Slot));
        Assert.False(subscriber.Closing.IsCompleted, "the subscriber's QUIC stack saw no violation");
        Assert.False(relay.Closing.IsCompleted);
        // Share of the object bytes the kernel sent (the rest, the header, left userspace).
        Console.WriteLine($"fast path share: {pump.Forwarded * DataLength} of {received.Length} stream bytes forwarded by the kernel " +
            $"({100.0 * pump.Forwarded * DataLength / received.Length:0.0}%), {forwardedBytes} UDP payload bytes; relay stack packets numbered: {pump.Numbered}");
    }

    /// <summary>Our publisher ends a subgroup with a FIN in a packet of its own (after the last object), which the kernel
    /// forwards like data; the tap then writes a FIN-only shadow chunk. The relay's stack must not send that FIN again:
    /// it did for every subscriber and subgroup (a fifth of the relay's sendmsg calls at fan-out 64) until the kernel's
    /// FIN was counted as covered.</summary>
    [LabFact(needsClang: true)]
    public async Task A_fin_the_kernel_forwarded_in_a_packet_of_its_own_is_not_sent_again_by_the_relay()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var setup = await FastPathSubscriberLab.StartAsync(objects, "frmn", timeout.Token);
        var (lab, plane, subscriber, relay) = (setup.Lab, setup.Plane, setup.Subscriber, setup.Relay);
        const int packets = 5;
        byte[] ownHeader = [0x10, 0x05, 0x00, 0x00, 0x80];
        var upstreamBytes = RandomNumberGenerator.GetBytes(packets * DataLength);
        var (subgroup, reading) = await setup.MapSubgroupAsync(UpstreamStream, ownHeader, UpstreamHeaderLength, PublisherCid, timeout.Token);
        using var publisher = lab.UdpSocket(lab.Publisher, AddressFamily.InterNetwork);
        var relayUpstream = new IPEndPoint(lab.RelayUpstream.Address(AddressFamily.InterNetwork), G.UdpPort);
        for (var k = 0; k < packets; k++)
        {
            publisher.SendTo(QuicMoqProtocol.Packet(PublisherCid, (uint)k, UpstreamStream, (ulong)(UpstreamHeaderLength + k * DataLength),
                upstreamBytes.AsSpan(k * DataLength, DataLength), fin: false), relayUpstream);
            await subgroup.WriteUpstreamAsync(upstreamBytes.AsMemory(k * DataLength, DataLength), fin: false, timeout.Token);
        }
        await Eventually.TrueAsync(() => plane.Counters.Forwarded == packets && relay.GetPathStatistics().BytesInFlight == 0,
            "every copy forwarded and acknowledged");
        var before = subscriber.AckElicitingPacketsReceived;

        publisher.SendTo(QuicMoqProtocol.Packet(PublisherCid, packets, UpstreamStream, (ulong)(UpstreamHeaderLength + packets * DataLength),
            ReadOnlySpan<byte>.Empty, fin: true), relayUpstream);
        await subgroup.WriteUpstreamAsync(ReadOnlyMemory<byte>.Empty, fin: true, timeout.Token);
        Assert.Equal(ownHeader.Concat(upstreamBytes).ToArray(), await reading);
        await Eventually.TrueAsync(() => plane.Counters.Forwarded == packets + 1 && relay.GetPathStatistics().BytesInFlight == 0,
            "the FIN's copy forwarded and acknowledged");
        // One ack-eliciting packet since: the kernel's copy of the FIN. (The relay's own packets to this subscriber are
        // otherwise ACK-only: it sends nothing else ack-eliciting on a quiet connection.)
        Assert.Equal(1, subscriber.AckElicitingPacketsReceived - before);
        Assert.False(subscriber.Closing.IsCompleted, "the subscriber's QUIC stack saw no violation");
    }
}
