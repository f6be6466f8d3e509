using Xunit;
using System.Buffers.Binary;
using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;

namespace FastRelay.Tests.Quic;

/// <summary>Property tests: random frames of every type encode, decode and re-encode to the same bytes.</summary>
public class FrameRoundTripTests
{
    private const int Iterations = 500;

    /// <summary>Encodes, checks EncodedLength, decodes with TryRead and through FrameDecoder, and re-encodes.</summary>
    internal static byte[] RoundTrip<T>(T frame, QuicPacketType packetType = QuicPacketType.OneRtt) where T : struct, IQuicFrame<T>
    {
        var bytes = new byte[frame.EncodedLength];
        Assert.Equal(bytes.Length, frame.Write(bytes));

        var reader = new QuicReader(bytes);
        Assert.True(reader.TryReadVarint(out ulong type));
        Assert.Equal(frame.Type, type);
        Assert.True(T.TryRead(ref reader, type, out var back, out var error), error.ToString());
        Assert.True(reader.IsEnd);
        var again = new byte[back.EncodedLength];
        back.Write(again);
        Assert.Equal(Hex.Of(bytes), Hex.Of(again));

        var handler = new CollectingHandler();
        Assert.True(FrameDecoder.TryDecode(bytes, packetType, ref handler, out _, out error), error.ToString());
        Assert.IsType<T>(Assert.Single(handler.Frames));
        return bytes;
    }

    private static readonly Random Random = new(2024);

    [Fact]
    public void Padding()
    {
        for (int i = 1; i < 50; i++) Assert.Equal(i, new PaddingFrame(i).EncodedLength);
        RoundTrip(new PaddingFrame(1));
        RoundTrip(new PaddingFrame(1199));
    }

    [Fact]
    public void PingAndHandshakeDone()
    {
        Assert.Equal("01", Hex.Of(RoundTrip(new PingFrame())));
        Assert.Equal("1e", Hex.Of(RoundTrip(new HandshakeDoneFrame())));
    }

    [Fact]
    public void Ack()
    {
        for (int i = 0; i < Iterations; i++)
        {
            // Build random valid ranges, largest first.
            int count = Random.Next(1, 20);
            var ranges = new List<AckRange>();
            ulong next = (ulong)Random.NextInt64(1L << Random.Next(10, 62));
            for (int r = 0; r < count; r++)
            {
                ulong length = Math.Min((ulong)Random.Next(0, 1000), next);
                ranges.Add(new AckRange(next - length, next));
                ulong gap = (ulong)Random.Next(2, 1000);
                if (next - length < gap) break;
                next = next - length - gap;
            }
            EcnCounts? ecn = Random.Next(2) == 0 ? null : new EcnCounts(RandomValues.Varint(Random), RandomValues.Varint(Random), RandomValues.Varint(Random));
            ulong delay = RandomValues.Varint(Random);
            var frame = AckFrame.Create(ranges.ToArray(), delay, ecn);
            var bytes = RoundTrip(frame, QuicPacketType.Initial);

            // Direct writing gives the same bytes, and the decoded ranges are the input ranges.
            var direct = new byte[bytes.Length];
            Assert.Equal(bytes.Length, AckFrame.Write(direct, ranges.ToArray(), delay, ecn));
            Assert.Equal(Hex.Of(bytes), Hex.Of(direct));
            var reader = new QuicReader(bytes);
            reader.TryReadVarint(out ulong type);
            Assert.True(AckFrame.TryRead(ref reader, type, out var decoded, out _));
            Assert.Equal(ranges, decoded.RangeList());
            Assert.Equal(ecn, decoded.Ecn);
        }
    }

    [Fact]
    public void StreamAndFlowControlFrames()
    {
        for (int i = 0; i < Iterations; i++)
        {
            RoundTrip(new ResetStreamFrame(RandomValues.Varint(Random), RandomValues.Varint(Random), RandomValues.Varint(Random)));
            RoundTrip(new StopSendingFrame(RandomValues.Varint(Random), RandomValues.Varint(Random)));
            RoundTrip(new MaxDataFrame(RandomValues.Varint(Random)));
            RoundTrip(new MaxStreamDataFrame(RandomValues.Varint(Random), RandomValues.Varint(Random)));
            RoundTrip(new MaxStreamsFrame(Random.Next(2) == 0, (ulong)Random.NextInt64((long)MaxStreamsFrame.Limit + 1)));
            RoundTrip(new DataBlockedFrame(RandomValues.Varint(Random)));
            RoundTrip(new StreamDataBlockedFrame(RandomValues.Varint(Random), RandomValues.Varint(Random)));
            RoundTrip(new StreamsBlockedFrame(Random.Next(2) == 0, (ulong)Random.NextInt64((long)MaxStreamsFrame.Limit + 1)));
            RoundTrip(new RetireConnectionIdFrame(RandomValues.Varint(Random)));
            RoundTrip(new PathChallengeFrame((ulong)Random.NextInt64()));
            RoundTrip(new PathResponseFrame((ulong)Random.NextInt64()));
        }
    }

