namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>NEW_TOKEN (RFC 9000 §19.7): a token for a future Initial; an empty token is a FRAME_ENCODING_ERROR.</summary>
public readonly record struct NewTokenFrame(ReadOnlyMemory<byte> Token) : IQuicFrame<NewTokenFrame>
{
    public ulong Type => FrameType.NewToken;
    public int EncodedLength => 1 + FrameErrors.VarintLength((ulong)Token.Length) + Token.Length;

    public static bool TryRead(ref QuicReader reader, ulong frameType, out NewTokenFrame frame, out QuicError error)
    {
        if (!reader.TryReadVarintPrefixedBytes(out var token)) return FrameErrors.Truncated(frameType, out frame, out error);
        if (token.IsEmpty) return FrameErrors.Fail(QuicError.FrameEncoding(frameType, "empty NEW_TOKEN"), out frame, out error);
        return FrameErrors.Ok(new NewTokenFrame(token), out frame, out error);
    }

    public int Write(Span<byte> destination)
    {
        if (Token.IsEmpty) throw new InvalidOperationException("NEW_TOKEN must carry a token");
        var w = new QuicWriter(destination);
        w.WriteVarint(Type);
        w.WriteVarintPrefixedBytes(Token.Span);
        return w.Position;
    }
}
