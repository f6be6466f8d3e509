using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Packets;

/// <summary>fr_events as the userspace stack reads it: RingBufferReader on the generated accessor's map, records
/// decoded by the generated EventReader.</summary>
public abstract class RegistrationEventTests(GeneratedObjects objects, FastPathProtocol protocol)
{
    private RelaySession Session() => new(objects, protocol);

    [BpfFact]
    public void Each_packet_sent_is_registered_with_its_numbers_stream_length_origin_and_time()
    {
        using var s = Session();
        var a = s.AddSubscriber(0, nextPacketNumber: 10);
        var b = s.AddSubscriber(4, v6: true, nextPacketNumber: 20);
        var copyA = new CopyCase(protocol, a, new HeaderFields { PacketNumber = 0x31, StreamId = 8, Urgency = 2 }) { Tail = Frames.Tail(100) };
        var copyB = new CopyCase(protocol, b, new HeaderFields { PacketNumber = 0x32, StreamId = 8, Urgency = 0 }) { Tail = Frames.Tail(3) };
        var sidA = copyA.MapStream(s.Maps, 0);
        var sidB = copyB.MapStream(s.Maps, 4);
        var stackHeader = protocol.Header(new HeaderFields { Kind = protocol.StackPacketKind, PacketNumber = 0x99, StreamId = 8, Urgency = 5 });
        var stack = Frames.FromRelayStack(b).Build(Frames.Payload(stackHeader, Frames.Tail(9)));
        protocol.WritePacketNumber(stackHeader, 21);
        var stackNumbered = Frames.FromRelayStack(b).Build(Frames.Payload(stackHeader, Frames.Tail(9)));

        var before = MonotonicClock.NowNs();
        s.SubscriberEgress.Run(new PacketFixture("copy to 0", copyA.Input, TcAct.Ok, copyA.Expected(10, sidA), s.CloneFor(0)));
        s.SubscriberEgress.Run(new PacketFixture("copy to 4", copyB.Input, TcAct.Ok, copyB.Expected(20, sidB), s.CloneFor(4)));
        s.SubscriberEgress.Run(new PacketFixture("copy to 0 again", copyA.Input, TcAct.Ok, copyA.Expected(11, sidA), s.CloneFor(0)));
        s.SubscriberEgress.Run(new PacketFixture("stack to 4", stack, TcAct.Ok, stackNumbered));
        var after = MonotonicClock.NowNs();

        var events = s.TakeEvents();
        var streams = protocol.TranslatesStreams;
        var expected = new[]
        {
            new RegistrationView(0, 10, 0x31, streams ? sidA!.Value : 0, streams ? 8UL : 0, 0, (uint)copyA.PayloadLength, RegistrationView.Forwarded, 2),
            new RegistrationView(0, 20, 0x32, streams ? sidB!.Value : 0, streams ? 8UL : 0, 4, (uint)copyB.PayloadLength, RegistrationView.Forwarded, 0),
            new RegistrationView(0, 11, 0x31, streams ? sidA!.Value : 0, streams ? 8UL : 0, 0, (uint)copyA.PayloadLength, RegistrationView.Forwarded, 2),
            // Stack packets: the number userspace wrote comes back as the upstream number; stream and urgency are 0.
            new RegistrationView(0, 21, 0x99, 0, 0, 4, (uint)(protocol.HeaderLength + 9), RegistrationView.Userspace, 0),
        };
        Assert.Equal(expected, events.Select(e => e with { TimestampNs = 0 }));
        Assert.All(events, e => Assert.InRange(e.TimestampNs, before, after));
        Assert.Equal(events.Select(e => e.TimestampNs).Order(), events.Select(e => e.TimestampNs));
        Assert.Empty(s.TakeEvents());
    }

    [BpfFact]
    public void With_run_registration_only_breaks_in_a_subscribers_numbering_are_registered()
    {
        using var s = Session();
        s.Maps.RegisterRuns();
        var a = s.AddSubscriber(0, nextPacketNumber: 10);
        var b = s.AddSubscriber(4, nextPacketNumber: 0);
        CopyCase Copy(SubscriberSpec sub, ulong upstream) => new(protocol, sub, new HeaderFields { PacketNumber = upstream, StreamId = 8 });
        var sidA = Copy(a, 0).MapStream(s.Maps, 0);
        var sidB = Copy(b, 0).MapStream(s.Maps, 4);
        void Forward(SubscriberSpec sub, uint slot, ulong upstream, ulong expectedNumber, ulong? sid)
        {
            var copy = Copy(sub, upstream);
            s.SubscriberEgress.Run(new PacketFixture($"0x{upstream:x} to {slot}", copy.Input, TcAct.Ok, copy.Expected(expectedNumber, sid), s.CloneFor(slot)));
        }

        Forward(a, 0, 0x31, 10, sidA); // first copy: registered
        Forward(a, 0, 0x32, 11, sidA); // 11 follows 10 as 0x32 follows 0x31: implied
        Forward(a, 0, 0x33, 12, sidA);
        Forward(b, 4, 0x33, 0, sidB); // another slot has its own run
        Forward(a, 0, 0x35, 13, sidA); // 0x34 never reached slot 0: a break
        Forward(a, 0, 0x36, 14, sidA);
        var stackHeader = protocol.Header(new HeaderFields { Kind = protocol.StackPacketKind, PacketNumber = 0x99 });
        var stack = Frames.FromRelayStack(a).Build(Frames.Payload(stackHeader, Frames.Tail(9)));
        protocol.WritePacketNumber(stackHeader, 15);
        s.SubscriberEgress.Run(new PacketFixture("stack to 0", stack, TcAct.Ok, Frames.FromRelayStack(a).Build(Frames.Payload(stackHeader, Frames.Tail(9)))));
        Forward(a, 0, 0x37, 16, sidA); // follows a packet of the stack, not 0x36: a break
        Forward(a, 0, 0x38, 17, sidA);

        var registered = s.TakeEvents().Select(e => (e.Slot, e.PacketNumber, e.UpstreamPacketNumber, e.Origin)).ToList();
        Assert.Equal(
        [
            (0u, 10UL, 0x31UL, RegistrationView.Forwarded),
            (4u, 0UL, 0x33UL, RegistrationView.Forwarded),
            (0u, 13UL, 0x35UL, RegistrationView.Forwarded),
            (0u, 15UL, 0x99UL, RegistrationView.Userspace),
            (0u, 16UL, 0x37UL, RegistrationView.Forwarded),
        ], registered);
        // Implied copies are still counted as forwarded: only their events are left out.
        Assert.Equal(7UL, s.Maps.SubscriberStats(0).ForwardedPackets);
    }
}

[Collection(GeneratedObjectsCollection.Name)]
public sealed class CustomUdpRegistrationEventTests(GeneratedObjects objects) : RegistrationEventTests(objects, CustomUdpProtocol.Instance);


[Collection(GeneratedObjectsCollection.Name)]
public sealed class TickFeedRegistrationEventTests(GeneratedObjects objects) : RegistrationEventTests(objects, TickFeedProtocol.Instance);
