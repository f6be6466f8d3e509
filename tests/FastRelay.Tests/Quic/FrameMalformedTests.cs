using Xunit;
using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;

namespace FastRelay.Tests.Quic;

/// <summary>Malformed frames become the right transport error; nothing throws, hangs or allocates per hostile length.</summary>
public class FrameMalformedTests
{
    private static QuicError Decode(byte[] payload, QuicPacketType packetType = QuicPacketType.OneRtt, bool datagrams = true)
    {
        var handler = new CountingHandler();
        Assert.False(FrameDecoder.TryDecode(payload, packetType, ref handler, out _, out var error, datagrams));
        Assert.False(error.IsNone);
        return error;
    }

    [Theory]
    [InlineData("1f")]             // IMMEDIATE_ACK, unknown without the ACK frequency extension (AckFrequency/)
    [InlineData("21")]             // between HANDSHAKE_DONE and DATAGRAM
    [InlineData("32")]
    [InlineData("4040")]           // 0x40, two-byte encoding (minimal)
    [InlineData("80ffffff")]
    public void UnknownFrameTypeIsFrameEncodingError(string hex)
    {
        var error = Decode(Hex.Parse(hex));
        Assert.Equal(QuicTransportError.FrameEncodingError, error.Code);
    }

    [Fact]
    public void DatagramWithoutNegotiationIsUnknown()
    {
        Assert.Equal(QuicTransportError.FrameEncodingError, Decode(Hex.Parse("3000"), datagrams: false).Code);
    }

    [Fact]
    public void NonMinimalFrameTypeIsProtocolViolation()
    {
        var error = Decode(Hex.Parse("4001"));
        Assert.Equal(QuicTransportError.ProtocolViolation, error.Code);
        Assert.Equal(FrameType.Ping, error.FrameType);
    }

    [Fact]
    public void EmptyPayloadIsProtocolViolation() => Assert.Equal(QuicTransportError.ProtocolViolation, Decode([]).Code);

    [Theory]
    [InlineData(QuicPacketType.Initial, "10 05")]          // MAX_DATA
    [InlineData(QuicPacketType.Handshake, "08 00 01")]     // STREAM
    [InlineData(QuicPacketType.Initial, "1d 00 00")]       // application CONNECTION_CLOSE
    [InlineData(QuicPacketType.ZeroRtt, "02 00 00 00 00")] // ACK
    [InlineData(QuicPacketType.ZeroRtt, "06 00 00")]       // CRYPTO
    [InlineData(QuicPacketType.ZeroRtt, "1e")]             // HANDSHAKE_DONE
    [InlineData(QuicPacketType.Handshake, "30 01")]        // DATAGRAM
    public void FrameNotAllowedInPacketTypeIsProtocolViolation(QuicPacketType packetType, string hex)
    {
        Assert.Equal(QuicTransportError.ProtocolViolation, Decode(Hex.Parse(hex), packetType).Code);
    }

    [Theory]
    [InlineData("02 05 00 00 06", "first ACK range beyond largest")]
    [InlineData("02 05 00 01 02 02 00", "gap below zero")]
    [InlineData("02 05 00 01 00 00 04", "range length below zero")]
    [InlineData("02 05 00 bfffffffffffffff 00", "absurd range count")]
    [InlineData("12 d000000000000001", "MAX_STREAMS above 2^60")]
    [InlineData("17 d000000000000001", "STREAMS_BLOCKED above 2^60")]
    [InlineData("18 01 00 00" + "00000000000000000000000000000000", "NEW_CONNECTION_ID length 0")]
    [InlineData("18 01 00 15" + "000000000000000000000000000000000000000000" + "00000000000000000000000000000000", "NEW_CONNECTION_ID length 21")]
    [InlineData("18 01 02 01 aa" + "00000000000000000000000000000000", "Retire Prior To above sequence")]
    [InlineData("07 00", "empty NEW_TOKEN")]
    [InlineData("0e 00 ffffffffffffffff 01 aa", "STREAM ending beyond 2^62-1")]
    [InlineData("06 ffffffffffffffff 01 aa", "CRYPTO ending beyond 2^62-1")]
    public void InvalidContentIsFrameEncodingError(string hex, string because)
    {
        var error = Decode(Hex.Parse(hex));
        Assert.True(error.Code == QuicTransportError.FrameEncodingError, $"{because}: {error}");
    }

