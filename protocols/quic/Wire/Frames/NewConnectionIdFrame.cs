using System.Buffers.Binary;

namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>
/// NEW_CONNECTION_ID (RFC 9000 §19.15). A length outside 1..20 or Retire Prior To greater than the sequence number is
/// a FRAME_ENCODING_ERROR. The stateless reset token is kept as a big-endian <see cref="UInt128"/> (no allocation).
/// </summary>
public readonly record struct NewConnectionIdFrame(ulong SequenceNumber, ulong RetirePriorTo, ConnectionId ConnectionId, UInt128 StatelessResetToken)
    : IQuicFrame<NewConnectionIdFrame>
{
    public ulong Type => FrameType.NewConnectionId;
    public int EncodedLength => 1 + FrameErrors.VarintLength(SequenceNumber) + FrameErrors.VarintLength(RetirePriorTo) + 1 + ConnectionId.Length + 16;

    public static bool TryRead(ref QuicReader reader, ulong frameType, out NewConnectionIdFrame frame, out QuicError error)
    {
        if (!reader.TryReadVarint(out ulong sequence) || !reader.TryReadVarint(out ulong retirePriorTo) || !reader.TryReadByte(out byte length))
            return FrameErrors.Truncated(frameType, out frame, out error);
        if (length is < 1 or > ConnectionId.MaxLength)
            return FrameErrors.Fail(QuicError.FrameEncoding(frameType, "NEW_CONNECTION_ID length outside 1..20"), out frame, out error);
        if (!reader.TryReadBytes(length, out var id) || reader.Remaining < 16)
            return FrameErrors.Truncated(frameType, out frame, out error);
        var token = BinaryPrimitives.ReadUInt128BigEndian(reader.RemainingSpan);
        reader.TrySkip(16);
        if (retirePriorTo > sequence)
            return FrameErrors.Fail(QuicError.FrameEncoding(frameType, "Retire Prior To greater than Sequence Number"), out frame, out error);
        return FrameErrors.Ok(new NewConnectionIdFrame(sequence, retirePriorTo, new ConnectionId(id.Span), token), out frame, out error);
    }

    public int Write(Span<byte> destination)
    {
        if (ConnectionId.Length < 1) throw new InvalidOperationException("NEW_CONNECTION_ID needs a non-empty connection id");
        var w = new QuicWriter(destination);
        w.WriteVarint(Type);
        w.WriteVarint(SequenceNumber);
        w.WriteVarint(RetirePriorTo);
        var id = ConnectionId;
        w.WriteByte((byte)id.Length);
        w.WriteBytes(id.Span);
        BinaryPrimitives.WriteUInt128BigEndian(w.Reserve(16), StatelessResetToken);
        return w.Position;
    }
}
