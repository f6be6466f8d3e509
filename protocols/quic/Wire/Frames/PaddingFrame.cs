namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>A run of PADDING frames (RFC 9000 §19.1), each a single 0x00 byte; read as one value.</summary>
public readonly record struct PaddingFrame(int Length) : IQuicFrame<PaddingFrame>
{
    public ulong Type => FrameType.Padding;
    public int EncodedLength => Length;

    /// <summary>Consumes the type byte already read plus every following 0x00.</summary>
    public static bool TryRead(ref QuicReader reader, ulong frameType, out PaddingFrame frame, out QuicError error)
    {
        var rest = reader.RemainingSpan;
        int zeros = rest.IndexOfAnyExcept((byte)0);
        if (zeros < 0) zeros = rest.Length;
        reader.TrySkip(zeros);
        return FrameErrors.Ok(new PaddingFrame(zeros + 1), out frame, out error);
    }

    public int Write(Span<byte> destination)
    {
        if (Length < 1) throw new InvalidOperationException("padding of at least one byte");
        destination[..Length].Clear();
        return Length;
    }
}
