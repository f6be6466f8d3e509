namespace FastRelay.Protocols.Moq.Wire;

/// <summary>
/// The outcome of a MoQ parser: <see cref="None"/> on success, otherwise the session termination code the draft asks
/// for and a reason. Reasons are string literals, so an error never allocates. Parsers return this; they never throw
/// on peer input.
/// </summary>
public readonly record struct MoqError(MoqSessionError Code, string? Reason)
{
    public static MoqError None => default;

    public bool IsNone => Reason is null && Code == MoqSessionError.NoError;

    public static MoqError Protocol(string reason) => new(MoqSessionError.ProtocolViolation, reason);

    public static MoqError KeyValueFormat(string reason) => new(MoqSessionError.KeyValueFormattingError, reason);

    public override string ToString() => IsNone ? "ok" : $"{Code} (0x{(ulong)Code:x}): {Reason}";
}

/// <summary>Result of an incremental parse over bytes that may still be arriving.</summary>
public enum MoqParseStatus
{
    /// <summary>A value was parsed.</summary>
    Complete,
    /// <summary>The bytes so far are a valid prefix; wait for more (the parser says how many at least).</summary>
    NeedMoreData,
    /// <summary>The bytes can never become valid; the error says what to close the session with.</summary>
    Malformed,
    /// <summary>Valid so far, but a length is over a local limit: abandon the stream (STOP_SENDING), not the session.</summary>
    TooLarge,
}