    [Fact]
    public void DataCarryingFrames()
    {
        for (int i = 0; i < Iterations; i++)
        {
            var data = RandomValues.Bytes(Random, 300);
            ulong offset = Random.Next(3) == 0 ? 0 : (ulong)Random.NextInt64(1L << 40);
            RoundTrip(new CryptoFrame(offset, data), QuicPacketType.Handshake);
            if (data.Length > 0) RoundTrip(new NewTokenFrame(data));
            bool hasLength = Random.Next(2) == 0;
            int streamIdLength = new[] { 0, 1, 2, 4, 8 }[Random.Next(5)];
            ulong streamId = (ulong)Random.Next(64);
            var stream = RoundTrip(new StreamFrame(streamId, offset, data, Random.Next(2) == 0, hasLength, streamIdLength));
            Assert.Equal(streamIdLength is 0 or 1 ? 1 : streamIdLength, QuicVarint.GetLengthFromFirstByte(stream[1]));
            RoundTrip(new DatagramFrame(data, hasLength));
            RoundTrip(new ConnectionCloseFrame(false, RandomValues.Varint(Random), RandomValues.Varint(Random), data));
            RoundTrip(new ConnectionCloseFrame(true, RandomValues.Varint(Random), 0, data));
        }
    }

    [Fact]
    public void NewConnectionId()
    {
        for (int i = 0; i < Iterations; i++)
        {
            var id = new byte[Random.Next(1, 21)];
            Random.NextBytes(id);
            ulong sequence = RandomValues.Varint(Random);
            ulong retire = (ulong)Random.NextInt64((long)Math.Min(sequence, long.MaxValue - 1) + 1);
            var token = new byte[16];
            Random.NextBytes(token);
            var frame = new NewConnectionIdFrame(sequence, retire, new ConnectionId(id), BinaryPrimitives.ReadUInt128BigEndian(token));
            var bytes = RoundTrip(frame);
            Assert.Equal(Hex.Of(token), Hex.Of(bytes.AsSpan(bytes.Length - 16)));
        }
    }

    [Fact]
    public void FastPathStreamFrameLayoutMatchesQuicMoqHeader()
    {
        // QuicMoqHeader: STREAM type 0x08..0x0f at byte 13, then a stream id forced to an 8-byte varint, no Length.
        var frame = new StreamFrame(StreamId: 6, Offset: 0, Data: new byte[] { 1, 2, 3 }, Fin: false, HasLength: false, StreamIdLength: 8);
        var bytes = RoundTrip(frame);
        Assert.Equal("08" + "c000000000000006" + "010203", Hex.Of(bytes));
    }

    [Fact]
    public void SeveralFramesInOnePayloadDecodeInOrder()
    {
        var frames = new List<byte[]>
        {
            Write(new PingFrame()),
            Write(AckFrame.Create([new AckRange(10, 20), new AckRange(1, 5)], 7)),
            Write(new StreamFrame(4, 100, new byte[] { 9, 9 }, true)),
            Write(new MaxDataFrame(1 << 20)),
            Write(new DatagramFrame(new byte[] { 7 }, true)),
            Write(new PaddingFrame(10)),
        };
        var payload = frames.SelectMany(f => f).ToArray();
        var handler = new CollectingHandler();
        Assert.True(FrameDecoder.TryDecode(payload, QuicPacketType.OneRtt, ref handler, out bool ackEliciting, out var error), error.ToString());
        Assert.True(ackEliciting);
        Assert.Equal([typeof(PingFrame), typeof(AckFrame), typeof(StreamFrame), typeof(MaxDataFrame), typeof(DatagramFrame), typeof(PaddingFrame)],
            handler.Frames.Select(f => f.GetType()).ToArray());
        Assert.Equal(10, ((PaddingFrame)handler.Frames[5]).Length);
    }

    [Fact]
    public void AckOnlyPayloadIsNotAckEliciting()
    {
        var payload = Write(AckFrame.Create([new AckRange(0, 3)], 0)).Concat(new byte[5]).ToArray();
        var handler = new CountingHandler();
        Assert.True(FrameDecoder.TryDecode(payload, QuicPacketType.Handshake, ref handler, out bool ackEliciting, out _));
        Assert.False(ackEliciting);
        Assert.Equal(2, handler.Count);
    }

    internal static byte[] Write<T>(T frame) where T : struct, IQuicFrame<T>
    {
        var bytes = new byte[frame.EncodedLength];
        frame.Write(bytes);
        return bytes;
    }
}
