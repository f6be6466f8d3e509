namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>HANDSHAKE_DONE (RFC 9000 §19.20): sent by the server only; a server receiving it closes with PROTOCOL_VIOLATION.</summary>
public readonly record struct HandshakeDoneFrame : IQuicFrame<HandshakeDoneFrame>
{
    public ulong Type => FrameType.HandshakeDone;
    public int EncodedLength => 1;

    public static bool TryRead(ref QuicReader reader, ulong frameType, out HandshakeDoneFrame frame, out QuicError error) =>
        FrameErrors.Ok(default(HandshakeDoneFrame), out frame, out error);

    public int Write(Span<byte> destination)
    {
        destination[0] = (byte)FrameType.HandshakeDone;
        return 1;
    }
}
