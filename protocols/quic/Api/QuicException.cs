namespace FastRelay.Protocols.Quic.Api;

public enum QuicErrorKind
{
    /// <summary>The peer (or we) closed the connection with an application error code.</summary>
    ConnectionAborted,
    /// <summary>The peer aborted the stream (RESET_STREAM / STOP_SENDING) with an application error code.</summary>
    StreamAborted,
    /// <summary>A transport error closed the connection (see <see cref="QuicException.TransportError"/>).</summary>
    TransportError,
    ConnectionTimeout,
    ConnectionIdle,
    HandshakeFailed,
    OperationAborted,
    StreamLimitReached,
}

/// <summary>What a failed QUIC operation reports: the kind, and the wire error code where there is one.</summary>
public sealed class QuicException(QuicErrorKind kind, string message, long? applicationErrorCode = null, ulong? transportError = null)
    : IOException(message)
{
    public QuicErrorKind Kind { get; } = kind;
    /// <summary>A handshake the server refused with Version Negotiation: the versions it listed.</summary>
    public IReadOnlyList<uint>? ServerVersions { get; init; }
    public long? ApplicationErrorCode { get; } = applicationErrorCode;
    public ulong? TransportError { get; } = transportError;
}
