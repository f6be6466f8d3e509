using Xunit;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Tests.Quic;

public class PacketNumberTests
{
    [Fact]
    public void DecodesRfcExample()
    {
        // RFC 9000 Appendix A.3: largest 0xa82f30ea, 16-bit 0x9b32 -> 0xa82f9b32.
        Assert.Equal(0xa82f9b32UL, PacketNumber.Decode(0xa82f30ea, 0x9b32, 2));
    }

    [Fact]
    public void EncodingLengthFollowsRfcExamples()
    {
        // RFC 9000 Appendix A.2.
        Assert.Equal(2, PacketNumber.GetEncodedLength(0xac5c02, 0xabe8b3));
        Assert.Equal(3, PacketNumber.GetEncodedLength(0xace8fe, 0xabe8b3));
        Assert.Equal(1, PacketNumber.GetEncodedLength(0, null));
        Assert.Equal(4, PacketNumber.GetEncodedLength(1UL << 40, null));
    }

    [Fact]
    public void RandomEncodeDecodeRoundTrip()
    {
        var random = new Random(17);
        Span<byte> buffer = stackalloc byte[4];
        for (int i = 0; i < 50000; i++)
        {
            ulong largestAcked = (ulong)random.NextInt64(1L << (random.Next(1, 62)));
            ulong pn = largestAcked + 1 + (ulong)random.Next(1, 1 << random.Next(1, 24));
            if (pn > PacketNumber.MaxValue) continue;
            int length = PacketNumber.GetEncodedLength(pn, largestAcked);
            PacketNumber.Write(buffer, pn, length);
            uint truncated = PacketNumber.ReadTruncated(buffer, length);
            // The receiver has seen anything between largestAcked and pn - 1 as its largest.
            ulong largestReceived = largestAcked + (ulong)random.NextInt64((long)(pn - largestAcked));
            Assert.Equal(pn, PacketNumber.Decode(largestReceived, truncated, length));
        }
    }

    [Fact]
    public void DecodeEdgeCases()
    {
        Assert.Equal(0UL, PacketNumber.Decode(null, 0, 1));
        Assert.Equal(255UL, PacketNumber.Decode(null, 255, 1));
        // Wraps up into the next window.
        Assert.Equal(256UL, PacketNumber.Decode(250, 0, 1));
        // Never above 2^62 - 1.
        Assert.True(PacketNumber.Decode(PacketNumber.MaxValue - 1, 0, 1) <= PacketNumber.MaxValue);
    }
}