    [Fact]
    public void MaxStreamsAtTheLimitIsAccepted()
    {
        var bytes = FrameRoundTripTests.Write(new MaxStreamsFrame(true, MaxStreamsFrame.Limit));
        var handler = new CountingHandler();
        Assert.True(FrameDecoder.TryDecode(bytes, QuicPacketType.OneRtt, ref handler, out _, out _));
    }

    /// <summary>Every strict prefix of every length-delimited frame fails with FRAME_ENCODING_ERROR.</summary>
    [Fact]
    public void EveryTruncationOfEveryFrameIsAnError()
    {
        var frames = new List<byte[]>
        {
            FrameRoundTripTests.Write(AckFrame.Create([new AckRange(100, 200), new AckRange(10, 50), new AckRange(0, 3)], 1234, new EcnCounts(1, 2, 70000))),
            FrameRoundTripTests.Write(new ResetStreamFrame(4, 77, 1 << 20)),
            FrameRoundTripTests.Write(new StopSendingFrame(8, 1 << 16)),
            FrameRoundTripTests.Write(new CryptoFrame(1000, new byte[40])),
            FrameRoundTripTests.Write(new NewTokenFrame(new byte[30])),
            FrameRoundTripTests.Write(new StreamFrame(1 << 20, 1 << 30, new byte[50], true, HasLength: true)),
            FrameRoundTripTests.Write(new MaxDataFrame(1UL << 40)),
            FrameRoundTripTests.Write(new MaxStreamDataFrame(3, 1UL << 40)),
            FrameRoundTripTests.Write(new MaxStreamsFrame(false, 1 << 20)),
            FrameRoundTripTests.Write(new DataBlockedFrame(1UL << 40)),
            FrameRoundTripTests.Write(new StreamDataBlockedFrame(7, 1UL << 40)),
            FrameRoundTripTests.Write(new StreamsBlockedFrame(true, 1 << 20)),
            FrameRoundTripTests.Write(new NewConnectionIdFrame(5, 2, new ConnectionId(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }), UInt128.MaxValue)),
            FrameRoundTripTests.Write(new RetireConnectionIdFrame(1 << 20)),
            FrameRoundTripTests.Write(new PathChallengeFrame(42)),
            FrameRoundTripTests.Write(new PathResponseFrame(42)),
            FrameRoundTripTests.Write(new ConnectionCloseFrame(false, 0x0a, 0x08, "bad"u8.ToArray())),
            FrameRoundTripTests.Write(new ConnectionCloseFrame(true, 0x100, 0, "bye"u8.ToArray())),
            FrameRoundTripTests.Write(new DatagramFrame(new byte[20], HasLength: true)),
        };
        foreach (var frame in frames)
        {
            for (int length = 1; length < frame.Length; length++)
            {
                var error = Decode(frame[..length]);
                Assert.True(error.Code == QuicTransportError.FrameEncodingError, $"{Hex.Of(frame)} cut at {length}: {error}");
            }
        }
    }

    /// <summary>Frames without a length (STREAM without LEN, DATAGRAM 0x30, PADDING) accept any prefix; none throws.</summary>
    [Fact]
    public void TruncatedOpenEndedFramesNeverThrow()
    {
        var frames = new[]
        {
            FrameRoundTripTests.Write(new StreamFrame(4, 1 << 20, new byte[30], false, HasLength: false, StreamIdLength: 8)),
            FrameRoundTripTests.Write(new DatagramFrame(new byte[30], HasLength: false)),
        };
        foreach (var frame in frames)
        {
            for (int length = 1; length < frame.Length; length++)
            {
                var handler = new CountingHandler();
                bool ok = FrameDecoder.TryDecode(frame[..length], QuicPacketType.OneRtt, ref handler, out _, out var error);
                Assert.True(ok || error.Code == QuicTransportError.FrameEncodingError);
            }
        }
    }

    [Fact]
    public void RandomPayloadsNeverThrow()
    {
        var random = new Random(777);
        var types = new[] { QuicPacketType.Initial, QuicPacketType.ZeroRtt, QuicPacketType.Handshake, QuicPacketType.OneRtt };
        var buffer = new byte[256];
        for (int i = 0; i < 50000; i++)
        {
            int length = random.Next(1, buffer.Length);
            random.NextBytes(buffer.AsSpan(0, length));
            // Bias towards known frame types so the frame parsers, not just the type check, see the noise.
            if (random.Next(2) == 0) buffer[0] = (byte)random.Next(0x00, 0x1f);
            var handler = new CountingHandler();
            bool ok = FrameDecoder.TryDecode(buffer.AsMemory(0, length), types[i % types.Length], ref handler, out _, out var error);
            if (!ok)
                Assert.True(error.Code is QuicTransportError.FrameEncodingError or QuicTransportError.ProtocolViolation, error.ToString());
        }
    }

    [Fact]
    public void HostileLengthsDoNotAllocate()
    {
        var payloads = new[]
        {
            Hex.Parse("06 00 bfffffffffffffff aa"),             // CRYPTO of 2^62-1 bytes
            Hex.Parse("0f 00 00 bfffffffffffffff aa"),          // STREAM with LEN 2^62-1
            Hex.Parse("07 bfffffffffffffff"),                   // NEW_TOKEN
            Hex.Parse("1c 00 00 bfffffffffffffff"),             // CONNECTION_CLOSE reason
            Hex.Parse("31 bfffffffffffffff 00"),                // DATAGRAM
            Hex.Parse("02 bfffffffffffffff 00 bfffffffffffffff 00 0000"), // ACK with 2^62-1 ranges
        };
        foreach (var payload in payloads) Decode(payload); // warm up
        var results = new bool[payloads.Length];
        var codes = new QuicTransportError[payloads.Length];
        var memories = payloads.Select(p => (ReadOnlyMemory<byte>)p).ToArray();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < memories.Length; i++)
        {
            var handler = new CountingHandler();
            results[i] = FrameDecoder.TryDecode(memories[i], QuicPacketType.OneRtt, ref handler, out _, out var error);
            codes[i] = error.Code;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.All(results, Assert.False);
        Assert.All(codes, code => Assert.Equal(QuicTransportError.FrameEncodingError, code));
        Assert.True(allocated < 1024, $"{allocated} bytes");
    }

    [Fact]
    public void DecodingValidPacketsDoesNotAllocate()
    {
        var payload = new[]
        {
            FrameRoundTripTests.Write(AckFrame.Create([new AckRange(100, 200), new AckRange(10, 50)], 3)),
            FrameRoundTripTests.Write(new StreamFrame(4, 100, new byte[500], false)),
            FrameRoundTripTests.Write(new MaxStreamDataFrame(4, 1 << 20)),
            FrameRoundTripTests.Write(new PaddingFrame(20)),
        }.SelectMany(b => b).ToArray();
        var memory = payload.AsMemory();
        var warm = new CountingHandler();
        FrameDecoder.TryDecode(memory, QuicPacketType.OneRtt, ref warm, out _, out _);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            var handler = new CountingHandler();
            Assert.True(FrameDecoder.TryDecode(memory, QuicPacketType.OneRtt, ref handler, out _, out _));
        }
        // Tolerate JIT/tiering noise, not per-packet allocations (1000 packets).
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1000);
    }
}
