namespace FastRelay.Protocols.Quic;

/// <summary>QUIC transport error codes (RFC 9000 §20.1). CRYPTO_ERROR is the range 0x0100-0x01ff (TLS alert + 0x100).</summary>
public enum QuicTransportError : ulong
{
    NoError = 0x00,
    InternalError = 0x01,
    ConnectionRefused = 0x02,
    FlowControlError = 0x03,
    StreamLimitError = 0x04,
    StreamStateError = 0x05,
    FinalSizeError = 0x06,
    FrameEncodingError = 0x07,
    TransportParameterError = 0x08,
    ConnectionIdLimitError = 0x09,
    ProtocolViolation = 0x0a,
    InvalidToken = 0x0b,
    ApplicationError = 0x0c,
    CryptoBufferExceeded = 0x0d,
    KeyUpdateError = 0x0e,
    AeadLimitReached = 0x0f,
    NoViablePath = 0x10,
    /// <summary>RFC 9368 §10.2: version negotiation was tampered with, or the peer's version_information contradicts the wire.</summary>
    VersionNegotiationError = 0x11,
    CryptoErrorBase = 0x0100,
}

/// <summary>
/// The outcome of a parser: <see cref="None"/> on success, otherwise the transport error code a connection closes
/// with (CONNECTION_CLOSE 0x1c carrying <see cref="FrameType"/>). <see cref="Reason"/> is always a string literal,
/// so building an error never allocates. Packet-level errors (bad header, failed decryption) use
/// <see cref="Discard"/>: such packets are dropped silently (RFC 9000 §5.2, §12.2), not answered with a close.
/// </summary>
public readonly record struct QuicError(QuicTransportError Code, string? Reason, ulong FrameType = 0, bool Discard = false)
{
    public static QuicError None => default;

    public bool IsNone => Reason is null && Code == QuicTransportError.NoError;

    public static QuicError FrameEncoding(ulong frameType, string reason) => new(QuicTransportError.FrameEncodingError, reason, frameType);

    public static QuicError TransportParameter(string reason) => new(QuicTransportError.TransportParameterError, reason);

    public static QuicError Protocol(string reason, ulong frameType = 0) => new(QuicTransportError.ProtocolViolation, reason, frameType);

    public static QuicError VersionNegotiation(string reason) => new(QuicTransportError.VersionNegotiationError, reason);

    /// <summary>A packet that must be discarded without affecting the connection.</summary>
    public static QuicError DropPacket(string reason) => new(QuicTransportError.NoError, reason, 0, Discard: true);

    /// <summary>CRYPTO_ERROR for a TLS alert (RFC 9001 §4.8).</summary>
    public static QuicError Crypto(byte tlsAlert, string reason) => new((QuicTransportError)(0x100ul + tlsAlert), reason);

    public override string ToString() => IsNone ? "ok" : $"{Code} (0x{(ulong)Code:x}){(FrameType != 0 ? $" frame 0x{FrameType:x}" : "")}: {Reason}{(Discard ? " [discard]" : "")}";
}
