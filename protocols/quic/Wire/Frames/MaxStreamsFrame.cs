namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>
/// MAX_STREAMS (RFC 9000 §19.11), 0x12 bidirectional / 0x13 unidirectional. A count above 2^60 cannot correspond to
/// an encodable stream id and is a FRAME_ENCODING_ERROR.
/// </summary>
public readonly record struct MaxStreamsFrame(bool Bidirectional, ulong MaximumStreams) : IQuicFrame<MaxStreamsFrame>
{
    public const ulong Limit = 1UL << 60;

    public ulong Type => Bidirectional ? FrameType.MaxStreamsBidi : FrameType.MaxStreamsUni;
    public int EncodedLength => 1 + FrameErrors.VarintLength(MaximumStreams);

    public static bool TryRead(ref QuicReader reader, ulong frameType, out MaxStreamsFrame frame, out QuicError error)
    {
        if (!reader.TryReadVarint(out ulong max)) return FrameErrors.Truncated(frameType, out frame, out error);
        if (max > Limit) return FrameErrors.Fail(QuicError.FrameEncoding(frameType, "MAX_STREAMS above 2^60"), out frame, out error);
        return FrameErrors.Ok(new MaxStreamsFrame(frameType == FrameType.MaxStreamsBidi, max), out frame, out error);
    }

    public int Write(Span<byte> destination)
    {
        var w = new QuicWriter(destination);
        w.WriteVarint(Type);
        w.WriteVarint(MaximumStreams);
        return w.Position;
    }
}
