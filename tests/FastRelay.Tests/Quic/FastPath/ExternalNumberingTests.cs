using System.Buffers.Binary;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;
using FastRelay.Tests.Quic.Connection;
using Xunit;

namespace FastRelay.Tests.Quic.FastPath;

/// <summary>
/// The relay's downstream connection with the kernel as packet-number authority (prompts/contract.md): our stack on
/// both ends, a <see cref="KernelStandIn"/> (a test double of the TC egress program, see its comment) numbering and
/// forwarding in between, and ring-buffer events drained into the relay's connection late, as the relay glue will.
/// </summary>
public sealed class ExternalNumberingTests
{
    private const int HeaderLength = 7;
    private const int ChunkLength = 1000;

    private static byte[] Bytes(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static ulong WireNumber(byte[] d) => BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(QuicConnectionCore.FastPathPacketNumberOffset));

    /// <summary>Handshake, then the relay hands numbering to the stand-in and opens a shadow stream.</summary>
    private static (RelayLink Link, ulong StreamId) Start(ulong subscriberStreamWindow = 1 << 20, bool drainEveryStep = true, MemoryStream? relayQlog = null)
    {
        var link = new RelayLink(subscriber: s => s.StreamWindow = subscriberStreamWindow, relay: r =>
        {
            if (relayQlog is not null) r.TracerFactory = (p, odcid) => new FastRelay.Protocols.Quic.Qlog.QlogTracer(relayQlog, p, odcid, leaveOpen: true);
        }) { DrainEveryStep = drainEveryStep };
        Assert.True(link.Handshake(), "handshake");
        Assert.True(link.Relay.IsFastPathCapable);
        ulong first = link.Relay.BeginExternalPacketNumbering();
        link.Kernel.Activate(first);
        Assert.True(link.Relay.Streams.TryOpenStream(bidirectional: false, out ulong id));
        return (link, id);
    }

    private static ulong StreamLimit(RelayLink link, ulong id) => link.Relay.Streams.GetPeerMaxStreamData(id);

    private static ulong ConnectionCredit(RelayLink link) =>
        link.Relay.Streams.PeerMaxData > link.Relay.Streams.ConnectionBytesSent ? link.Relay.Streams.PeerMaxData - link.Relay.Streams.ConnectionBytesSent : 0;

    /// <summary>The forwarded copy of [offset, offset+data) as the kernel would send it, if credit allows.</summary>
    private static bool Forward(RelayLink link, ulong id, ulong offset, ReadOnlySpan<byte> data, bool fin)
    {
        var packet = link.Kernel.Forward(id, offset, data, fin, link.Now, StreamLimit(link, id), ConnectionCredit(link));
        if (packet is null) return false;
        link.InjectToSubscriber(packet);
        return true;
    }

    [Fact]
    public void Subscriber_receives_a_stream_partly_forwarded_by_the_kernel_and_partly_from_userspace_byte_exact()
    {
        // A small subscriber window makes the stand-in refuse some copies for lack of credit: those ranges come from userspace.
        var (link, id) = Start(subscriberStreamWindow: 6 * 1024);
        using var owned = link;
        const int chunks = 60, userspaceChunks = 3;
        var stream = Bytes(HeaderLength + chunks * ChunkLength, 10);
        ulong forwardFrom = HeaderLength + userspaceChunks * ChunkLength;
        link.Relay.Streams.BeginKernelForwarding(id, forwardFrom);
        // Userspace sends its own subgroup header and the first objects itself.
        Assert.Equal((int)forwardFrom, link.Relay.Streams.Write(id, stream.AsSpan(0, (int)forwardFrom), fin: false));

        var received = new List<byte>();
        bool fin = false;
        link.OnStep = () =>
        {
            if (!fin) CorePair.Drain(link.Subscriber, id, received, out fin);
        };
        link.Advance(30_000);   // the relay's first packets teach the stand-in the subscriber's connection id
        Assert.NotNull(link.Kernel.SubscriberConnectionId);

        // The fifth copy the kernel forwards is lost on the subscriber's link.
        ulong droppedOffset = 0;
        bool dropped = false;
        int copies = 0;
        link.DropToSubscriber = d =>
        {
            if (dropped || d[QuicConnectionCore.FastPathFrameOffset] is not (0x0C or 0x0D) || (d[0] & 0x80) != 0 || ++copies != 5) return false;
            droppedOffset = BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(QuicConnectionCore.FastPathStreamOffsetOffset)) & 0x3FFF_FFFF_FFFF_FFFF;
            return dropped = true;
        };
        for (int c = userspaceChunks; c < chunks; c++)
        {
            int offset = HeaderLength + c * ChunkLength;
            var chunk = stream.AsSpan(offset, ChunkLength);
            bool last = c == chunks - 1;
            // The kernel is usually faster than userspace: half the copies are registered before their shadow bytes exist.
            if (c % 2 == 0)
            {
                Forward(link, id, (ulong)offset, chunk, last);
                link.Advance(500);
                Assert.Equal(ChunkLength, link.Relay.Streams.Write(id, chunk, last));
            }
            else
            {
                Assert.Equal(ChunkLength, link.Relay.Streams.Write(id, chunk, last));
                Forward(link, id, (ulong)offset, chunk, last);
            }
            link.Advance(2_000);
        }
        Assert.True(link.RunUntil(() => fin), $"subscriber read {received.Count} of {stream.Length}");
        Assert.Equal(stream, received.ToArray());
        Assert.True(dropped, "fewer than five copies were forwarded");

