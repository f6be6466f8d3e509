namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>STREAM_DATA_BLOCKED (RFC 9000 §19.13): the sender is blocked by a stream's flow control limit.</summary>
public readonly record struct StreamDataBlockedFrame(ulong StreamId, ulong MaximumStreamData) : IQuicFrame<StreamDataBlockedFrame>
{
    public ulong Type => FrameType.StreamDataBlocked;
    public int EncodedLength => 1 + FrameErrors.VarintLength(StreamId) + FrameErrors.VarintLength(MaximumStreamData);

    public static bool TryRead(ref QuicReader reader, ulong frameType, out StreamDataBlockedFrame frame, out QuicError error)
    {
        if (!reader.TryReadVarint(out ulong id) || !reader.TryReadVarint(out ulong max))
            return FrameErrors.Truncated(frameType, out frame, out error);
        return FrameErrors.Ok(new StreamDataBlockedFrame(id, max), out frame, out error);
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
