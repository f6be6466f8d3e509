using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Streams;
using Xunit;

namespace FastRelay.Tests.Quic.Streams;

public class ReceiveBufferTests
{
    private static byte[] RandomBytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static byte[] ReadAll(ReceiveBuffer buffer)
    {
        var output = new byte[buffer.Available];
        Assert.Equal(output.Length, buffer.Read(output));
        return output;
    }

    [Fact]
    public void InOrderPiecesReassemble()
    {
        var data = RandomBytes(50_000, 1);
        var buffer = new ReceiveBuffer(1 << 20, QuicTransportError.FlowControlError);
        var output = new MemoryStream();
        for (int offset = 0; offset < data.Length; offset += 1000)
        {
            int n = Math.Min(1000, data.Length - offset);
            Assert.True(buffer.TryWrite((ulong)offset, data.AsSpan(offset, n), offset + n == data.Length, out var error), error.ToString());
            output.Write(ReadAll(buffer));
        }
        Assert.Equal(data, output.ToArray());
        Assert.True(buffer.IsFinished);
        Assert.Equal((ulong)data.Length, buffer.FinalSize);
    }

    [Fact]
    public void ReversedPiecesReassembleOnlyAtTheEnd()
    {
        var data = RandomBytes(40_000, 2);
        var buffer = new ReceiveBuffer(1 << 20, QuicTransportError.FlowControlError);
        for (int offset = data.Length - 700; offset > -700; offset -= 700)
        {
            int start = Math.Max(0, offset);
            int end = offset + 700;
            Assert.Equal(0, start == 0 ? 0 : buffer.Available);
            Assert.True(buffer.TryWrite((ulong)start, data.AsSpan(start, end - start), end == data.Length, out _));
        }
        Assert.Equal(data.Length, buffer.Available);
        Assert.Equal(data, ReadAll(buffer));
        Assert.True(buffer.IsFinished);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public void RandomPermutationsWithOverlapsAndDuplicatesReassemble(int seed)
    {
        var rng = new Random(seed);
        var data = RandomBytes(rng.Next(1, 200_000), seed);
        var pieces = new List<(int Offset, int Length)>();
        for (int offset = 0; offset < data.Length;)
        {
            int n = Math.Min(rng.Next(1, 3000), data.Length - offset);
            pieces.Add((offset, n));
            offset += n;
        }
        // Overlapping re-cuts and exact duplicates, as retransmissions produce.
        int extra = pieces.Count / 2;
        for (int i = 0; i < extra; i++)
        {
            int start = rng.Next(data.Length);
            pieces.Add((start, Math.Min(rng.Next(1, 5000), data.Length - start)));
            pieces.Add(pieces[rng.Next(pieces.Count)]);
        }
        var order = pieces.OrderBy(_ => rng.Next()).ToList();
        var buffer = new ReceiveBuffer((ulong)data.Length, QuicTransportError.FlowControlError);
        var output = new MemoryStream();
        foreach (var (offset, length) in order)
        {
            bool fin = offset + length == data.Length;
            Assert.True(buffer.TryWrite((ulong)offset, data.AsSpan(offset, length), fin, out var error), error.ToString());
            if (rng.Next(3) == 0) output.Write(ReadAll(buffer));
        }
        output.Write(ReadAll(buffer));
        Assert.Equal(data, output.ToArray());
        Assert.True(buffer.IsFinished);
        Assert.True(buffer.RetainedBytes <= 4096);
    }

    [Fact]
    public void DataBeyondFinalSizeIsFinalSizeError()
    {
        var buffer = new ReceiveBuffer(1000, QuicTransportError.FlowControlError);
        Assert.True(buffer.TryWrite(0, new byte[10], fin: true, out _));
        Assert.False(buffer.TryWrite(5, new byte[10], fin: false, out var error));
        Assert.Equal(QuicTransportError.FinalSizeError, error.Code);
        Assert.True(buffer.TryWrite(5, new byte[5], fin: false, out _));   // within the final size: fine
        Assert.True(buffer.TryWrite(0, new byte[10], fin: true, out _));   // the same final size again: fine
    }

    [Fact]
    public void ChangedFinalSizeIsFinalSizeError()
    {
        var buffer = new ReceiveBuffer(1000, QuicTransportError.FlowControlError);
        Assert.True(buffer.TryWrite(0, new byte[10], fin: true, out _));
        Assert.False(buffer.TryWrite(0, new byte[8], fin: true, out var error));
        Assert.Equal(QuicTransportError.FinalSizeError, error.Code);
    }

    [Fact]
    public void FinalSizeBelowReceivedDataIsFinalSizeError()
    {
        var buffer = new ReceiveBuffer(1000, QuicTransportError.FlowControlError);
        Assert.True(buffer.TryWrite(100, new byte[50], fin: false, out _));
        Assert.False(buffer.TryWrite(0, new byte[20], fin: true, out var error));
        Assert.Equal(QuicTransportError.FinalSizeError, error.Code);
        Assert.Null(buffer.FinalSize);
    }

    [Fact]
    public void DataBeyondTheBufferLimitIsTheOverflowError()
    {
        var buffer = new ReceiveBuffer(1000, QuicTransportError.CryptoBufferExceeded);
        Assert.True(buffer.TryWrite(900, new byte[100], fin: false, out _));
        Assert.False(buffer.TryWrite(900, new byte[101], fin: false, out var error));
        Assert.Equal(QuicTransportError.CryptoBufferExceeded, error.Code);
        // Once the reader consumed, the limit slides.
        Assert.True(buffer.TryWrite(0, new byte[900], fin: false, out _));
        Assert.Equal(1000, buffer.Read(new byte[1000]));
        Assert.True(buffer.TryWrite(1000, new byte[1000], fin: false, out _));
        Assert.Equal(2000UL, buffer.HighestReceived);
    }

    [Fact]
    public void MemoryStaysBoundedByTheWindowAndIsReleasedOnRead()
    {
        const int window = 64 * 1024;
        var rng = new Random(5);
        var buffer = new ReceiveBuffer(window, QuicTransportError.FlowControlError);
        var data = RandomBytes(2_000_000, 5);
        var output = new MemoryStream();
        long maxRetained = 0;
        while (output.Length < data.Length)
        {
            // Random pieces within the window ahead of the reader, then read what is contiguous.
            for (int k = 0; k < 20; k++)
            {
                long start = (long)buffer.ReadOffset + rng.Next(window);
                int length = (int)Math.Min(Math.Min(rng.Next(1, 1500), data.Length - start), (long)buffer.ReadOffset + window - start);
                if (length <= 0) continue;
                Assert.True(buffer.TryWrite((ulong)start, data.AsSpan((int)start, length), false, out var error), error.ToString());
                maxRetained = Math.Max(maxRetained, buffer.RetainedBytes);
            }
            int head = (int)Math.Min(1500, data.Length - (long)buffer.ReadOffset);
            Assert.True(buffer.TryWrite(buffer.ReadOffset, data.AsSpan((int)buffer.ReadOffset, head), false, out _));
            output.Write(ReadAll(buffer));
        }
        Assert.Equal(data, output.ToArray());
        Assert.True(maxRetained <= window + 2 * 4096, $"retained {maxRetained}");
        buffer.Discard();
        Assert.Equal(0, buffer.RetainedBytes);
    }

    [Fact]
    public void EmptyFinAtTheReadOffsetFinishes()
    {
        var buffer = new ReceiveBuffer(100, QuicTransportError.FlowControlError);
        Assert.True(buffer.TryWrite(0, new byte[3] { 1, 2, 3 }, false, out _));
        Assert.Equal(3, buffer.Read(new byte[10]));
        Assert.False(buffer.IsFinished);
        Assert.True(buffer.TryWrite(3, ReadOnlySpan<byte>.Empty, true, out _));
        Assert.True(buffer.IsFinished);
    }
}