        // Everything the relay sent or the kernel forwarded was acknowledged and left bytes in flight.
        Assert.True(link.RunUntil(() => link.Relay.CongestionControl.BytesInFlight == 0 && link.Kernel.PendingEvents == 0),
            $"bytes in flight {link.Relay.CongestionControl.BytesInFlight}");
        Assert.Equal(0, link.Relay.PacketsAwaitingNumber);
        Assert.Equal(0, link.Relay.HeldAckRanges);
        Assert.Equal(ConnectionPhase.Established, link.Subscriber.Phase);   // no FLOW_CONTROL_ERROR, no violation
        Assert.Equal(ConnectionPhase.Established, link.Relay.Phase);
        Assert.True(link.Kernel.ForwardedCount >= chunks / 2, $"{link.Kernel.ForwardedCount} copies forwarded, {link.Kernel.NotForwardedCount} not");
        Assert.True(link.Kernel.NotForwardedCount > 0, "credit never ran out: the not-forwarded path was not exercised");
        Assert.All(link.Kernel.CreditChecks, c => Assert.True(c.End <= c.Limit));

        // Wire numbers: one gapless, increasing sequence over the relay's own packets and the copies.
        var numbers = link.ToSubscriber.Concat(link.DroppedToSubscriber).Where(d => (d[0] & 0x80) == 0).Select(WireNumber)
            .Where(n => n >= link.Kernel.WireNumbers[0]).Order().ToList();   // before activation the relay numbered itself
        Assert.Equal(link.Kernel.WireNumbers.Order(), numbers);
        for (int i = 1; i < link.Kernel.WireNumbers.Count; i++) Assert.Equal(link.Kernel.WireNumbers[i - 1] + 1, link.Kernel.WireNumbers[i]);

