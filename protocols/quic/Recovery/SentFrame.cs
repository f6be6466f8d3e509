namespace FastRelay.Protocols.Quic.Recovery;

/// <summary>
/// What a sent packet carried that may need action when the packet is acknowledged or declared lost: enough to resend
/// the information (not the bytes) — RFC 9000 §13.3 retransmits information, not packets. <see cref="FrameType"/> is
/// the wire type (Wire/Frames/FrameType.cs) with STREAM's flag bits cleared; the other fields mean what the frame
/// needs: STREAM/CRYPTO use <see cref="StreamId"/> (CRYPTO: the encryption level), <see cref="Offset"/>,
/// <see cref="Length"/> and <see cref="Fin"/>; MAX_* / *_BLOCKED / RESET_STREAM / STOP_SENDING / NEW_CONNECTION_ID /
/// RETIRE_CONNECTION_ID put their single value (limit, error code, sequence number) in <see cref="Value"/>.
/// </summary>
public readonly record struct SentFrame(ulong FrameType, ulong StreamId = 0, ulong Offset = 0, ulong Length = 0, bool Fin = false, ulong Value = 0);
