using FastRelay.Protocols.Moq.Wire;
using Xunit;

namespace FastRelay.Tests.Moq.Wire;

public class MoqVarintTests
{
    // The draft's example table (§"Variable-Length Integers").
    [Theory]
    [InlineData("25", 37UL)]
    [InlineData("8025", 37UL)]
    [InlineData("bbbd", 15293UL)]
    [InlineData("ed7f3e7d", 226442877UL)]
    [InlineData("faa1a0e403d8", 2893212287960UL)]
    [InlineData("fc8998abc66bc0", 151288809941952UL)]
    [InlineData("fefa318fa8e3ca11", 70423237261249041UL)]
    [InlineData("ffffffffffffffffff", 18446744073709551615UL)]
    public void DraftExamplesDecode(string hex, ulong expected)
    {
        byte[] bytes = Convert.FromHexString(hex);
        Assert.True(MoqVarint.TryRead(bytes, out ulong value, out int length));
        Assert.Equal(expected, value);
        Assert.Equal(bytes.Length, length);
        Assert.Equal(bytes.Length, MoqVarint.LengthFromFirstByte(bytes[0]));
    }

    [Theory]
    [InlineData(37UL, "25")]
    [InlineData(15293UL, "bbbd")]
    [InlineData(226442877UL, "ed7f3e7d")]
    [InlineData(2893212287960UL, "faa1a0e403d8")]
    [InlineData(151288809941952UL, "fc8998abc66bc0")]
    [InlineData(70423237261249041UL, "fefa318fa8e3ca11")]
    [InlineData(ulong.MaxValue, "ffffffffffffffffff")]
    public void WritesTheShortestForm(ulong value, string hex)
    {
        var buffer = new byte[9];
        int n = MoqVarint.Write(buffer, value);
        Assert.Equal(hex, Convert.ToHexString(buffer, 0, n).ToLowerInvariant());
    }

    [Fact]
    public void ZeroHasManyEncodings()
    {
        foreach (string hex in new[] { "00", "8000", "c00000", "e0000000", "ff0000000000000000" })
        {
            Assert.True(MoqVarint.TryRead(Convert.FromHexString(hex), out ulong v, out int n));
            Assert.Equal(0UL, v);
            Assert.Equal(hex.Length / 2, n);
        }
    }

    [Fact]
    public void BoundariesRoundTripAtEveryLength()
    {
        var buffer = new byte[9];
        for (int bits = 0; bits <= 64; bits++)
        {
            foreach (ulong value in new[] { bits == 64 ? ulong.MaxValue : (1UL << bits) - 1, bits < 64 ? 1UL << bits : 0 })
            {
                int n = MoqVarint.Write(buffer, value);
                Assert.Equal(MoqVarint.GetLength(value), n);
                Assert.True(MoqVarint.TryRead(buffer.AsSpan(0, n), out ulong back, out int m));
                Assert.Equal(value, back);
                Assert.Equal(n, m);
                for (int forced = n; forced <= 9; forced++)
                {
                    MoqVarint.Write(buffer, value, forced);
                    Assert.True(MoqVarint.TryRead(buffer.AsSpan(0, forced), out back, out m));
                    Assert.Equal((value, forced), (back, m));
                }
            }
        }
        Assert.Equal(7, MoqVarint.GetLength((1UL << 49) - 1)); // draft-19 has the 7-byte form
    }

    [Fact]
    public void TruncatedInputIsNotAValue()
    {
        Assert.False(MoqVarint.TryRead(ReadOnlySpan<byte>.Empty, out _, out _));
        Assert.False(MoqVarint.TryRead(Convert.FromHexString("ffffffff"), out _, out _));
        Assert.False(MoqVarint.TryRead(Convert.FromHexString("80"), out _, out _));
    }
}
