using FastRelay.Cli.Fuzz;
using FastRelay.Bpf;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Runtime;
using Xunit;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.Packets;

/// <summary>
/// The kernel half of the QUIC/MoQ fast path (docs/quic-fast-path.md) through BPF_PROG_TEST_RUN with real packets: the
/// channel found by (upstream connection id, upstream stream), stream offsets moved by the mapping's delta, forward-from,
/// the subscriber's stream limit and connection credit, FIN, not-forwarded events, one packet-number sequence shared with
/// the relay's own packets, and malformed packets left to the stack. Expected frames are built from the contract's
/// layout (<see cref="QuicMoqProtocol.Packet"/>) and <see cref="PacketBuilder"/>'s own checksums, never by the kernel.
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class QuicFastPathTests(GeneratedObjects objects)
{
    private const uint Channel = 7;
    private const ulong UpstreamStream = 2;   // a client-initiated unidirectional stream of the publisher
    private const ulong DownstreamStream = 3; // a server-initiated unidirectional stream on the subscriber's connection
    private static readonly QuicMoqProtocol Quic = QuicMoqProtocol.Instance;
    private static readonly byte[] UpstreamCid = [0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18];

    private RelaySession Session() => new(objects, Quic);

    private static G.Maps Typed(RelaySession s) => QuicMoqProtocol.Typed(s.Maps);

    /// <summary>What the relay's userspace does once it has read the upstream stream's subgroup header.</summary>
    private static void AssignChannel(RelaySession s, byte[] cid, ulong upstreamStream, uint channel)
    {
        var key = new G.ChannelLookupKey { StreamId = upstreamStream };
        cid.CopyTo(key.DestinationConnectionId);
        Typed(s).ChannelLookup.Update(key, new G.ChannelKey { Id = channel });
    }

    private static void MapStream(RelaySession s, uint slot, long delta = 0, ulong forwardFrom = 0, ulong limit = QuicMoqProtocol.MaxVarint,
        byte urgency = 0, ulong upstreamStream = UpstreamStream, ulong downstreamStream = DownstreamStream) =>
        Typed(s).Streams.Update(new G.StreamKey { Slot = slot, UpstreamStreamId = upstreamStream },
            new G.StreamValue { StreamId = downstreamStream, OffsetDelta = delta, ForwardFrom = forwardFrom, Limit = limit, Urgency = urgency });

    /// <summary>A subscriber of <see cref="Channel"/> whose connection credit is <paramref name="credit"/> bytes.</summary>
    private static SubscriberSpec Subscriber(RelaySession s, uint slot, bool v6 = false, ulong nextPacketNumber = 0, ulong credit = ulong.MaxValue,
        uint ifIndex = 1)
    {
        var sub = s.AddSubscriber(slot, v6: v6, nextPacketNumber: nextPacketNumber, channel: Channel, ifIndex: ifIndex);
        Typed(s).CreditLimits.Update(slot, credit);
        Typed(s).CreditUsed.Update(slot, 0);
        AssignChannel(s, UpstreamCid, UpstreamStream, Channel);
        return sub;
    }

    private static byte[] Data(int length, byte seed = 0x40) => Enumerable.Range(0, length).Select(i => (byte)(seed + i * 7)).ToArray();

    private static byte[] Upstream(bool v6, uint pn, ulong offset, byte[] data, bool fin = false, ulong stream = UpstreamStream, byte[]? cid = null) =>
        Frames.FromUpstream(Quic, v6).Build(QuicMoqProtocol.Packet(cid ?? UpstreamCid, pn, stream, offset, data, fin));

    private static byte[] Copy(SubscriberSpec sub, bool v6, uint pn, ulong offset, byte[] data, bool fin = false, ulong stream = DownstreamStream) =>
        Frames.ToSubscriber(Frames.FromUpstream(Quic, v6), sub).Build(QuicMoqProtocol.Packet(sub.ConnectionId, pn, stream, offset, data, fin));

    [BpfFact]
    public void The_channel_is_found_by_upstream_connection_id_and_stream_and_a_miss_goes_up_untouched()
    {
        using var device = RedirectDevice.Create("frkq");
        using var s = Session();
        Subscriber(s, 0, ifIndex: device.IfIndex);
        s.Maps.SetChannel(Channel, new ChannelSpec { Slots = [0] });
        var otherCid = UpstreamCid.Select(b => (byte)(b ^ 0xFF)).ToArray();

        // Not assigned: another stream of the same connection, the same stream id on another connection.
        s.UpstreamIngress.Run(new PacketFixture("other stream", Upstream(false, 1, 0, Data(50), stream: 6), TcAct.Unspec));
        s.UpstreamIngress.Run(new PacketFixture("other connection", Upstream(false, 2, 0, Data(50), cid: otherCid), TcAct.Unspec));
        Assert.Equal(new RelayStats { UpstreamSeen = 2, UpstreamNoChannel = 2 }, s.Maps.Stats());
        Assert.Equal(0UL, device.TxDropped);

        // Assigned: cloned to the channel's subscriber, the original passed up unchanged.
        s.UpstreamIngress.Run(new PacketFixture("assigned", Upstream(false, 3, 0, Data(50)), TcAct.Ok));
        AssignChannel(s, otherCid, UpstreamStream, Channel);
        s.UpstreamIngress.Run(new PacketFixture("now assigned", Upstream(false, 4, 0, Data(50), cid: otherCid), TcAct.Ok));
        Assert.Equal(new RelayStats { UpstreamSeen = 4, UpstreamNoChannel = 2, UpstreamMatched = 2, Clones = 2 }, s.Maps.Stats());
        Assert.Equal(2UL, device.TxDropped);

        // Unassigned again (the stream ended): the next packet goes up only.
        var key = new G.ChannelLookupKey { StreamId = UpstreamStream };
        UpstreamCid.CopyTo(key.DestinationConnectionId);
        Typed(s).ChannelLookup.Delete(key);
        s.UpstreamIngress.Run(new PacketFixture("unassigned", Upstream(false, 5, 0, Data(50)), TcAct.Unspec));
        Assert.Equal(2UL, device.TxDropped);
    }

    [BpfFact]
    public void Offsets_move_by_the_mapping_delta_byte_exact_with_valid_checksums_on_IPv4_and_IPv6()
    {
        foreach (var v6 in new[] { false, true })
        foreach (var delta in new long[] { 5, -3 })
        {
            using var s = Session();
            var sub = Subscriber(s, 1, v6: v6, nextPacketNumber: 100);
            MapStream(s, 1, delta: delta);
            var data = Data(200);

            var result = s.SubscriberEgress.Run(new PacketFixture($"v6={v6} delta={delta}", Upstream(v6, 0x5000, 1000, data), TcAct.Ok,
                Copy(sub, v6, 100, (ulong)(1000 + delta), data), s.CloneFor(1)));

            Assert.Equal(Checksums.Udp(result.Output), ParsedFrame.Parse(result.Output).UdpChecksumField(result.Output));
            var e = Assert.Single(s.TakeEvents());
            Assert.Equal(new RegistrationView(e.TimestampNs, 100, 0x5000, DownstreamStream, UpstreamStream, 1, (uint)(30 + data.Length),
                RegistrationView.Forwarded, 0, (ulong)(1000 + delta), (uint)data.Length, 0, 0), e);
            Assert.Equal(200UL, Typed(s).CreditUsed.Lookup(1));
            Assert.Equal(101UL, s.Maps.NextPacketNumber(1));
        }
    }

    [BpfFact]
    public void Only_data_from_forward_from_on_is_forwarded_and_data_straddling_it_is_reported()
    {
        using var s = Session();
        var sub = Subscriber(s, 2, nextPacketNumber: 10);
        MapStream(s, 2, delta: 4, forwardFrom: 1000);

        // Wholly before forward_from: userspace has sent (or will send) these bytes itself. Dropped, no number, no event.
        s.SubscriberEgress.Run(new PacketFixture("before", Upstream(false, 1, 500, Data(100)), TcAct.Shot, Context: s.CloneFor(2)));
        // Ending exactly at forward_from is still before it.
        s.SubscriberEgress.Run(new PacketFixture("up to", Upstream(false, 2, 900, Data(100)), TcAct.Shot, Context: s.CloneFor(2)));
        Assert.Empty(s.TakeEvents());
        Assert.Equal(new RelayStats { EgressBeforeForwardFrom = 2 }, s.Maps.Stats());

        // Straddling: the kernel cannot send part of a packet, so userspace is told to send the whole range.
        s.SubscriberEgress.Run(new PacketFixture("straddles", Upstream(false, 3, 950, Data(100), fin: true), TcAct.Shot, Context: s.CloneFor(2)));
        var refused = Assert.Single(s.TakeEvents());
        Assert.Equal((RegistrationView.NotForwarded, (byte)G.NotForwardedReason.StraddlesForwardFrom, 954UL, 100u, (byte)1, 0UL, DownstreamStream, 3UL),
            (refused.Origin, refused.Reason, refused.StreamOffset, refused.DataLength, refused.Fin, refused.PacketNumber, refused.StreamId, refused.UpstreamPacketNumber));
        Assert.Equal(10UL, s.Maps.NextPacketNumber(2));
        Assert.Equal(0UL, Typed(s).CreditUsed.Lookup(2));

        var data = Data(100);
        s.SubscriberEgress.Run(new PacketFixture("from", Upstream(false, 4, 1000, data), TcAct.Ok, Copy(sub, false, 10, 1004, data), s.CloneFor(2)));
        Assert.Equal(RegistrationView.Forwarded, Assert.Single(s.TakeEvents()).Origin);
    }

    [BpfFact]
    public void The_kernel_never_sends_past_the_subscribers_stream_limit()
    {
        using var s = Session();
        var sub = Subscriber(s, 3, nextPacketNumber: 50);
        MapStream(s, 3, delta: 10, limit: 1110);
        var data = Data(100);

        // offset + length == limit is allowed (RFC 9000 §4.1: the limit is the largest offset + 1 the peer accepts).
        s.SubscriberEgress.Run(new PacketFixture("to the limit", Upstream(false, 7, 1000, data), TcAct.Ok, Copy(sub, false, 50, 1010, data), s.CloneFor(3)));
        s.SubscriberEgress.Run(new PacketFixture("one byte past", Upstream(false, 8, 1100, Data(1)), TcAct.Shot, Context: s.CloneFor(3)));

        var events = s.TakeEvents();
        Assert.Equal([RegistrationView.Forwarded, RegistrationView.NotForwarded], events.Select(e => e.Origin));
        Assert.Equal((byte)G.NotForwardedReason.StreamLimit, events[1].Reason);
        Assert.Equal((1110UL, 1u), (events[1].StreamOffset, events[1].DataLength));
        Assert.Equal(51UL, s.Maps.NextPacketNumber(3)); // the refused copy took no number
        Assert.Equal(100UL, Typed(s).CreditUsed.Lookup(3)); // nor credit
        Assert.Equal(new RelayStats { EgressRewritten = 1, EgressNotForwarded = 1 }, s.Maps.Stats());

        // Userspace raises the limit when MAX_STREAM_DATA arrives; the kernel follows.
        MapStream(s, 3, delta: 10, limit: 2000);
        var more = Data(1);
        s.SubscriberEgress.Run(new PacketFixture("after MAX_STREAM_DATA", Upstream(false, 9, 1100, more), TcAct.Ok, Copy(sub, false, 51, 1110, more), s.CloneFor(3)));
    }

    [BpfFact]
    public void Offsets_a_stream_cannot_carry_are_refused_never_wrapped()
    {
        using var s = Session();
        Subscriber(s, 2, nextPacketNumber: 9);
        MapStream(s, 2, delta: -10);
        // A hostile or broken publisher: data below offset 10 would land below 0; data at the varint's top would pass 2^62 - 1.
        s.SubscriberEgress.Run(new PacketFixture("below zero", Upstream(false, 1, 5, Data(20)), TcAct.Shot, Context: s.CloneFor(2)));
        MapStream(s, 2, delta: 100);
        s.SubscriberEgress.Run(new PacketFixture("past 2^62", Upstream(false, 2, QuicMoqProtocol.MaxVarint - 50, Data(20)), TcAct.Shot, Context: s.CloneFor(2)));

        var events = s.TakeEvents();
        Assert.Equal(2, events.Count);
        Assert.All(events, e => Assert.Equal((RegistrationView.NotForwarded, (byte)G.NotForwardedReason.StreamLimit), (e.Origin, e.Reason)));
        Assert.Equal(9UL, s.Maps.NextPacketNumber(2));
        Assert.Equal(new RelayStats { EgressNotForwarded = 2 }, s.Maps.Stats());
    }

    [BpfFact]
    public void Connection_credit_is_taken_per_copy_and_never_overdrawn()
    {
        using var s = Session();
        var sub = Subscriber(s, 4, nextPacketNumber: 0, credit: 150);
        MapStream(s, 4);
        var data = Data(100);

        s.SubscriberEgress.Run(new PacketFixture("fits", Upstream(false, 1, 0, data), TcAct.Ok, Copy(sub, false, 0, 0, data), s.CloneFor(4)));
        s.SubscriberEgress.Run(new PacketFixture("would overdraw", Upstream(false, 2, 100, data), TcAct.Shot, Context: s.CloneFor(4)));
        Assert.Equal(100UL, Typed(s).CreditUsed.Lookup(4));
        var events = s.TakeEvents();
        Assert.Equal((RegistrationView.NotForwarded, (byte)G.NotForwardedReason.ConnectionCredit, 100UL, 100u),
            (events[1].Origin, events[1].Reason, events[1].StreamOffset, events[1].DataLength));

        // MAX_DATA grew: userspace raises the limit (it never writes the kernel's counter).
        Typed(s).CreditLimits.Update(4, 200);
        s.SubscriberEgress.Run(new PacketFixture("after MAX_DATA", Upstream(false, 3, 100, data), TcAct.Ok, Copy(sub, false, 1, 100, data), s.CloneFor(4)));
        Assert.Equal(200UL, Typed(s).CreditUsed.Lookup(4));
        // Exactly exhausted: a FIN without data still fits, one more byte does not.
        s.SubscriberEgress.Run(new PacketFixture("FIN only", Upstream(false, 4, 200, [], fin: true), TcAct.Ok, Copy(sub, false, 2, 200, [], fin: true), s.CloneFor(4)));
        s.SubscriberEgress.Run(new PacketFixture("one byte", Upstream(false, 5, 200, Data(1)), TcAct.Shot, Context: s.CloneFor(4)));
        Assert.Equal(200UL, Typed(s).CreditUsed.Lookup(4));
        Assert.Equal(3UL, s.Maps.NextPacketNumber(4));
    }

    [BpfFact]
    public void Copies_racing_on_two_CPUs_never_overdraw_the_credit_and_never_share_a_number()
    {
        using var s = Session();
        Subscriber(s, 1, nextPacketNumber: 0, credit: 1000);
        MapStream(s, 1);
        const int threads = 4, attempts = 100, length = 10;
        var input = Upstream(false, 1, 0, Data(length));

        var verdicts = new int[threads * attempts];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            for (var i = 0; i < attempts; i++)
                verdicts[t * attempts + i] = s.SubscriberEgress.TestRun(input, s.CloneFor(1)).ReturnValue;
        });

        var forwarded = verdicts.Count(v => v == TcAct.Ok);
        Assert.Equal(threads * attempts, forwarded + verdicts.Count(v => v == TcAct.Shot));
        Assert.InRange(forwarded, 1, 1000 / length);
        Assert.Equal((ulong)(forwarded * length), Typed(s).CreditUsed.Lookup(1)); // every byte taken is a byte sent
        Assert.Equal((ulong)forwarded, s.Maps.NextPacketNumber(1));
        var events = s.TakeEvents();
        Assert.Equal(Enumerable.Range(0, forwarded).Select(i => (ulong)i),
            events.Where(e => e.Origin == RegistrationView.Forwarded).Select(e => e.PacketNumber).Order());
        Assert.All(events.Where(e => e.Origin == RegistrationView.NotForwarded),
            e => Assert.Equal((byte)G.NotForwardedReason.ConnectionCredit, e.Reason));
        Assert.Equal(threads * attempts - forwarded, events.Count(e => e.Origin == RegistrationView.NotForwarded));
    }

    [BpfFact]
    public void A_copy_the_budget_refuses_for_its_streams_urgency_is_reported_and_the_most_urgent_is_never_refused()
    {
        using var s = Session();
        var sub = Subscriber(s, 5, nextPacketNumber: 0);
        MapStream(s, 5, urgency: 3);                                           // a low-priority subgroup
        MapStream(s, 5, urgency: 0, upstreamStream: 6, downstreamStream: 7); // the most urgent one
        AssignChannel(s, UpstreamCid, 6, Channel);
        s.Maps.SetBudget(5, new BudgetSpec(Bytes: 10, Enabled: true, ReservePerLevel: 0, DropFromLevel: 256));
        var data = Data(100);

        s.SubscriberEgress.Run(new PacketFixture("urgency 3 over budget", Upstream(false, 1, 0, data), TcAct.Shot, Context: s.CloneFor(5)));
        s.SubscriberEgress.Run(new PacketFixture("urgency 0", Upstream(false, 2, 0, data, stream: 6), TcAct.Ok, Copy(sub, false, 0, 0, data, stream: 7), s.CloneFor(5)));

        var events = s.TakeEvents();
        Assert.Equal([(RegistrationView.NotForwarded, (byte)3, (byte)G.NotForwardedReason.Budget), (RegistrationView.Forwarded, (byte)0, (byte)0)],
            events.Select(e => (e.Origin, e.Urgency, e.Reason)));
        Assert.Equal(10L - 130, s.Maps.Budget(5).Bytes); // the urgent copy was debited its UDP payload
        Assert.Equal(100UL, Typed(s).CreditUsed.Lookup(5));
    }

    [BpfFact]
    public void Forwarded_copies_and_the_relays_own_packets_share_one_sequence_and_the_stacks_number_is_reported()
    {
        foreach (var v6 in new[] { false, true })
        {
            using var s = Session();
            var sub = Subscriber(s, 6, v6: v6, nextPacketNumber: 40);
            MapStream(s, 6);
            var data = Data(64);
            // An ACK-only 1-RTT packet from the relay's stack: 13 bytes of header and a 5-byte ACK frame, far shorter than
            // the fast-path header, still numbered. Its 4-byte number is the stack's local sequence (7).
            byte[] Ack(uint pn) => Frames.FromRelayStack(sub).Build(QuicMoqProtocol.Packet(sub.ConnectionId, pn, 0, 0, [], false, frameType: 0x02)
                .AsSpan(0, 13).ToArray().Concat(new byte[] { 0x02, 0x05, 0x00, 0x00, 0x05 }).ToArray());

            s.SubscriberEgress.Run(new PacketFixture("copy", Upstream(v6, 0x900, 0, data), TcAct.Ok, Copy(sub, v6, 40, 0, data), s.CloneFor(6)));
            var ack = s.SubscriberEgress.Run(new PacketFixture("stack ACK", Ack(7), TcAct.Ok, Ack(41)));
            s.SubscriberEgress.Run(new PacketFixture("copy", Upstream(v6, 0x901, 64, data), TcAct.Ok, Copy(sub, v6, 42, 64, data), s.CloneFor(6)));

            Assert.Equal(Checksums.Udp(ack.Output), ParsedFrame.Parse(ack.Output).UdpChecksumField(ack.Output));
            Assert.Equal(43UL, s.Maps.NextPacketNumber(6));
            var events = s.TakeEvents();
            Assert.Equal([(RegistrationView.Forwarded, 40UL, 0x900UL), (RegistrationView.Userspace, 41UL, 7UL), (RegistrationView.Forwarded, 42UL, 0x901UL)],
                events.Select(e => (e.Origin, e.PacketNumber, e.UpstreamPacketNumber)));
            Assert.Equal(13u + 5, events[1].Length);
        }
    }

    [BpfFact]
    public void Fin_is_carried_into_the_copy_and_its_event()
    {
        using var s = Session();
        var sub = Subscriber(s, 7, nextPacketNumber: 5);
        MapStream(s, 7, delta: 2);
        var data = Data(30);

        s.SubscriberEgress.Run(new PacketFixture("last data", Upstream(false, 1, 300, data, fin: true), TcAct.Ok, Copy(sub, false, 5, 302, data, fin: true), s.CloneFor(7)));
        s.SubscriberEgress.Run(new PacketFixture("not last", Upstream(false, 2, 330, data), TcAct.Ok, Copy(sub, false, 6, 332, data), s.CloneFor(7)));
        Assert.Equal([(byte)1, (byte)0], s.TakeEvents().Select(e => e.Fin));
    }

    [BpfFact]
    public void Malformed_or_other_QUIC_packets_are_passed_up_and_never_forwarded()
    {
        using var device = RedirectDevice.Create("frkq");
        using var s = Session();
        var sub = Subscriber(s, 0, ifIndex: device.IfIndex);
        MapStream(s, 0);
        s.Maps.SetChannel(Channel, new ChannelSpec { Slots = [0] });
        var good = QuicMoqProtocol.Packet(UpstreamCid, 1, UpstreamStream, 0, Data(40), false);
        byte[] With(int index, byte value)
        {
            var p = good.ToArray();
            p[index] = value;
            return p;
        }

        var cases = new Dictionary<string, byte[]>
        {
            ["shorter than the STREAM frame header"] = good[..29],
            ["long header"] = With(0, 0xC3),
            ["1-byte packet number"] = With(0, 0x40),
            ["reserved bits set"] = With(0, 0x53),
            ["STREAM with LEN"] = With(13, 0x0E),
            ["STREAM without OFF"] = With(13, 0x08),
            ["ACK frame"] = With(13, 0x02),
            ["empty"] = [],
        };
        foreach (var (name, payload) in cases)
        {
            var frame = Frames.FromUpstream(Quic).Build(payload);
            s.UpstreamIngress.Run(new PacketFixture(name, frame, TcAct.Unspec));
            // Even a clone-tagged copy of it is not rewritten by egress (it is not what upstream ingress clones).
            s.SubscriberEgress.Run(new PacketFixture(name + " (tagged)", frame, TcAct.Unspec, Context: s.CloneFor(0)));
        }

        Assert.Equal(0UL, device.TxDropped);
        Assert.Equal(0UL, s.Maps.NextPacketNumber(0));
        Assert.Empty(s.TakeEvents());
        var stats = s.Maps.Stats();
        Assert.Equal((0UL, 0UL, 0UL), (stats.Clones, stats.UpstreamMatched, stats.EgressRewritten));
        Assert.Equal(2UL, stats.UpstreamTruncated); // the two shorter than the header; the rest failed the match
        _ = sub;
    }
}
