using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using Xunit;

namespace FastRelay.Tests.Moq.Wire;

public class MoqDataStreamTests
{
    public static IEnumerable<object[]> AllSubgroupTypes() =>
        Enumerable.Range(0, 128).Where(t => MoqSubgroupHeader.IsSubgroupType((ulong)t)).Select(t => new object[] { t });

    [Fact]
    public void ThereAre48ValidSubgroupTypes()
    {
        Assert.Equal(48, AllSubgroupTypes().Count());
        foreach (int t in new[] { 0x16, 0x17, 0x1E, 0x1F, 0x7E, 0x0F, 0x20, 0x80, 0x90 })
            Assert.False(MoqSubgroupHeader.IsSubgroupType((ulong)t));
    }

    [Theory]
    [MemberData(nameof(AllSubgroupTypes))]
    public void EverySubgroupHeaderTypeRoundTripsWithObjects(int type)
    {
        var mode = (MoqSubgroupIdMode)((type & 0x06) >> 1);
        var header = new MoqSubgroupHeader(TrackAlias: 7, GroupId: 300, mode, mode == MoqSubgroupIdMode.Explicit ? 9UL : 0,
            (type & 0x20) != 0 ? null : (byte)42, HasProperties: (type & 1) != 0, EndOfGroup: (type & 8) != 0, FirstObject: (type & 0x40) != 0);
        Assert.Equal(type, header.StreamType);

        var w = new MoqWriter();
        header.Write(w);
        var objects = new MoqSubgroupObjectWriter(header);
        var props = header.HasProperties ? new[] { MoqKeyValuePair.FromInt(0x3C, 2) } : null;
        objects.Write(w, 5, "abcd"u8, properties: props);
        objects.Write(w, 6, ReadOnlySpan<byte>.Empty);                       // empty Normal object
        objects.Write(w, 9, "efgh"u8);                                       // gap: delta 2
        objects.Write(w, 10, ReadOnlySpan<byte>.Empty, MoqObjectStatus.EndOfGroup);
        byte[] bytes = w.ToArray();

        Assert.Equal(MoqParseStatus.Complete, MoqStreamHeader.TryParse(bytes, out var kind, out var parsed, out _, out int consumed, out _));
        Assert.Equal(MoqStreamKind.Subgroup, kind);
        Assert.Equal(header, parsed);

        var read = ReadAll(new MoqSubgroupObjectReader(parsed!, defaultPriority: 99), bytes.AsMemory(consumed), pieceSize: 1);
        Assert.Equal(new ulong[] { 5, 6, 9, 10 }, read.Select(o => o.ObjectId));
        ulong expectedSubgroup = mode switch { MoqSubgroupIdMode.Zero => 0, MoqSubgroupIdMode.Explicit => 9, _ => 5 };
        Assert.All(read, o => Assert.Equal(expectedSubgroup, o.SubgroupId));
        Assert.All(read, o => Assert.Equal(300UL, o.GroupId));
        Assert.All(read, o => Assert.Equal(header.PublisherPriority ?? 99, o.PublisherPriority));
        Assert.Equal("abcd"u8.ToArray(), read[0].Payload.ToArray());
        Assert.Equal(header.HasProperties ? 1 : 0, read[0].Properties.Count);
        Assert.Equal(MoqObjectStatus.Normal, read[1].Status);
        Assert.Equal(MoqObjectStatus.EndOfGroup, read[3].Status);
    }

    [Fact]
    public void DraftExampleWithTwoProperties()
    {
        // §"Examples": type 0x35, alias 2, group 0, object 0 with properties {4: 2186796243, 77: "traceID:123456"}.
        var w = new MoqWriter();
        w.WriteVarint(0x35); w.WriteVarint(2); w.WriteVarint(0); w.WriteVarint(0); // 0x35: explicit Subgroup ID, default priority
        var props = new MoqWriter();
        MoqKeyValueList.Write(props, new[] { MoqKeyValuePair.FromInt(4, 2186796243), MoqKeyValuePair.FromBytes(77, "traceID:123456"u8.ToArray()) });
        w.WriteVarint(0); w.WriteLengthPrefixed(props.WrittenSpan); w.WriteLengthPrefixed("abcd"u8);
        w.WriteVarint(0); w.WriteVarint(0); w.WriteLengthPrefixed("efgh"u8);
        var bytes = w.ToArray();
        Assert.Equal(MoqParseStatus.Complete, MoqStreamHeader.TryParse(bytes, out _, out var header, out _, out int consumed, out _));
        Assert.True(header!.HasProperties);
        Assert.Null(header.PublisherPriority);
        Assert.Equal(MoqSubgroupIdMode.Explicit, header.SubgroupIdMode);
        var objects = ReadAll(new MoqSubgroupObjectReader(header), bytes.AsMemory(consumed), 3);
        Assert.Equal(new ulong[] { 0, 1 }, objects.Select(o => o.ObjectId));
        Assert.Equal(2186796243UL, objects[0].Properties[0].IntValue);
        Assert.Empty(objects[1].Properties);
    }

