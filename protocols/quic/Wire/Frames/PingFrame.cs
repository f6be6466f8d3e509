namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>PING (RFC 9000 §19.2): no content, ack-eliciting.</summary>
public readonly record struct PingFrame : IQuicFrame<PingFrame>
{
    public ulong Type => FrameType.Ping;
    public int EncodedLength => 1;

    public static bool TryRead(ref QuicReader reader, ulong frameType, out PingFrame frame, out QuicError error) =>
        FrameErrors.Ok(default(PingFrame), out frame, out error);

    public int Write(Span<byte> destination)
    {
        destination[0] = (byte)FrameType.Ping;
        return 1;
    }
}
