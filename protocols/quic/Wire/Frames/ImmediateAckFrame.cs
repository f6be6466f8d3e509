namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>
/// IMMEDIATE_ACK (draft-ietf-quic-ack-frequency-12 §5), type 0x1f: no content, ack-eliciting; the receiver SHOULD send
/// an ACK at once. Never retransmitted (§5): a lost one only asked for an ACK that later packets elicit anyway.
/// </summary>
public readonly record struct ImmediateAckFrame : IQuicFrame<ImmediateAckFrame>
{
    public ulong Type => FrameType.ImmediateAck;
    public int EncodedLength => 1;

    public static bool TryRead(ref QuicReader reader, ulong frameType, out ImmediateAckFrame frame, out QuicError error) =>
        FrameErrors.Ok(default(ImmediateAckFrame), out frame, out error);

    public int Write(Span<byte> destination)
    {
        destination[0] = (byte)FrameType.ImmediateAck;
        return 1;
    }
}
