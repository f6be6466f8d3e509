namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>PATH_CHALLENGE (RFC 9000 §19.17): 8 bytes of entropy, kept as a big-endian ulong.</summary>
public readonly record struct PathChallengeFrame(ulong Data) : IQuicFrame<PathChallengeFrame>
{
    public ulong Type => FrameType.PathChallenge;
    public int EncodedLength => 9;

    public static bool TryRead(ref QuicReader reader, ulong frameType, out PathChallengeFrame frame, out QuicError error) =>
        reader.TryReadUInt64(out ulong data)
            ? FrameErrors.Ok(new PathChallengeFrame(data), out frame, out error)
            : FrameErrors.Truncated(frameType, out frame, out error);

    public int Write(Span<byte> destination)
    {
        var w = new QuicWriter(destination);
        w.WriteVarint(Type);
        w.WriteUInt64(Data);
        return w.Position;
    }
}
