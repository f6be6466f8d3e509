namespace FastRelay.Protocols.Quic.Http3.WebTransport;

public enum WebTransportErrorKind
{
    /// <summary>The session ended (closed by either side, or its connection went away).</summary>
    SessionClosed,
    /// <summary>The peer reset the stream or asked us to stop sending on it.</summary>
    StreamAborted,
    /// <summary>The server refused the CONNECT request (status code in <see cref="WebTransportException.StatusCode"/>).</summary>
    SessionRefused,
    /// <summary>The server does not offer WebTransport, or broke the protocol while establishing the session.</summary>
    ProtocolError,
}

/// <summary>What a failed WebTransport operation reports. Stream aborts carry the peer's 32-bit application code when
/// the wire code was in the WebTransport application range (otherwise <see cref="ApplicationErrorCode"/> is null, and
/// <see cref="Http3ErrorCode"/> holds the raw HTTP/3 code, e.g. WT_SESSION_GONE).</summary>
public sealed class WebTransportException(WebTransportErrorKind kind, string message, uint? applicationErrorCode = null, long? http3ErrorCode = null,
    int? statusCode = null, Exception? inner = null) : IOException(message, inner)
{
    public WebTransportErrorKind Kind { get; } = kind;
    public uint? ApplicationErrorCode { get; } = applicationErrorCode;
    public long? Http3ErrorCode { get; } = http3ErrorCode;
    public int? StatusCode { get; } = statusCode;
}

/// <summary>How a session ended: the 32-bit code and message of WT_CLOSE_SESSION (0 and "" for a plain FIN),
/// whether the peer ended it, and whether it ended abruptly (CONNECT stream reset or connection lost).</summary>
public readonly record struct WebTransportCloseInfo(uint ErrorCode, string Reason, bool ByPeer, bool Abrupt = false)
{
    public override string ToString() =>
        $"{(ByPeer ? "peer" : "local")}{(Abrupt ? " abrupt" : "")} close {ErrorCode}{(Reason.Length > 0 ? ": " + Reason : "")}";
}
