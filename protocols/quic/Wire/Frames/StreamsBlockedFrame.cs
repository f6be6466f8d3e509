namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>STREAMS_BLOCKED (RFC 9000 §19.14), 0x16 bidirectional / 0x17 unidirectional; counts above 2^60 are invalid.</summary>
public readonly record struct StreamsBlockedFrame(bool Bidirectional, ulong MaximumStreams) : IQuicFrame<StreamsBlockedFrame>
{
    public ulong Type => Bidirectional ? FrameType.StreamsBlockedBidi : FrameType.StreamsBlockedUni;
    public int EncodedLength => 1 + FrameErrors.VarintLength(MaximumStreams);

    public static bool TryRead(ref QuicReader reader, ulong frameType, out StreamsBlockedFrame frame, out QuicError error)
    {
        if (!reader.TryReadVarint(out ulong max)) return FrameErrors.Truncated(frameType, out frame, out error);
        if (max > MaxStreamsFrame.Limit) return FrameErrors.Fail(QuicError.FrameEncoding(frameType, "STREAMS_BLOCKED above 2^60"), out frame, out error);
        return FrameErrors.Ok(new StreamsBlockedFrame(frameType == FrameType.StreamsBlockedBidi, max), out frame, out error);
    }

    public int Write(Span<byte> destination)
    {
        var w = new QuicWriter(destination);
        w.WriteVarint(Type);
        w.WriteVarint(MaximumStreams);
        return w.Position;
    }
}