        // The dropped copy was sent again by the relay's stack from its shadow copy, in an ordinary packet.
        var resent = link.ToSubscriber.Where(d => (d[0] & 0x80) == 0 && d[QuicConnectionCore.FastPathFrameOffset] is not (0x0C or 0x0D))
            .SelectMany(d =>
            {
                var h = new CollectingHandler();
                Assert.True(FrameDecoder.TryDecode(d.AsMemory(QuicConnectionCore.FastPathFrameOffset), QuicPacketType.OneRtt, ref h, out _, out _));
                return h.Frames.OfType<StreamFrame>();
            }).Where(s => s.StreamId == id).ToList();
        Assert.Contains(resent, s => s.Offset <= droppedOffset && s.End > droppedOffset);
        // The stream completed on the relay: every byte and the FIN acknowledged, state released.
        Assert.True(link.RunUntil(() => link.Relay.Streams.OpenStreamCount == 0), "relay stream not released");
    }

    [Fact]
    public void An_ack_for_a_wire_number_not_registered_yet_is_held_then_applied_with_the_kernel_timestamp_rtt()
    {
        var (link, id) = Start(drainEveryStep: false);
        using var owned = link;
        var header = Bytes(HeaderLength, 20);
        link.Relay.Streams.BeginKernelForwarding(id, HeaderLength);
        link.Relay.Streams.Write(id, header, fin: false);
        link.Advance(30_000);
        link.Kernel.Drain(link.Relay);   // the relay's own packets get their numbers
        Assert.True(link.RunUntil(() => link.Relay.CongestionControl.BytesInFlight == 0), "header not acknowledged");

        var objects = Bytes(2 * ChunkLength, 21);
        long forwardedAt = link.Now;
        Assert.True(Forward(link, id, HeaderLength, objects.AsSpan(0, ChunkLength), fin: false));
        Assert.True(Forward(link, id, HeaderLength + ChunkLength, objects.AsSpan(ChunkLength), fin: true));
        // The subscriber acknowledges both copies (every second packet at once) long before the ring buffer is drained.
        link.Advance(200_000);
        Assert.Equal(ConnectionPhase.Established, link.Relay.Phase);
        Assert.True(link.Relay.HeldAckRanges > 0, "the ACK of unregistered numbers was not held");

        ulong sentBefore = link.Relay.Streams.ConnectionBytesSent;
        link.Kernel.Drain(link.Relay);
        Assert.Equal(0, link.Relay.HeldAckRanges);
        // The copies count as sent for flow control although their shadow bytes are not written yet.
        Assert.Equal((ulong)(HeaderLength + 2 * ChunkLength), link.Relay.Streams.GetHighestSent(id));
        Assert.Equal(sentBefore + 2 * ChunkLength, link.Relay.Streams.ConnectionBytesSent);
        Assert.Equal(0, link.Relay.CongestionControl.BytesInFlight);   // acknowledged the moment they were registered
        // RTT of the copies: from the kernel's send time to the ACK's arrival, one round trip (plus at most the ACK delay).
        long rtt = link.Relay.Rtt.LatestRtt;
        Assert.InRange(rtt, 2 * link.OneWayDelay, 2 * link.OneWayDelay + 25_000);
        Assert.True(link.Now - forwardedAt >= 200_000, "the drain came late, yet the sample is one round trip");

        // Registered (and acknowledged) before the shadow bytes existed: writing them now completes the stream.
        link.Relay.Streams.Write(id, objects, fin: true);
        var received = new List<byte>();
        bool fin = false;
        link.DrainEveryStep = true;
        Assert.True(link.RunUntil(() =>
        {
            if (!fin) CorePair.Drain(link.Subscriber, id, received, out fin);
            return fin && link.Relay.Streams.OpenStreamCount == 0;
        }), $"subscriber read {received.Count}, relay streams {link.Relay.Streams.OpenStreamCount}");
        Assert.Equal(header.Concat(objects), received);
    }

    [Fact]
    public void An_ack_of_a_number_that_is_never_registered_closes_with_protocol_violation_after_the_hold_time()
    {
        var (link, id) = Start(drainEveryStep: false);
        using var owned = link;
        link.Relay.Streams.BeginKernelForwarding(id, HeaderLength);
        link.Relay.Streams.Write(id, Bytes(HeaderLength, 30), fin: false);
        link.Advance(30_000);
        link.Kernel.Drain(link.Relay);
        Assert.True(Forward(link, id, HeaderLength, Bytes(ChunkLength, 31), fin: false));
        Assert.True(Forward(link, id, HeaderLength + ChunkLength, Bytes(ChunkLength, 32), fin: false));
        link.Kernel.DiscardPendingEvents();   // the reports are lost: those numbers stay unknown
        link.Advance(3 * link.OneWayDelay);
        Assert.Equal(ConnectionPhase.Established, link.Relay.Phase);   // held, not yet a violation
        link.DrainEveryStep = true;
        Assert.True(link.RunUntil(() => link.Relay.CloseInfo is not null, 5_000_000), "never closed");
        Assert.Equal(0x0aUL, link.Relay.CloseInfo!.Value.ErrorCode);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_packet_the_stack_sent_before_the_kernel_took_over_may_be_acknowledged_inside_the_margin(bool marginCountsAsOurs)
    {
        var link = new RelayLink() { DrainEveryStep = true };
        using var owned = link;
        Assert.True(link.Handshake(), "handshake");
        // The kernel starts 16 past the stack's next number either way; false is how the relay did it before: the stack
        // was not told, so it did not count those 16 numbers as its own.
        const ulong margin = 16;
        ulong first = marginCountsAsOurs ? link.Relay.BeginExternalPacketNumbering(margin) : link.Relay.BeginExternalPacketNumbering() + margin;
        // The relay's slot is not active yet: a packet of the stack leaves with its own number (the stand-in passes it
        // untouched, as the egress program does for a connection without a slot) and the subscriber acknowledges it.
        Assert.True(link.Relay.Streams.TryOpenStream(bidirectional: false, out ulong id));
        var early = Bytes(100, 80);
        link.Relay.Streams.Write(id, early, fin: false);
        link.Advance(3 * link.OneWayDelay);
        Assert.Empty(link.Kernel.WireNumbers);
        link.Kernel.Activate(first);
        var late = Bytes(100, 81);
        link.Relay.Streams.Write(id, late, fin: true);
        link.Advance(2 * QuicConnectionCore.MaxExternalNumberingDelay);
        if (!marginCountsAsOurs)
        {
            // Without the margin counted as ours that ACK is one of a number never sent: the relay closes (the old flake).
            Assert.Equal(0x0aUL, link.Relay.CloseInfo!.Value.ErrorCode);
            return;
        }
        Assert.Equal(ConnectionPhase.Established, link.Relay.Phase);
        Assert.Equal(0, link.Relay.HeldAckRanges);
        Assert.Equal(first, link.Kernel.WireNumbers.Min());   // the kernel's numbers begin past the margin
        // Every byte arrived: the early packet (never numbered) was recovered as lost and sent again under a kernel number.
        var buffer = new byte[400];
        int n = link.Subscriber.Streams.Read(id, buffer, out bool fin);
        Assert.True(fin);
        Assert.Equal(early.Concat(late), buffer[..n]);
        Assert.Equal(0, link.Relay.CongestionControl.BytesInFlight);
    }

    [Fact]
    public void A_range_the_kernel_did_not_forward_is_sent_by_userspace()
    {
        var (link, id) = Start();
        using var owned = link;
        var stream = Bytes(HeaderLength + 3 * ChunkLength, 40);
        link.Relay.Streams.BeginKernelForwarding(id, HeaderLength);
        link.Relay.Streams.Write(id, stream.AsSpan(0, HeaderLength), fin: false);
        link.Advance(30_000);
        Assert.True(Forward(link, id, HeaderLength, stream.AsSpan(HeaderLength, ChunkLength), fin: false));
        // Refused: the stand-in sees no stream credit (as when the budget or a priority drop says no).
        Assert.Null(link.Kernel.Forward(id, HeaderLength + ChunkLength, stream.AsSpan(HeaderLength + ChunkLength, ChunkLength), false, link.Now, 0, ulong.MaxValue));
        Assert.True(Forward(link, id, HeaderLength + 2 * ChunkLength, stream.AsSpan(HeaderLength + 2 * ChunkLength), fin: true));
        link.Relay.Streams.Write(id, stream.AsSpan(HeaderLength), fin: true);
        var received = new List<byte>();
        bool fin = false;
        Assert.True(link.RunUntil(() =>
        {
            if (!fin) CorePair.Drain(link.Subscriber, id, received, out fin);
            return fin;
        }), $"subscriber read {received.Count}");
        Assert.Equal(stream, received);
        Assert.Equal(1, link.Kernel.NotForwardedCount);
    }

    [Fact]
    public void Relay_qlog_shows_wire_numbers_for_its_own_packets_and_the_kernel_copies_and_the_acks_of_copies()
    {
        var qlog = new MemoryStream();
        var (link, id) = Start(relayQlog: qlog);
        var stream = Bytes(HeaderLength + 4 * ChunkLength, 50);
        link.Relay.Streams.BeginKernelForwarding(id, HeaderLength);
        link.Relay.Streams.Write(id, stream.AsSpan(0, HeaderLength), fin: false);
        link.Advance(30_000);
        var copies = new List<ulong>();
        for (int c = 0; c < 4; c++)
        {
            int offset = HeaderLength + c * ChunkLength;
            Assert.True(Forward(link, id, (ulong)offset, stream.AsSpan(offset, ChunkLength), c == 3));
            copies.Add(link.Kernel.WireNumbers[^1]);
            link.Relay.Streams.Write(id, stream.AsSpan(offset, ChunkLength), c == 3);
            link.Advance(2_000);
        }
        Assert.True(link.RunUntil(() => link.Relay.Streams.OpenStreamCount == 0), "relay stream not completed");
        link.Dispose();   // ends the trace

        var trace = FastRelay.Tests.Quic.Qlog.QlogReader.Parse(qlog);
        var sent = trace.Named("transport:packet_sent").Select(FastRelay.Tests.Quic.Qlog.QlogReader.PacketId)
            .Where(p => p.Type == "1RTT" && p.Number >= link.Kernel.WireNumbers[0]).Select(p => p.Number).ToList();
        // Every number the kernel gave appears once, ours and the copies alike: no local sequence leaks into the trace.
        Assert.Equal(link.Kernel.WireNumbers.Order(), sent.Order());
        // ACK frames from the subscriber acknowledge the copies' wire numbers, and the relay processed them (no loss).
        var acked = trace.Named("transport:packet_received").SelectMany(FastRelay.Tests.Quic.Qlog.QlogReader.Frames)
            .Where(f => f.GetProperty("frame_type").GetString() == "ack")
            .SelectMany(f => f.GetProperty("acked_ranges").EnumerateArray())
            .Select(r => (Low: r[0].GetUInt64(), High: r.GetArrayLength() > 1 ? r[1].GetUInt64() : r[0].GetUInt64())).ToList();
        Assert.All(copies, pn => Assert.Contains(acked, r => r.Low <= pn && pn <= r.High));
        Assert.Empty(trace.Named("recovery:packet_lost"));
    }

    /// <summary>Our publisher ends a subgroup with a FIN in a packet of its own, so kernel copies can carry no data. The
    /// qlog of such a copy (and of any copy, whose offset is an 8-byte varint on the wire whatever its value) must
    /// describe it exactly, and tracing must never stop its registration: a too-short frame buffer threw there, in the
    /// middle of a ring batch, and the subscriber's next ACK closed the connection (never registered).</summary>
    [Fact]
    public void Relay_qlog_describes_a_fin_only_kernel_copy_and_registers_it()
    {
        var qlog = new MemoryStream();
        var (link, id) = Start(relayQlog: qlog);
        var stream = Bytes(HeaderLength + ChunkLength, 51);
        link.Relay.Streams.BeginKernelForwarding(id, HeaderLength);
        link.Relay.Streams.Write(id, stream.AsSpan(0, HeaderLength), fin: false);
        link.Advance(30_000);
        Assert.True(Forward(link, id, HeaderLength, stream.AsSpan(HeaderLength), fin: false));
        link.Relay.Streams.Write(id, stream.AsSpan(HeaderLength), fin: false);
        link.Advance(2_000);
        Assert.True(Forward(link, id, HeaderLength + ChunkLength, ReadOnlySpan<byte>.Empty, fin: true));
        var finCopy = link.Kernel.WireNumbers[^1];
        link.Relay.Streams.Write(id, ReadOnlySpan<byte>.Empty, fin: true);
        Assert.True(link.RunUntil(() => link.Relay.Streams.OpenStreamCount == 0), "relay stream not completed (the FIN copy registered and acknowledged)");
        Assert.Equal(ConnectionPhase.Established, link.Relay.Phase);
        link.Dispose();

        var trace = FastRelay.Tests.Quic.Qlog.QlogReader.Parse(qlog);
        var copies = trace.Named("transport:packet_sent").Where(e => FastRelay.Tests.Quic.Qlog.QlogReader.PacketId(e).Number >= link.Kernel.WireNumbers[0])
            .SelectMany(e => FastRelay.Tests.Quic.Qlog.QlogReader.Frames(e).Select(f => (Number: FastRelay.Tests.Quic.Qlog.QlogReader.PacketId(e).Number, Frame: f)))
            .Where(x => x.Frame.GetProperty("frame_type").GetString() == "stream").ToList();
        var data = Assert.Single(copies, x => x.Frame.GetProperty("offset").GetUInt64() == HeaderLength);
        Assert.Equal(ChunkLength, data.Frame.GetProperty("length").GetInt32());
        var fin = Assert.Single(copies, x => x.Number == finCopy);
        Assert.Equal(0, fin.Frame.GetProperty("length").GetInt32());
        Assert.True(fin.Frame.GetProperty("fin").GetBoolean());
    }

    [Fact]
    public void A_number_the_kernel_gave_to_a_packet_the_stack_does_not_track_can_be_acknowledged()
    {
        var (link, id) = Start();
        using var owned = link;
        link.Relay.Streams.Write(id, Bytes(100, 70), fin: false);
        link.Advance(30_000);
        // A packet that left before numbering started and reached the egress after (or a CONNECTION_CLOSE): its local
        // number is unknown to the stack, yet the kernel gives it a wire number, and the subscriber acknowledges it.
        var stray = link.ToSubscriber.Last(d => (d[0] & 0x80) == 0).ToArray();
        BinaryPrimitives.WriteUInt32BigEndian(stray.AsSpan(QuicConnectionCore.FastPathPacketNumberOffset), 0xFFFF_0000);
        link.Kernel.Egress(stray, link.Now);
        ulong strayWire = link.Kernel.WireNumbers[^1];
        link.InjectToSubscriber(stray);
        link.Relay.Streams.Write(id, Bytes(100, 71), fin: true);   // more to acknowledge, so ACKs flow
        link.Advance(2 * QuicConnectionCore.MaxExternalNumberingDelay);
        Assert.Equal(ConnectionPhase.Established, link.Relay.Phase);
        Assert.Equal(0, link.Relay.HeldAckRanges);
        Assert.Equal(0, link.Relay.CongestionControl.BytesInFlight);
        Assert.True(strayWire >= link.Kernel.WireNumbers[0]);
    }

    [Fact]
    public void Hostile_acks_to_an_externally_numbered_relay_close_it_at_worst_never_throw()
    {
        int violations = 0;
        for (int seed = 0; seed < 30; seed++)
        {
            var (link, id) = Start();
            using var owned = link;
            var rng = new Random(seed);
            link.Relay.Streams.BeginKernelForwarding(id, HeaderLength);
            link.Relay.Streams.Write(id, Bytes(HeaderLength, seed), fin: false);
            link.Advance(30_000);
            Assert.NotNull(link.RelayConnectionId);
            ulong pn = 1_000;
            for (int round = 0; round < 20 && link.Relay.Phase == ConnectionPhase.Established; round++)
            {
                int offset = HeaderLength + round * ChunkLength;
                Forward(link, id, (ulong)offset, Bytes(ChunkLength, seed * 100 + round), fin: false);
                if (rng.Next(2) == 0) link.Relay.Streams.Write(id, Bytes(ChunkLength, seed * 100 + round), fin: false);
                link.InjectToRelay(HostileAck(link.RelayConnectionId!, pn++, rng, link.Kernel.NextPacketNumber));
                link.Advance(rng.Next(1_000, 40_000));
            }
            link.Advance(2 * QuicConnectionCore.MaxExternalNumberingDelay);
            // Whatever happened, it was a QUIC outcome: still established, or closed with a transport error code.
            if (link.Relay.CloseInfo is { } close) Assert.Contains(close.ErrorCode, new ulong[] { 0x0a, 0x07 });
            if (link.Relay.CloseInfo?.ErrorCode == 0x0a) violations++;
        }
        // ACKs of numbers far beyond what the kernel gave are detected (after the hold), not taken as real.
        Assert.True(violations > 0, "no hostile ACK was recognised as acknowledging packets never sent");
    }

    /// <summary>A 1-RTT packet from "the subscriber" with one ACK frame: ranges near, below and far beyond what was sent.</summary>
    private static byte[] HostileAck(byte[] relayConnectionId, ulong packetNumber, Random rng, ulong nextWire)
    {
        var packet = new byte[200];
        packet[0] = 0x43;
        relayConnectionId.CopyTo(packet, 1);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(9), (uint)packetNumber);
        int p = 13;
        ulong largest = rng.Next(4) switch
        {
            0 => nextWire + (ulong)rng.Next(0, 5),                 // the numbers just given, maybe one not given yet
            1 => (ulong)rng.Next(0, (int)Math.Max(1, nextWire)),    // old numbers
            2 => nextWire + (ulong)rng.Next(1_000, 1_000_000),     // far beyond anything sent
            _ => (ulong)rng.NextInt64(0, 1L << 40),
        };
        ulong first = (ulong)rng.Next(0, (int)Math.Min(largest, 50) + 1);
        int count = rng.Next(0, 6);
        packet[p++] = 0x02;
        p += QuicVarint.Write(packet.AsSpan(p), largest);
        p += QuicVarint.Write(packet.AsSpan(p), (ulong)rng.Next(0, 100));
        p += QuicVarint.Write(packet.AsSpan(p), (ulong)count);
        p += QuicVarint.Write(packet.AsSpan(p), first);
        for (int i = 0; i < count; i++)
        {
            p += QuicVarint.Write(packet.AsSpan(p), (ulong)rng.Next(0, 3));   // gap (may run below 0: FRAME_ENCODING_ERROR)
            p += QuicVarint.Write(packet.AsSpan(p), (ulong)rng.Next(0, 3));   // range length
        }
        packet[p++] = 0x01;   // PING, so the packet is ack-eliciting
        return packet.AsSpan(0, p).ToArray();
    }
}
