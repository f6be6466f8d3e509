using Xunit;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Tests.Quic;

public class QuicVarintTests
{
    // RFC 9000 Appendix A.1 (and §16 Table 5).
    [Theory]
    [InlineData("c2197c5eff14e88c", 151288809941952652UL)]
    [InlineData("9d7f3e7d", 494878333UL)]
    [InlineData("7bbd", 15293UL)]
    [InlineData("25", 37UL)]
    [InlineData("4025", 37UL)]
    public void DecodesRfcExamples(string hex, ulong expected)
    {
        var bytes = Hex.Parse(hex);
        Assert.True(QuicVarint.TryRead(bytes, out ulong value, out int length));
        Assert.Equal(expected, value);
        Assert.Equal(bytes.Length, length);
    }

    [Theory]
    [InlineData(151288809941952652UL, "c2197c5eff14e88c")]
    [InlineData(494878333UL, "9d7f3e7d")]
    [InlineData(15293UL, "7bbd")]
    [InlineData(37UL, "25")]
    public void EncodesShortest(ulong value, string hex)
    {
        Span<byte> buffer = stackalloc byte[8];
        Assert.True(QuicVarint.TryWrite(buffer, value, out int written));
        Assert.Equal(hex, Hex.Of(buffer[..written]));
    }

    [Fact]
    public void ForcedLengthMatchesRfcTwoByteEncodingOf37()
    {
        Span<byte> buffer = stackalloc byte[8];
        Assert.True(QuicVarint.TryWrite(buffer, 37, 2, out int written));
        Assert.Equal("4025", Hex.Of(buffer[..written]));
        Assert.True(QuicVarint.TryWrite(buffer, 37, 8, out written));
        Assert.Equal("c000000000000025", Hex.Of(buffer[..written]));
        Assert.False(QuicVarint.TryWrite(buffer, 64, 1, out _));
        Assert.False(QuicVarint.TryWrite(buffer, 1, 3, out _));
    }

    [Fact]
    public void BoundariesAndLimits()
    {
        Span<byte> buffer = stackalloc byte[8];
        foreach (var (value, length) in new[] { (0UL, 1), (63UL, 1), (64UL, 2), (16383UL, 2), (16384UL, 4), ((1UL << 30) - 1, 4), (1UL << 30, 8), (QuicVarint.MaxValue, 8) })
        {
            Assert.Equal(length, QuicVarint.GetLength(value));
            Assert.True(QuicVarint.TryWrite(buffer, value, out int written));
            Assert.Equal(length, written);
            Assert.True(QuicVarint.TryRead(buffer[..written], out ulong back, out _));
            Assert.Equal(value, back);
        }
        Assert.Equal(0, QuicVarint.GetLength(QuicVarint.MaxValue + 1));
        Assert.False(QuicVarint.TryWrite(buffer, QuicVarint.MaxValue + 1, out _));
        Assert.Throws<ArgumentException>(() => QuicVarint.Write(new byte[8], ulong.MaxValue));
    }

    [Fact]
    public void RandomRoundTripWithEveryForcedLength()
    {
        var random = new Random(9000);
        var buffer = new byte[8];
        for (int i = 0; i < 20000; i++)
        {
            ulong value = RandomValues.Varint(random);
            foreach (int forced in new[] { 1, 2, 4, 8 })
            {
                bool fits = QuicVarint.Fits(value, forced);
                Assert.Equal(fits, QuicVarint.TryWrite(buffer, value, forced, out int written));
                if (!fits) continue;
                Assert.True(QuicVarint.TryRead(buffer, out ulong back, out int length));
                Assert.Equal(value, back);
                Assert.Equal(forced, length);
            }
        }
    }

    [Fact]
    public void TruncatedInputIsRejected()
    {
        var bytes = Hex.Parse("c2197c5eff14e88c");
        for (int i = 0; i < bytes.Length; i++) Assert.False(QuicVarint.TryRead(bytes.AsSpan(0, i), out _, out _));
        Assert.False(QuicVarint.TryWrite(new byte[1], 64, out _));
    }
}
