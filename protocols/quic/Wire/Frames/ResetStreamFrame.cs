namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>RESET_STREAM (RFC 9000 §19.4): abruptly terminates the sending part of a stream.</summary>
public readonly record struct ResetStreamFrame(ulong StreamId, ulong ApplicationErrorCode, ulong FinalSize) : IQuicFrame<ResetStreamFrame>
{
    public ulong Type => FrameType.ResetStream;
    public int EncodedLength => 1 + FrameErrors.VarintLength(StreamId) + FrameErrors.VarintLength(ApplicationErrorCode) + FrameErrors.VarintLength(FinalSize);

    public static bool TryRead(ref QuicReader reader, ulong frameType, out ResetStreamFrame frame, out QuicError error)
    {
        if (!reader.TryReadVarint(out ulong id) || !reader.TryReadVarint(out ulong code) || !reader.TryReadVarint(out ulong size))
            return FrameErrors.Truncated(frameType, out frame, out error);
        return FrameErrors.Ok(new ResetStreamFrame(id, code, size), out frame, out error);
    }

    public int Write(Span<byte> destination)
    {
        var w = new QuicWriter(destination);
        w.WriteVarint(Type);
        w.WriteVarint(StreamId);
        w.WriteVarint(ApplicationErrorCode);
        w.WriteVarint(FinalSize);
        return w.Position;
    }
}
