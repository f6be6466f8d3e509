namespace FastRelay.Protocols.Quic.Http3;

/// <summary>HTTP/3 application error codes (RFC 9114 §8.1) and the QPACK ones (RFC 9204 §6). Used both as
/// CONNECTION_CLOSE (0x1d) codes and as stream abort codes.</summary>
public enum Http3ErrorCode : long
{
    NoError = 0x100,
    GeneralProtocolError = 0x101,
    InternalError = 0x102,
    StreamCreationError = 0x103,
    ClosedCriticalStream = 0x104,
    FrameUnexpected = 0x105,
    FrameError = 0x106,
    ExcessiveLoad = 0x107,
    IdError = 0x108,
    SettingsError = 0x109,
    MissingSettings = 0x10a,
    RequestRejected = 0x10b,
    RequestCancelled = 0x10c,
    RequestIncomplete = 0x10d,
    MessageError = 0x10e,
    ConnectError = 0x10f,
    VersionFallback = 0x110,
    QpackDecompressionFailed = 0x200,
    QpackEncoderStreamError = 0x201,
    QpackDecoderStreamError = 0x202,
}

/// <summary>The outcome of an HTTP/3 or QPACK parser: <see cref="None"/> on success, otherwise the error code the
/// stream or connection is aborted with. <see cref="Reason"/> is a string literal, so failing never allocates.</summary>
public readonly record struct Http3Error(Http3ErrorCode Code, string? Reason)
{
    public static Http3Error None => default;

    public bool IsNone => Reason is null;

    public override string ToString() => IsNone ? "none" : $"{Code} (0x{(long)Code:x}): {Reason}";
}

/// <summary>Raised by the client/server (never by parsers) when a stream or the connection fails with an HTTP/3 error.</summary>
public sealed class Http3Exception(Http3ErrorCode code, string message, Exception? inner = null) : IOException(message, inner)
{
    public Http3ErrorCode Code { get; } = code;

    public Http3Exception(Http3Error error) : this(error.Code, error.ToString())
    {
    }
}
