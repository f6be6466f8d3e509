namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>
/// STREAM (RFC 9000 §19.8), types 0x08..0x0f: OFF (0x04) present when <see cref="Offset"/> is non-zero, LEN (0x02)
/// when <see cref="HasLength"/> (otherwise the data runs to the end of the packet), FIN (0x01).
/// <para>Fast path: <see cref="StreamIdLength"/> forces the stream id varint to a fixed size (8 in QuicMoqHeader) so a
/// kernel program finds and rewrites it at a fixed offset; together with <c>HasLength = false</c> a packet carries
/// exactly one STREAM frame. 0 means the shortest encoding.</para>
/// Offset + length above 2^62-1 is a FRAME_ENCODING_ERROR. <see cref="Data"/> is a slice of the decrypted payload.
/// </summary>
public readonly record struct StreamFrame(ulong StreamId, ulong Offset, ReadOnlyMemory<byte> Data, bool Fin, bool HasLength = true, int StreamIdLength = 0)
    : IQuicFrame<StreamFrame>
{
    public const byte OffBit = 0x04;
    public const byte LenBit = 0x02;
    public const byte FinBit = 0x01;

    public ulong Type => FrameType.Stream | (Offset != 0 ? OffBit : 0u) | (HasLength ? LenBit : 0u) | (Fin ? FinBit : 0u);

    public int EncodedLength => GetOverhead(StreamId, Offset, Data.Length, HasLength, StreamIdLength) + Data.Length;

    /// <summary>The end of the data in the stream (offset + length).</summary>
    public ulong End => Offset + (ulong)Data.Length;

    public static int GetOverhead(ulong streamId, ulong offset, int dataLength, bool hasLength, int streamIdLength = 0) =>
        1 + (streamIdLength != 0 ? streamIdLength : FrameErrors.VarintLength(streamId))
          + (offset != 0 ? FrameErrors.VarintLength(offset) : 0)
          + (hasLength ? FrameErrors.VarintLength((ulong)dataLength) : 0);

    public static bool TryRead(ref QuicReader reader, ulong frameType, out StreamFrame frame, out QuicError error)
    {
        int idStart = reader.Position;
        if (!reader.TryReadVarint(out ulong streamId)) return FrameErrors.Truncated(frameType, out frame, out error);
        int idLength = reader.Position - idStart;
        ulong offset = 0;
        if ((frameType & OffBit) != 0 && !reader.TryReadVarint(out offset)) return FrameErrors.Truncated(frameType, out frame, out error);
        bool hasLength = (frameType & LenBit) != 0;
        ReadOnlyMemory<byte> data;
        if (hasLength)
        {
            if (!reader.TryReadVarint(out ulong length) || !reader.TryReadBytes(length, out data))
                return FrameErrors.Truncated(frameType, out frame, out error);
        }
        else
        {
            data = reader.ReadToEnd();
        }
        if (offset + (ulong)data.Length > QuicVarint.MaxValue)
            return FrameErrors.Fail(QuicError.FrameEncoding(frameType, "STREAM frame ends beyond 2^62-1"), out frame, out error);
        bool fin = (frameType & FinBit) != 0;
        // Remember a non-minimal stream id encoding so a re-encoded frame keeps its layout.
        int forced = idLength != QuicVarint.GetLength(streamId) ? idLength : 0;
        return FrameErrors.Ok(new StreamFrame(streamId, offset, data, fin, hasLength, forced), out frame, out error);
    }

    public int Write(Span<byte> destination)
    {
        if (End > QuicVarint.MaxValue) throw new InvalidOperationException("stream offset + length exceeds 2^62-1");
        var w = new QuicWriter(destination);
        w.WriteVarint(Type);
        w.WriteVarint(StreamId, StreamIdLength);
        if (Offset != 0) w.WriteVarint(Offset);
        if (HasLength) w.WriteVarint((ulong)Data.Length);
        w.WriteBytes(Data.Span);
        return w.Position;
    }

    /// <summary>Stream id bit 0: 0 = client-initiated, 1 = server-initiated (RFC 9000 §2.1).</summary>
    public static bool IsServerInitiated(ulong streamId) => (streamId & 1) != 0;

    /// <summary>Stream id bit 1: 0 = bidirectional, 1 = unidirectional.</summary>
    public static bool IsUnidirectional(ulong streamId) => (streamId & 2) != 0;
}
