namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>RETIRE_CONNECTION_ID (RFC 9000 §19.16).</summary>
public readonly record struct RetireConnectionIdFrame(ulong SequenceNumber) : IQuicFrame<RetireConnectionIdFrame>
{
    public ulong Type => FrameType.RetireConnectionId;
    public int EncodedLength => 1 + FrameErrors.VarintLength(SequenceNumber);

    public static bool TryRead(ref QuicReader reader, ulong frameType, out RetireConnectionIdFrame frame, out QuicError error) =>
        reader.TryReadVarint(out ulong sequence)
            ? FrameErrors.Ok(new RetireConnectionIdFrame(sequence), out frame, out error)
            : FrameErrors.Truncated(frameType, out frame, out error);

    public int Write(Span<byte> destination)
    {
        var w = new QuicWriter(destination);
        w.WriteVarint(Type);
        w.WriteVarint(SequenceNumber);
        return w.Position;
    }
}
