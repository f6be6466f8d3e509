using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using Xunit;

namespace FastRelay.Tests.Moq.Wire;

public class MoqFetchAndDatagramTests
{
    private static MoqObject Obj(ulong group, ulong? subgroup, ulong id, byte priority, string payload, params MoqKeyValuePair[] props) =>
        new() { GroupId = group, SubgroupId = subgroup, ObjectId = id, PublisherPriority = priority, Payload = System.Text.Encoding.ASCII.GetBytes(payload), Properties = props };

    [Theory]
    [InlineData(MoqGroupOrder.Ascending)]
    [InlineData(MoqGroupOrder.Descending)]
    public void FetchObjectsRoundTripThroughEveryFlagCombination(MoqGroupOrder order)
    {
        var groups = order == MoqGroupOrder.Ascending ? new ulong[] { 2, 3, 7 } : new ulong[] { 7, 3, 2 };
        var sent = new List<MoqObject>
        {
            Obj(groups[0], 0, 0, 5, "a"),
            Obj(groups[0], 0, 1, 5, "b"),                                     // everything implied
            Obj(groups[0], 1, 2, 5, "c"),                                     // subgroup + 1
            Obj(groups[0], 1, 4, 9, "", MoqKeyValuePair.FromInt(0x3E, 1)),    // object delta, priority, properties, empty payload
            Obj(groups[0], null, 5, 9, "d"),                                  // datagram preference
            Obj(groups[1], 17, 0, 9, "e"),                                    // new group, explicit subgroup
            Obj(groups[1], 17, 3, 1, "f"),                                    // same subgroup as prior
            Obj(groups[2], 0, 100, 1, "g"),
        };
        var w = new MoqWriter();
        MoqFetchObjectWriter.WriteHeader(w, 12);
        var writer = new MoqFetchObjectWriter(order);
        foreach (var o in sent) writer.Write(w, o);
        byte[] bytes = w.ToArray();

        Assert.Equal(MoqParseStatus.Complete, MoqStreamHeader.TryParse(bytes, out var kind, out _, out ulong requestId, out int consumed, out _));
        Assert.Equal((MoqStreamKind.Fetch, 12UL), (kind, requestId));
        var reader = new MoqFetchObjectReader(order);
        var got = new List<MoqObject>();
        int at = consumed;
        while (at < bytes.Length)
        {
            // Offer the bytes one at a time: every prefix must be "need more", then the object.
            int end = at;
            MoqParseStatus status;
            MoqObject? obj;
            int used;
            do
            {
                end++;
                status = reader.TryRead(bytes.AsMemory(at, end - at), out obj, out _, out used, out _, out var error);
                Assert.NotEqual(MoqParseStatus.Malformed, status);
            } while (status == MoqParseStatus.NeedMoreData);
            got.Add(obj!);
            at += used;
        }
        Assert.Equal(sent, got);
    }

    [Fact]
    public void EndOfRangeMarkersAreReadAndMoveThePriorLocation()
    {
        var w = new MoqWriter();
        var writer = new MoqFetchObjectWriter();
        writer.Write(w, Obj(1, 0, 0, 3, "x"));
        writer.WriteEndOfRange(w, new MoqLocation(4, 2), unknown: true);
        writer.Write(w, Obj(4, 0, 3, 3, "y")); // prior object is the end of range: +1, prior subgroup/priority from "x"
        Assert.Throws<ArgumentException>(() => writer.WriteEndOfRange(new MoqWriter(), new MoqLocation(4, 9), unknown: false));

        var reader = new MoqFetchObjectReader();
        var mem = w.WrittenMemory;
        Assert.Equal(MoqParseStatus.Complete, reader.TryRead(mem, out var first, out _, out int n, out _, out _));
        mem = mem[n..];
        Assert.Equal(MoqParseStatus.Complete, reader.TryRead(mem, out var none, out var range, out n, out _, out _));
        Assert.Null(none);
        Assert.Equal(new MoqFetchEndOfRange(new MoqLocation(4, 2), Unknown: true), range);
        mem = mem[n..];
        Assert.Equal(MoqParseStatus.Complete, reader.TryRead(mem, out var last, out _, out n, out _, out _));
        Assert.Equal(new MoqLocation(4, 3), last!.Location);
        Assert.Equal((byte)3, last.PublisherPriority);
        Assert.Equal("x"u8.ToArray(), first!.Payload.ToArray());
    }

