namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>PATH_RESPONSE (RFC 9000 §19.18): echoes a PATH_CHALLENGE's 8 bytes.</summary>
public readonly record struct PathResponseFrame(ulong Data) : IQuicFrame<PathResponseFrame>
{
    public ulong Type => FrameType.PathResponse;
    public int EncodedLength => 9;

    public static bool TryRead(ref QuicReader reader, ulong frameType, out PathResponseFrame frame, out QuicError error) =>
        reader.TryReadUInt64(out ulong data)
            ? FrameErrors.Ok(new PathResponseFrame(data), out frame, out error)
            : FrameErrors.Truncated(frameType, out frame, out error);

    public int Write(Span<byte> destination)
    {
        var w = new QuicWriter(destination);
        w.WriteVarint(Type);
        w.WriteUInt64(Data);
        return w.Position;
    }
}
