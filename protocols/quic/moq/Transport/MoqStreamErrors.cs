using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Http3.WebTransport;

namespace FastRelay.Protocols.Moq.Transport;

/// <summary>Reads the peer's stream error code (RESET_STREAM) out of a failed read, whichever transport it came from.</summary>
public static class MoqStreamErrors
{
    /// <summary>The application code of the peer's RESET_STREAM, or null when the read failed for another reason.</summary>
    public static ulong? PeerResetCode(Exception e) => e switch
    {
        QuicException { Kind: QuicErrorKind.StreamAborted, ApplicationErrorCode: { } code } => (ulong)code,
        WebTransportException { Kind: WebTransportErrorKind.StreamAborted, ApplicationErrorCode: { } code } => code,
        _ => null,
    };
}