    [Theory]
    [InlineData(new byte[] { 0x04, 0, 0 })]          // first object without a group ID
    [InlineData(new byte[] { 0x0C, 0, 0, 0 })]       // first object without a priority ("prior priority")
    [InlineData(new byte[] { 0x1D, 0, 0, 0, 0 })]    // first object with "prior subgroup"
    [InlineData(new byte[] { 0x80, 0x80 })]          // 128 is not a flag value
    public void FetchObjectsReferringToNothingAreProtocolViolation(byte[] bytes)
    {
        Assert.Equal(MoqParseStatus.Malformed, new MoqFetchObjectReader().TryRead(bytes, out _, out _, out _, out _, out var error));
        Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);
    }

    [Fact]
    public void DescendingFetchBelowGroupZeroIsProtocolViolation()
    {
        var reader = new MoqFetchObjectReader(MoqGroupOrder.Descending);
        byte[] first = { 0x1C, 1, 0, 0, 0 };      // group 1, object 0, priority 0, empty payload
        byte[] second = { 0x08, 1, 0 };            // group 1 - (1 + 1) < 0
        Assert.Equal(MoqParseStatus.Complete, reader.TryRead(first, out _, out _, out _, out _, out _));
        Assert.Equal(MoqParseStatus.Malformed, reader.TryRead(second, out _, out _, out _, out _, out var error));
        Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);
    }

    public static IEnumerable<object[]> DatagramCases()
    {
        foreach (bool props in new[] { false, true })
        foreach (bool eog in new[] { false, true })
        foreach (bool zeroId in new[] { false, true })
        foreach (bool defaultPriority in new[] { false, true })
        foreach (bool status in new[] { false, true })
            if (!(status && eog)) yield return new object[] { props, eog, zeroId, defaultPriority, status };
    }

    [Theory]
    [MemberData(nameof(DatagramCases))]
    public void EveryDatagramTypeRoundTrips(bool props, bool endOfGroup, bool zeroId, bool defaultPriority, bool status)
    {
        var obj = new MoqObject
        {
            GroupId = 77, ObjectId = zeroId ? 0UL : 5UL, PublisherPriority = 10,
            Status = status ? MoqObjectStatus.Normal : MoqObjectStatus.Normal,
            Properties = props ? new[] { MoqKeyValuePair.FromInt(6, 1) } : Array.Empty<MoqKeyValuePair>(),
            Payload = status ? ReadOnlyMemory<byte>.Empty : "payload"u8.ToArray(),
        };
        // A status datagram is written when the object is not Normal; an empty Normal object uses the STATUS form
        // only when asked for explicitly, so build those by hand from the writer's non-status output.
        if (status && !props) obj = obj with { Status = MoqObjectStatus.EndOfTrack };
        var w = new MoqWriter();
        if (status && props)
        {
            // STATUS + PROPERTIES with status Normal is legal: type 0x21 | flags.
            ulong type = 0x21 | (zeroId ? 4UL : 0) | (defaultPriority ? 8UL : 0);
            w.WriteVarint(type); w.WriteVarint(3); w.WriteVarint(77);
            if (!zeroId) w.WriteVarint(5);
            if (!defaultPriority) w.WriteByte(10);
            MoqObjectProperties.Write(w, obj.Properties);
            w.WriteVarint(0);
        }
        else MoqObjectDatagram.Write(w, 3, obj, endOfGroup, defaultPriority ? (byte)10 : null);

        Assert.True(MoqObjectDatagram.TryParse(w.WrittenMemory, 10, out ulong alias, out var back, out bool eog, out bool padding, out var error), error.ToString());
        Assert.False(padding);
        Assert.Equal(3UL, alias);
        Assert.Equal(endOfGroup, eog);
        Assert.Equal(obj with { SubgroupId = null }, back);
        Assert.Equal(defaultPriority, (w.WrittenSpan[0] & 0x08) != 0);
    }

    [Fact]
    public void InvalidDatagramTypesAndShapes()
    {
        foreach (ulong type in new ulong[] { 0x22, 0x23, 0x26, 0x2F, 0x10, 0x1F, 0x30, 0x40 })
        {
            var w = new MoqWriter();
            w.WriteVarint(type); w.WriteVarint(1); w.WriteVarint(1); w.WriteVarint(1); w.WriteByte(0); w.WriteVarint(0);
            Assert.False(MoqObjectDatagram.TryParse(w.WrittenMemory, 0, out _, out _, out _, out _, out var error), $"type 0x{type:x}");
            Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);
        }
        // PROPERTIES bit with a zero Properties Length.
        Assert.False(MoqObjectDatagram.TryParse(new byte[] { 0x01, 1, 1, 1, 0, 0, 0xAA }, 0, out _, out _, out _, out _, out var e2));
        Assert.Equal(MoqSessionError.ProtocolViolation, e2.Code);
        // STATUS + PROPERTIES with a non-Normal status.
        Assert.False(MoqObjectDatagram.TryParse(new byte[] { 0x21, 1, 1, 1, 0, 2, 2, 1, 3 }, 0, out _, out _, out _, out _, out e2));
        Assert.Equal(MoqSessionError.ProtocolViolation, e2.Code);
        // Padding is recognised and discarded.
        var pad = new MoqWriter();
        MoqObjectDatagram.WritePadding(pad, 20);
        Assert.True(MoqObjectDatagram.TryParse(pad.WrittenMemory, 0, out _, out _, out _, out bool isPadding, out _));
        Assert.True(isPadding);
    }
}
