namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>DATA_BLOCKED (RFC 9000 §19.12): the sender is blocked by the connection flow control limit.</summary>
public readonly record struct DataBlockedFrame(ulong MaximumData) : IQuicFrame<DataBlockedFrame>
{
    public ulong Type => FrameType.DataBlocked;
    public int EncodedLength => 1 + FrameErrors.VarintLength(MaximumData);

    public static bool TryRead(ref QuicReader reader, ulong frameType, out DataBlockedFrame frame, out QuicError error) =>
        reader.TryReadVarint(out ulong max)
            ? FrameErrors.Ok(new DataBlockedFrame(max), out frame, out error)
            : FrameErrors.Truncated(frameType, out frame, out error);

    public int Write(Span<byte> destination)
    {
        var w = new QuicWriter(destination);
        w.WriteVarint(Type);
        w.WriteVarint(MaximumData);
        return w.Position;
    }
}
