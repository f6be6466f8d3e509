namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>MAX_STREAM_DATA (RFC 9000 §19.10): stream-level flow control limit.</summary>
public readonly record struct MaxStreamDataFrame(ulong StreamId, ulong MaximumStreamData) : IQuicFrame<MaxStreamDataFrame>
{
    public ulong Type => FrameType.MaxStreamData;
    public int EncodedLength => 1 + FrameErrors.VarintLength(StreamId) + FrameErrors.VarintLength(MaximumStreamData);

    public static bool TryRead(ref QuicReader reader, ulong frameType, out MaxStreamDataFrame frame, out QuicError error)
    {
        if (!reader.TryReadVarint(out ulong id) || !reader.TryReadVarint(out ulong max))
            return FrameErrors.Truncated(frameType, out frame, out error);
        return FrameErrors.Ok(new MaxStreamDataFrame(id, max), out frame, out error);
    }

    public int Write(Span<byte> destination)
    {
        var w = new QuicWriter(destination);
        w.WriteVarint(Type);
        w.WriteVarint(StreamId);
        w.WriteVarint(MaximumStreamData);
        return w.Position;
    }
}
