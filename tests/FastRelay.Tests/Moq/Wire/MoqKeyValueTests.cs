using FastRelay.Protocols.Moq.Wire;
using Xunit;

namespace FastRelay.Tests.Moq.Wire;

public class MoqKeyValueTests
{
    [Fact]
    public void RoundTripsSortedWithDeltas()
    {
        var pairs = new List<MoqKeyValuePair>
        {
            MoqKeyValuePair.FromBytes(77, "traceID:123456"u8.ToArray()),
            MoqKeyValuePair.FromInt(4, 2186796243),
            MoqKeyValuePair.FromInt(4, 1), // repeated types are legal in a list
        };
        var w = new MoqWriter();
        MoqKeyValueList.Write(w, pairs);
        var back = new List<MoqKeyValuePair>();
        Assert.True(MoqKeyValueList.TryParse(w.WrittenMemory, back, out var error), error.ToString());
        Assert.Equal(new ulong[] { 4, 4, 77 }, back.Select(p => p.Type));
        Assert.Equal(2186796243UL, back[0].IntValue);
        Assert.Equal("traceID:123456"u8.ToArray(), back[2].BytesValue.ToArray());
        // Second type is written as delta 0, the third as 73.
        Assert.Equal(new byte[] { 0x04 }, w.WrittenSpan[..1].ToArray());
    }

    [Fact]
    public void DeltaOverflowIsProtocolViolation()
    {
        var w = new MoqWriter();
        w.WriteVarint(ulong.MaxValue - 1); w.WriteVarint(0); // even type, varint value
        w.WriteVarint(2); w.WriteVarint(0);                   // pushes the type past 2^64-1
        var list = new List<MoqKeyValuePair>();
        Assert.False(MoqKeyValueList.TryParse(w.WrittenMemory, list, out var error));
        Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);
    }

    [Fact]
    public void ByteValueOver65535IsProtocolViolation()
    {
        var w = new MoqWriter();
        w.WriteVarint(1);
        w.WriteVarint(65536);
        w.WriteBytes(new byte[65536]);
        Assert.False(MoqKeyValueList.TryParse(w.WrittenMemory, new List<MoqKeyValuePair>(), out var error));
        Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);
        Assert.Throws<ArgumentException>(() => MoqKeyValuePair.FromBytes(1, new byte[65536]));
    }

    [Theory]
    [InlineData("02")]       // even type without its varint
    [InlineData("0305ab")]   // odd type, length 5, one byte
    [InlineData("03")]       // odd type without length
    public void TruncatedPairIsKeyValueFormattingError(string hex)
    {
        Assert.False(MoqKeyValueList.TryParse(Convert.FromHexString(hex), new List<MoqKeyValuePair>(), out var error));
        Assert.Equal(MoqSessionError.KeyValueFormattingError, error.Code);
    }

    [Fact]
    public void ReasonPhraseLimitIs1024()
    {
        var ok = new MoqWriter();
        MoqReasonPhrase.Write(ok, new string('x', 1024));
        var r = new MoqReader(ok.WrittenMemory);
        Assert.True(MoqReasonPhrase.TryRead(ref r, out string reason, out _));
        Assert.Equal(1024, reason.Length);

        var bad = new MoqWriter();
        bad.WriteVarint(1025);
        bad.WriteBytes(new byte[1025]);
        r = new MoqReader(bad.WrittenMemory);
        Assert.False(MoqReasonPhrase.TryRead(ref r, out _, out var error));
        Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);

        // Our writer cuts long reasons at a UTF-8 boundary instead of sending an illegal one.
        var cut = new MoqWriter();
        MoqReasonPhrase.Write(cut, new string('é', 600)); // 1200 bytes
        r = new MoqReader(cut.WrittenMemory);
        Assert.True(MoqReasonPhrase.TryRead(ref r, out reason, out _));
        Assert.Equal(512, reason.Length);
    }
}
