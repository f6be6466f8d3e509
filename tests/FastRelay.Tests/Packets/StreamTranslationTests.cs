using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Packets;

/// <summary>Stream id translation through fr_streams (descriptors with a translated [StreamId] only).</summary>
public abstract class StreamTranslationTests(GeneratedObjects objects, FastPathProtocol protocol, ulong upstreamStream, ulong[] subscriberStreams)
{
    private RelaySession Session() => new(objects, protocol);

    [BpfFact]
    public void Each_subscriber_gets_the_stream_id_userspace_opened_for_it()
    {
        using var s = Session();
        var fields = new HeaderFields { StreamId = upstreamStream, PacketNumber = 0x77 };
        for (uint slot = 0; slot < subscriberStreams.Length; slot++)
        {
            var sub = s.AddSubscriber(slot, nextPacketNumber: 10 * slot);
            s.Maps.SetStream(slot, upstreamStream, subscriberStreams[slot]);
            var copy = new CopyCase(protocol, sub, fields);
            s.SubscriberEgress.Run(new PacketFixture($"slot {slot}", copy.Input, TcAct.Ok, copy.Expected(10 * slot, subscriberStreams[slot]), s.CloneFor(slot)));
        }

        var events = s.TakeEvents();
        Assert.Equal(subscriberStreams, events.Select(e => e.StreamId));
        Assert.All(events, e => Assert.Equal(upstreamStream, e.UpstreamStreamId));
    }

    [BpfFact]
    public void A_copy_without_a_mapping_is_dropped_and_consumes_no_number()
    {
        using var s = Session();
        var sub = s.AddSubscriber(1, nextPacketNumber: 500);
        s.AddSubscriber(2);
        s.Maps.SetStream(2, upstreamStream, subscriberStreams[0]); // another subscriber's mapping does not apply
        var copy = new CopyCase(protocol, sub, new HeaderFields { StreamId = upstreamStream });

        s.SubscriberEgress.Run(new PacketFixture("no mapping", copy.Input, TcAct.Shot, Context: s.CloneFor(1)));
        Assert.Equal(500UL, s.Maps.NextPacketNumber(1));
        Assert.Equal(new RelayStats { EgressDroppedNoStream = 1 }, s.Maps.Stats());
        Assert.Equal(new SubscriberCounters { DroppedNoStream = 1 }, s.Maps.SubscriberStats(1));
        Assert.Empty(s.TakeEvents());

        // Once userspace opens the stream, the next copy takes the number the dropped one did not.
        s.Maps.SetStream(1, upstreamStream, subscriberStreams[1]);
        s.SubscriberEgress.Run(new PacketFixture("mapped", copy.Input, TcAct.Ok, copy.Expected(500, subscriberStreams[1]), s.CloneFor(1)));
        Assert.Equal(501UL, s.Maps.NextPacketNumber(1));
    }
}

/// <summary>QUIC: an 8-byte varint; the 0b11 length prefix (in the expected bytes) must survive with 62-bit ids on both sides.</summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class QuicMoqStreamTranslationTests(GeneratedObjects objects)
    : StreamTranslationTests(objects, QuicMoqProtocol.Instance, 0x3FFF_FFFF_FFFF_FF04, [0x4, 0x3FFF_FFFF_FFFF_FFF0, 0x0123_4567_89AB_CDEF]);

/// <summary>Tick feed: a big-endian u16 in an otherwise little-endian header.</summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class TickFeedStreamTranslationTests(GeneratedObjects objects)
    : StreamTranslationTests(objects, TickFeedProtocol.Instance, 0xA1B2, [0x0001, 0xBEEF, 0xFFFF]);
