namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>MAX_DATA (RFC 9000 §19.9): connection-level flow control limit.</summary>
public readonly record struct MaxDataFrame(ulong MaximumData) : IQuicFrame<MaxDataFrame>
{
    public ulong Type => FrameType.MaxData;
    public int EncodedLength => 1 + FrameErrors.VarintLength(MaximumData);

    public static bool TryRead(ref QuicReader reader, ulong frameType, out MaxDataFrame frame, out QuicError error) =>
        reader.TryReadVarint(out ulong max)
            ? FrameErrors.Ok(new MaxDataFrame(max), out frame, out error)
            : FrameErrors.Truncated(frameType, out frame, out error);

    public int Write(Span<byte> destination)
    {
        var w = new QuicWriter(destination);
        w.WriteVarint(Type);
        w.WriteVarint(MaximumData);
        return w.Position;
    }
}