    [Fact]
    public void PayloadOverTheLimitIsTooLargeBeforeItArrives()
    {
        var header = new MoqSubgroupHeader(1, 1, MoqSubgroupIdMode.Zero, 0, 0);
        var w = new MoqWriter();
        w.WriteVarint(0); w.WriteVarint(1_000_001); // the payload itself never comes
        var reader = new MoqSubgroupObjectReader(header, limits: new MoqDataLimits { MaxObjectPayload = 1_000_000 });
        Assert.Equal(MoqParseStatus.TooLarge, reader.TryRead(w.WrittenMemory, out _, out _, out _, out _));
        var ok = new MoqSubgroupObjectReader(header, limits: new MoqDataLimits { MaxObjectPayload = 2_000_000 });
        Assert.Equal(MoqParseStatus.NeedMoreData, ok.TryRead(w.WrittenMemory, out _, out _, out int needed, out _));
        Assert.Equal(w.Length + 1_000_001, needed);
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 1 })]          // status 1 is not defined
    [InlineData(new byte[] { 0, 0, 0x80, 0x07 })] // status 7 (non-minimal) likewise
    public void UnknownObjectStatusIsProtocolViolation(byte[] objectBytes)
    {
        var reader = new MoqSubgroupObjectReader(new MoqSubgroupHeader(1, 1, MoqSubgroupIdMode.Zero, 0, 0));
        Assert.Equal(MoqParseStatus.Malformed, reader.TryRead(objectBytes, out _, out _, out _, out var error));
        Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);
    }

    [Fact]
    public void PropertiesOnAStatusObjectAreProtocolViolation()
    {
        var header = new MoqSubgroupHeader(1, 1, MoqSubgroupIdMode.Zero, 0, 0, HasProperties: true);
        var w = new MoqWriter();
        w.WriteVarint(0);
        MoqObjectProperties.Write(w, new[] { MoqKeyValuePair.FromInt(2, 1) });
        w.WriteVarint(0); w.WriteVarint((ulong)MoqObjectStatus.EndOfTrack);
        Assert.Equal(MoqParseStatus.Malformed, new MoqSubgroupObjectReader(header).TryRead(w.WrittenMemory, out _, out _, out _, out var error));
        Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);
    }

    [Fact]
    public void ObjectIdOverflowIsProtocolViolation()
    {
        var reader = new MoqSubgroupObjectReader(new MoqSubgroupHeader(1, 1, MoqSubgroupIdMode.Zero, 0, 0));
        var w = new MoqWriter();
        w.WriteVarint(ulong.MaxValue); w.WriteVarint(1); w.WriteByte(0xAA);
        int first = w.Length;
        w.WriteVarint(0); w.WriteVarint(1); w.WriteByte(0xBB); // ulong.MaxValue + 0 + 1 wraps
        Assert.Equal(MoqParseStatus.Complete, reader.TryRead(w.WrittenMemory, out var obj, out int consumed, out _, out _));
        Assert.Equal(ulong.MaxValue, obj.ObjectId);
        Assert.Equal(first, consumed);
        Assert.Equal(MoqParseStatus.Malformed, reader.TryRead(w.WrittenMemory[consumed..], out _, out _, out _, out var error));
        Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);
    }

    [Fact]
    public void StreamHeaderKinds()
    {
        Assert.Equal(MoqParseStatus.Complete, MoqStreamHeader.TryParse(new byte[] { 0x05, 0x0A }, out var kind, out _, out ulong requestId, out int consumed, out _));
        Assert.Equal((MoqStreamKind.Fetch, 10UL, 2), (kind, requestId, consumed));
        Assert.Equal(MoqParseStatus.NeedMoreData, MoqStreamHeader.TryParse(new byte[] { 0x05 }, out _, out _, out _, out _, out _));

        var w = new MoqWriter();
        w.WriteVarint(0x2F00);
        Assert.Equal(MoqParseStatus.Complete, MoqStreamHeader.TryParse(w.WrittenSpan, out kind, out _, out _, out consumed, out _));
        Assert.Equal((MoqStreamKind.Control, 0), (kind, consumed));

        w.Clear();
        MoqStreamHeader.WritePaddingHeader(w);
        Assert.Equal(MoqParseStatus.Complete, MoqStreamHeader.TryParse(w.WrittenSpan, out kind, out _, out _, out consumed, out _));
        Assert.Equal((MoqStreamKind.Padding, w.Length), (kind, consumed));

        Assert.Equal(MoqParseStatus.Malformed, MoqStreamHeader.TryParse(new byte[] { 0x16, 1, 1 }, out _, out _, out _, out _, out var error));
        Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);
        Assert.Equal(MoqParseStatus.Malformed, MoqStreamHeader.TryParse(new byte[] { 0x06 }, out _, out _, out _, out _, out _));
    }

    private static List<MoqObject> ReadAll(MoqSubgroupObjectReader reader, ReadOnlyMemory<byte> bytes, int pieceSize)
    {
        var result = new List<MoqObject>();
        int start = 0, available = 0;
        while (start < bytes.Length)
        {
            available = Math.Min(bytes.Length, available + pieceSize);
            while (true)
            {
                var status = reader.TryRead(bytes[start..available], out var obj, out int consumed, out _, out var error);
                if (status == MoqParseStatus.NeedMoreData) { Assert.True(available < bytes.Length, "ran out of bytes mid-object"); break; }
                Assert.True(status == MoqParseStatus.Complete, error.ToString());
                result.Add(obj with { Payload = obj.Payload.ToArray() });
                start += consumed;
                if (start == available) break;
            }
        }
        return result;
    }
}
