namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>STOP_SENDING (RFC 9000 §19.5): asks the peer to stop sending on a stream.</summary>
public readonly record struct StopSendingFrame(ulong StreamId, ulong ApplicationErrorCode) : IQuicFrame<StopSendingFrame>
{
    public ulong Type => FrameType.StopSending;
    public int EncodedLength => 1 + FrameErrors.VarintLength(StreamId) + FrameErrors.VarintLength(ApplicationErrorCode);

    public static bool TryRead(ref QuicReader reader, ulong frameType, out StopSendingFrame frame, out QuicError error)
    {
        if (!reader.TryReadVarint(out ulong id) || !reader.TryReadVarint(out ulong code))
            return FrameErrors.Truncated(frameType, out frame, out error);
        return FrameErrors.Ok(new StopSendingFrame(id, code), out frame, out error);
    }

    public int Write(Span<byte> destination)
    {
        var w = new QuicWriter(destination);
        w.WriteVarint(Type);
        w.WriteVarint(StreamId);
        w.WriteVarint(ApplicationErrorCode);
        return w.Position;
    }
}
