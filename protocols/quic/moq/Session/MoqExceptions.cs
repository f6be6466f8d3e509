using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Messages;

namespace FastRelay.Protocols.Moq.Session;

/// <summary>A request the peer refused with REQUEST_ERROR (or abandoned).</summary>
public sealed class MoqRequestException(MoqRequestError error)
    : Exception($"request failed: {(MoqRequestErrorCode)error.ErrorCode} (0x{error.ErrorCode:x}) {error.Reason}")
{
    public MoqRequestError Error { get; } = error;
    public MoqRequestErrorCode Code => (MoqRequestErrorCode)Error.ErrorCode;
}

/// <summary>The session ended; <see cref="Error"/> is the termination code (ours or the peer's).</summary>
public sealed class MoqSessionClosedException(MoqError error) : Exception($"MoQ session closed: {error}")
{
    public MoqError Error { get; } = error;
}

/// <summary>Internal: the peer broke the protocol; the session closes with <see cref="Error"/>.</summary>
internal sealed class MoqProtocolException(MoqError error) : Exception(error.ToString())
{
    public MoqError Error { get; } = error;
}
