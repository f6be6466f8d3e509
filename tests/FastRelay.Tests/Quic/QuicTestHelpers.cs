using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;

namespace FastRelay.Tests.Quic;

internal static class Hex
{
    public static byte[] Parse(string hex) =>
        Convert.FromHexString(string.Concat(hex.Where(c => !char.IsWhiteSpace(c))));

    public static string Of(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes).ToLowerInvariant();
}

/// <summary>Collects decoded frames (boxed: a test convenience, not the production pattern).</summary>
internal sealed class CollectingHandler : IQuicFrameHandler
{
    public List<object> Frames { get; } = new();

    private QuicError Add(object frame)
    {
        Frames.Add(frame);
        return default;
    }

    public QuicError OnPadding(in PaddingFrame frame) => Add(frame);
    public QuicError OnPing(in PingFrame frame) => Add(frame);
    public QuicError OnAck(in AckFrame frame) => Add(frame);
    public QuicError OnResetStream(in ResetStreamFrame frame) => Add(frame);
    public QuicError OnStopSending(in StopSendingFrame frame) => Add(frame);
    public QuicError OnCrypto(in CryptoFrame frame) => Add(frame);
    public QuicError OnNewToken(in NewTokenFrame frame) => Add(frame);
    public QuicError OnStream(in StreamFrame frame) => Add(frame);
    public QuicError OnMaxData(in MaxDataFrame frame) => Add(frame);
    public QuicError OnMaxStreamData(in MaxStreamDataFrame frame) => Add(frame);
    public QuicError OnMaxStreams(in MaxStreamsFrame frame) => Add(frame);
    public QuicError OnDataBlocked(in DataBlockedFrame frame) => Add(frame);
    public QuicError OnStreamDataBlocked(in StreamDataBlockedFrame frame) => Add(frame);
    public QuicError OnStreamsBlocked(in StreamsBlockedFrame frame) => Add(frame);
    public QuicError OnNewConnectionId(in NewConnectionIdFrame frame) => Add(frame);
    public QuicError OnRetireConnectionId(in RetireConnectionIdFrame frame) => Add(frame);
    public QuicError OnPathChallenge(in PathChallengeFrame frame) => Add(frame);
    public QuicError OnPathResponse(in PathResponseFrame frame) => Add(frame);
    public QuicError OnConnectionClose(in ConnectionCloseFrame frame) => Add(frame);
    public QuicError OnHandshakeDone(in HandshakeDoneFrame frame) => Add(frame);
    public QuicError OnDatagram(in DatagramFrame frame) => Add(frame);
    public QuicError OnAckFrequency(in AckFrequencyFrame frame) => Add(frame);
    public QuicError OnImmediateAck(in ImmediateAckFrame frame) => Add(frame);
}

/// <summary>A struct handler that only counts: decoding through it must not allocate.</summary>
internal struct CountingHandler : IQuicFrameHandler
{
    public int Count;
    public long StreamBytes;

    public QuicError OnPadding(in PaddingFrame frame) { Count++; return default; }
    public QuicError OnPing(in PingFrame frame) { Count++; return default; }
    public QuicError OnAck(in AckFrame frame)
    {
        Count++;
        foreach (var range in frame.GetRanges()) StreamBytes += (long)(range.Count & 0xff);
        return default;
    }
    public QuicError OnResetStream(in ResetStreamFrame frame) { Count++; return default; }
    public QuicError OnStopSending(in StopSendingFrame frame) { Count++; return default; }
    public QuicError OnCrypto(in CryptoFrame frame) { Count++; return default; }
    public QuicError OnNewToken(in NewTokenFrame frame) { Count++; return default; }
    public QuicError OnStream(in StreamFrame frame) { Count++; StreamBytes += frame.Data.Length; return default; }
    public QuicError OnMaxData(in MaxDataFrame frame) { Count++; return default; }
    public QuicError OnMaxStreamData(in MaxStreamDataFrame frame) { Count++; return default; }
    public QuicError OnMaxStreams(in MaxStreamsFrame frame) { Count++; return default; }
    public QuicError OnDataBlocked(in DataBlockedFrame frame) { Count++; return default; }
    public QuicError OnStreamDataBlocked(in StreamDataBlockedFrame frame) { Count++; return default; }
    public QuicError OnStreamsBlocked(in StreamsBlockedFrame frame) { Count++; return default; }
    public QuicError OnNewConnectionId(in NewConnectionIdFrame frame) { Count++; return default; }
    public QuicError OnRetireConnectionId(in RetireConnectionIdFrame frame) { Count++; return default; }
    public QuicError OnPathChallenge(in PathChallengeFrame frame) { Count++; return default; }
    public QuicError OnPathResponse(in PathResponseFrame frame) { Count++; return default; }
    public QuicError OnConnectionClose(in ConnectionCloseFrame frame) { Count++; return default; }
    public QuicError OnHandshakeDone(in HandshakeDoneFrame frame) { Count++; return default; }
    public QuicError OnDatagram(in DatagramFrame frame) { Count++; return default; }
    public QuicError OnAckFrequency(in AckFrequencyFrame frame) { Count++; return default; }
    public QuicError OnImmediateAck(in ImmediateAckFrame frame) { Count++; return default; }
}

internal static class RandomValues
{
    /// <summary>A varint value from a random size class, so every encoding length is exercised.</summary>
    public static ulong Varint(Random random) => random.Next(4) switch
    {
        0 => (ulong)random.Next(64),
        1 => (ulong)random.Next(16384),
        2 => (ulong)random.NextInt64(1L << 30),
        _ => (ulong)random.NextInt64(1L << 62),
    };

    public static byte[] Bytes(Random random, int maxLength)
    {
        var bytes = new byte[random.Next(maxLength + 1)];
        random.NextBytes(bytes);
        return bytes;
    }
}

internal static class AckFrameExtensions
{
    public static List<AckRange> RangeList(this AckFrame frame)
    {
        var list = new List<AckRange>();
        foreach (var range in frame.GetRanges()) list.Add(range);
        return list;
    }
}
