using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using FastRelay.Bpf;
using FastRelay.Cli.Lab;
using FastRelay.Protocols.Moq.Relay.FastPath;
using FastRelay.Relay;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using FastRelay.Tests.Packets.Protocols;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>
/// <see cref="MoqKernelPlane"/> against the real generated programs over veths (namespaces prefixed frmf): the plane
/// resolves each subscriber's MACs through the kernel's tables, writes slots, channel, channel lookup and stream
/// mappings, and its event pump delivers the kernel's events — forwarded, userspace-numbered, not forwarded — to the
/// sink of the right slot. Removing everything leaves no entry in the kernel's hash maps.
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class MoqKernelPlaneLabTests(GeneratedObjects objects)
{
    private const uint Channel = 5;
    private const ulong UpstreamStream = 6;     // a client-initiated unidirectional stream (the publisher's subgroup)
    private const int Packets = 12, DataLength = 200;
    private const ulong ForwardFrom = 9;        // the upstream subgroup header's length in this test
    private static readonly byte[] PublisherCid = [0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38];

    [LabFact(needsClang: true)]
    public async Task Pump_delivers_forwarded_numbered_and_not_forwarded_events_to_the_right_slot()
    {
        var (lab, host) = await StartAsync(subscribers: 2);
        await using var _ = lab;
        using var __ = host;
        var family = AddressFamily.InterNetwork;
        var down = lab.RelayDownstream;
        using var plane = new MoqKernelPlane(host.Object, G.UdpPort, NullLogger.Instance);
        var relayLocal = new IPEndPoint(down.Address(family), G.UdpPort);
        var sockets = new List<Socket>();
        var sinks = new List<RecordingDownstream>();
        var slots = new List<uint>();
        try
        {
            for (var i = 0; i < lab.Subscribers.Count; i++)
            {
                var sub = lab.Subscribers[i];
                var remote = new IPEndPoint(sub.Address(family), 6200 + i);
                var socket = lab.UdpSocket(sub, remote);
                sockets.Add(socket);
                // As after a handshake: the subscriber has talked to the relay, so the relay knows its MAC.
                socket.SendTo(new byte[1], new IPEndPoint(down.Address(family), 9));
                var address = await lab.RunInAsync(lab.Relay, () => FastPathSubscriberAddress.Resolve(relayLocal, remote, CidOf(i)));
                Assert.Equal(sub.Mac.GetAddressBytes(), address.DestinationMac);
                var sink = new RecordingDownstream();
                sinks.Add(sink);
                var slot = plane.AddSubscriber(address, firstPacketNumber: 100UL * (ulong)(i + 1), sink)!.Value;
                slots.Add(slot);
                plane.SetConnectionCredit(slot, 1 << 20);
                plane.JoinChannel(slot, Channel);
                // Subscriber 1's stream credit ends inside the 10th packet: the kernel reports the rest not forwarded.
                var limit = i == 0 ? QuicMoqProtocol.MaxVarint : (ulong)((long)ForwardFrom + 9 * DataLength + DeltaOf(i) + 50);
                plane.MapStream(slot, UpstreamStream, StreamOf(i), DeltaOf(i), ForwardFrom, limit, urgency: 1);
            }
            plane.MapUpstreamStream(PublisherCid, UpstreamStream, Channel);

            using var publisher = lab.UdpSocket(lab.Publisher, family);
            var relay = new IPEndPoint(lab.RelayUpstream.Address(family), G.UdpPort);
            for (var k = 0; k < Packets; k++)
                publisher.SendTo(QuicMoqProtocol.Packet(PublisherCid, (uint)(0x500 + k), UpstreamStream, ForwardFrom + (ulong)(k * DataLength), Data(k),
                    fin: k == Packets - 1), relay);

            // The relay's own stack sending to subscriber 0 (an ACK-only 1-RTT packet with its local number 7): numbered.
            using (var stack = lab.UdpSocket(lab.Relay, relayLocal))
            {
                var own = new byte[20];
                own[0] = 0x43;
                CidOf(0).CopyTo(own.AsSpan(1));
                BinaryPrimitives.WriteUInt32BigEndian(own.AsSpan(9), 7);
                own[13] = 0x01; // PING
                stack.SendTo(own, (EndPoint)sockets[0].LocalEndPoint!);
            }

            await Eventually.TrueAsync(() => sinks[0].Events.Count == Packets + 1, "subscriber 0: every copy and the stack's packet registered");
            await Eventually.TrueAsync(() => sinks[1].Of<RecordingDownstream.NotForwarded>().Count == Packets - 9,
                "subscriber 1: copies past its stream limit reported");

            // Subscriber 0: every copy forwarded with its translated stream and offset, gapless numbers around the
            // stack's own packet, which got the next number after the copies already sent.
            var forwarded = sinks[0].Of<RecordingDownstream.Forwarded>();
            Assert.Equal(Packets, forwarded.Count);
            for (var k = 0; k < Packets; k++)
            {
                Assert.Equal(StreamOf(0), forwarded[k].StreamId);
                Assert.Equal((ulong)((long)ForwardFrom + k * DataLength + DeltaOf(0)), forwarded[k].Offset);
                Assert.Equal((ulong)DataLength, forwarded[k].Length);
                Assert.Equal(G.HeaderLength + DataLength, forwarded[k].PacketBytes);
                Assert.Equal(k == Packets - 1, forwarded[k].Fin);
            }
            var numbered = Assert.Single(sinks[0].Of<RecordingDownstream.Numbered>());
            Assert.Equal(7UL, numbered.Local);
            var wires = forwarded.Select(f => f.Wire).Append(numbered.Wire).Order().ToList();
            Assert.Equal(Enumerable.Range(100, Packets + 1).Select(n => (ulong)n), wires);

            // Subscriber 1: 9 copies forwarded, the rest (the limit falls inside the 10th) reported with its offsets.
            var forwarded1 = sinks[1].Of<RecordingDownstream.Forwarded>();
            Assert.Equal(9, forwarded1.Count);
            Assert.Equal(Enumerable.Range(200, 9).Select(n => (ulong)n), forwarded1.Select(f => f.Wire).Order());
            var refused = sinks[1].Of<RecordingDownstream.NotForwarded>();
            Assert.Equal(Enumerable.Range(9, Packets - 9).Select(k => (ulong)((long)ForwardFrom + k * DataLength + DeltaOf(1))), refused.Select(r => r.Offset));
            Assert.All(refused, r => Assert.Equal(StreamOf(1), r.StreamId));
            Assert.True(refused[^1].Fin);
            Assert.Equal((ulong)(9 * DataLength), plane.ConnectionCreditUsed(slots[1]));

            // Each batch the pump consumed ended, for every sink that got events in it, with one OnBatchEnd after its
            // last event (where the connection runs its send pass once): never without a new event, never missing at the end.
            foreach (var sink in sinks)
            {
                await Eventually.TrueAsync(() => sink.BatchEnds.LastOrDefault() == sink.Events.Count, "the last batch of a sink ended after its last event");
                var ends = sink.BatchEnds.ToList();
                Assert.True(ends.Zip(ends.Skip(1)).All(p => p.Second > p.First) && ends[0] > 0, string.Join(",", ends));
            }

            var pump = plane.Counters;
            Assert.Equal(Packets + 9, pump.Forwarded);
            Assert.Equal(Packets - 9, pump.NotForwarded);
            Assert.Equal(0, pump.SinkFailures);
            Assert.Equal((ulong)(Packets + 9), plane.KernelStats().EgressRewritten);

            // Leaving: nothing stays in the kernel's hash maps.
            foreach (var slot in slots)
                plane.RemoveSubscriber(slot);
            plane.UnmapUpstreamStream(PublisherCid, UpstreamStream);
            Assert.Equal((0, 0, 0, 0), plane.KernelEntryCounts());
        }
        finally
        {
            foreach (var socket in sockets)
                socket.Dispose();
        }
    }

    /// <summary>
    /// With a QUIC listener consuming at its turns (what the relay does), the events reach the sink on the listener's
    /// receive thread, the one that processes the subscribers' ACKs, and the pump thread stays asleep. Three bursts: the
    /// pump still wakes once a second as a safety net, so it may win one burst by chance, never two.
    /// </summary>
    [LabFact(needsClang: true)]
    public async Task With_a_listener_the_events_are_consumed_on_its_receive_thread()
    {
        var (lab, host) = await StartAsync(subscribers: 1);
        await using var _ = lab;
        using var __ = host;
        var family = AddressFamily.InterNetwork;
        var down = lab.RelayDownstream;
        using var plane = new MoqKernelPlane(host.Object, G.UdpPort, NullLogger.Instance);
        await using var listener = await FastRelay.Protocols.Quic.Api.QuicListener.ListenAsync(new FastRelay.Protocols.Quic.Api.QuicListenerOptions
        {
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            ApplicationProtocols = ["test"],
            ConnectionOptions = new FastRelay.Protocols.Quic.Api.QuicServerConnectionOptions
            {
                ServerCertificate = FastRelay.Tests.Quic.Api.LoopbackPair.Certificate.Value, ApplicationProtocols = ["test"],
            },
        });
        var receiveThread = 0;
        using var probe = listener.RunEveryTurn(() => Volatile.Write(ref receiveThread, Environment.CurrentManagedThreadId));
        await Eventually.TrueAsync(() => Volatile.Read(ref receiveThread) != 0, "the listener's loop turns");
        plane.ConsumeOnTurnsOf(listener);

        var relayLocal = new IPEndPoint(down.Address(family), G.UdpPort);
        var sub = lab.Subscribers[0];
        var remote = new IPEndPoint(sub.Address(family), 6200);
        using var socket = lab.UdpSocket(sub, remote);
        socket.SendTo(new byte[1], new IPEndPoint(down.Address(family), 9));
        var address = await lab.RunInAsync(lab.Relay, () => FastPathSubscriberAddress.Resolve(relayLocal, remote, CidOf(0)));
        var sink = new ThreadRecordingDownstream();
        var slot = plane.AddSubscriber(address, firstPacketNumber: 100, sink)!.Value;
        plane.SetConnectionCredit(slot, 1 << 20);
        plane.JoinChannel(slot, Channel);
        plane.MapStream(slot, UpstreamStream, StreamOf(0), DeltaOf(0), ForwardFrom, QuicMoqProtocol.MaxVarint, urgency: 1);
        plane.MapUpstreamStream(PublisherCid, UpstreamStream, Channel);

        using var publisher = lab.UdpSocket(lab.Publisher, family);
        var relay = new IPEndPoint(lab.RelayUpstream.Address(family), G.UdpPort);
        var burstsOnReceiveThread = 0;
        for (var burst = 0; burst < 3; burst++)
        {
            sink.Threads.Clear();
            for (var k = burst * 4; k < burst * 4 + 4; k++)
                publisher.SendTo(QuicMoqProtocol.Packet(PublisherCid, (uint)(0x500 + k), UpstreamStream, ForwardFrom + (ulong)(k * DataLength), Data(k), fin: false), relay);
            await Eventually.TrueAsync(() => sink.Threads.Count == 4, $"burst {burst}: four copies registered");
            if (sink.Threads.All(t => t == Volatile.Read(ref receiveThread))) burstsOnReceiveThread++;
        }
        Assert.True(burstsOnReceiveThread >= 2, $"only {burstsOnReceiveThread} of 3 bursts were consumed on the listener's receive thread");
        Assert.Equal(12, plane.Counters.Forwarded);
        plane.RemoveSubscriber(slot);
        plane.UnmapUpstreamStream(PublisherCid, UpstreamStream);
    }

    /// <summary>Which thread each forwarded copy was registered on.</summary>
    private sealed class ThreadRecordingDownstream : IFastPathDownstream
    {
        public System.Collections.Concurrent.ConcurrentQueue<int> Threads { get; } = new();
        public void OnNumbered(ulong local, ulong wire, long timeNs) { }
        public void OnForwarded(ulong wire, long timeNs, int packetBytes, ulong streamId, ulong offset, ulong length, bool fin) =>
            Threads.Enqueue(Environment.CurrentManagedThreadId);
        public void OnNotForwarded(ulong streamId, ulong offset, ulong length, bool fin) { }
    }

    /// <summary>A lab (namespaces prefixed frmf) with the generated programs attached in its relay namespace.</summary>
    private async Task<(LabNetwork Lab, FastPathHost Host)> StartAsync(int subscribers)
    {
        var prefix = "frmf" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2));
        var lab = await LabTopology.UpAsync(new LabOptions { Prefix = prefix, Subscribers = subscribers, RelayInterfaces = 2 });
        try
        {
            var host = await lab.RunInAsync(lab.Relay, () => FastPathHost.Start(new FastPathHostOptions(G.Protocol, objects.ObjectPath(G.Protocol),
                prefix + "-moq", [lab.RelayUpstream.Name, lab.RelayDownstream.Name], lab.BpfFsPath), NullLogger.Instance));
            return (lab, host);
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    private static byte[] CidOf(int i) => [0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, (byte)(0xF0 + i)];

    /// <summary>Server-initiated unidirectional streams of each subscriber's connection.</summary>
    private static ulong StreamOf(int i) => 3 + 4 * (ulong)i;

    /// <summary>Subscriber 0's relay-written subgroup header is 3 bytes longer than the publisher's, subscriber 1's 1 shorter.</summary>
    private static long DeltaOf(int i) => i == 0 ? 3 : -1;

    private static byte[] Data(int k) => Enumerable.Range(0, DataLength).Select(i => (byte)(k * 17 + i)).ToArray();
}
