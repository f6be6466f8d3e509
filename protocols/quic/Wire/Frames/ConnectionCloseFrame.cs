namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>
/// CONNECTION_CLOSE (RFC 9000 §19.19): 0x1c carries a transport error code and the type of the frame that caused it;
/// 0x1d (<see cref="IsApplicationError"/>) carries an application error code and no frame type. The reason phrase is
/// UTF-8 by convention and not validated.
/// </summary>
public readonly record struct ConnectionCloseFrame(bool IsApplicationError, ulong ErrorCode, ulong TriggeringFrameType, ReadOnlyMemory<byte> ReasonPhrase)
    : IQuicFrame<ConnectionCloseFrame>
{
    public ulong Type => IsApplicationError ? FrameType.ConnectionCloseApplication : FrameType.ConnectionClose;

    public int EncodedLength => 1 + FrameErrors.VarintLength(ErrorCode) + (IsApplicationError ? 0 : FrameErrors.VarintLength(TriggeringFrameType))
        + FrameErrors.VarintLength((ulong)ReasonPhrase.Length) + ReasonPhrase.Length;

    /// <summary>A transport close for a parser error (reason phrase left empty: it is a literal, kept off the wire).</summary>
    public static ConnectionCloseFrame FromError(QuicError error) => new(false, (ulong)error.Code, error.FrameType, default);

    public static bool TryRead(ref QuicReader reader, ulong frameType, out ConnectionCloseFrame frame, out QuicError error)
    {
        bool application = frameType == FrameType.ConnectionCloseApplication;
        ulong triggering = 0;
        if (!reader.TryReadVarint(out ulong code) || (!application && !reader.TryReadVarint(out triggering)) ||
            !reader.TryReadVarintPrefixedBytes(out var reason))
            return FrameErrors.Truncated(frameType, out frame, out error);
        return FrameErrors.Ok(new ConnectionCloseFrame(application, code, triggering, reason), out frame, out error);
    }

    public int Write(Span<byte> destination)
    {
        var w = new QuicWriter(destination);
        w.WriteVarint(Type);
        w.WriteVarint(ErrorCode);
        if (!IsApplicationError) w.WriteVarint(TriggeringFrameType);
        w.WriteVarintPrefixedBytes(ReasonPhrase.Span);
        return w.Position;
    }
}
