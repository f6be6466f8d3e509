namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>
/// CRYPTO (RFC 9000 §19.6): TLS handshake bytes at an offset of the per-epoch crypto stream. Offset + length above
/// 2^62-1 is a FRAME_ENCODING_ERROR; <see cref="Data"/> is a slice of the decrypted payload.
/// </summary>
public readonly record struct CryptoFrame(ulong Offset, ReadOnlyMemory<byte> Data) : IQuicFrame<CryptoFrame>
{
    public ulong Type => FrameType.Crypto;
    public int EncodedLength => 1 + FrameErrors.VarintLength(Offset) + FrameErrors.VarintLength((ulong)Data.Length) + Data.Length;

    /// <summary>The overhead of a CRYPTO frame carrying <paramref name="dataLength"/> bytes at <paramref name="offset"/>.</summary>
    public static int GetOverhead(ulong offset, int dataLength) => 1 + FrameErrors.VarintLength(offset) + FrameErrors.VarintLength((ulong)dataLength);

    public static bool TryRead(ref QuicReader reader, ulong frameType, out CryptoFrame frame, out QuicError error)
    {
        if (!reader.TryReadVarint(out ulong offset) || !reader.TryReadVarint(out ulong length))
            return FrameErrors.Truncated(frameType, out frame, out error);
        if (!reader.TryReadBytes(length, out var data))
            return FrameErrors.Truncated(frameType, out frame, out error);
        if (offset + length > QuicVarint.MaxValue)
            return FrameErrors.Fail(QuicError.FrameEncoding(frameType, "CRYPTO frame ends beyond 2^62-1"), out frame, out error);
        return FrameErrors.Ok(new CryptoFrame(offset, data), out frame, out error);
    }

    public int Write(Span<byte> destination)
    {
        var w = new QuicWriter(destination);
        w.WriteVarint(Type);
        w.WriteVarint(Offset);
        w.WriteVarintPrefixedBytes(Data.Span);
        return w.Position;
    }
}
