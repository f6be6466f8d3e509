namespace FastRelay.Protocols.Quic.Api;

/// <summary>
/// Flow-control credit of one send stream and its connection, for the kernel fast path: the kernel may forward stream
/// data ending at most at <see cref="StreamLimit"/>, and at most <see cref="ConnectionRemaining"/> new bytes on the
/// connection. Highest offsets count, as in RFC 9000 §4.1 (bytes the kernel already sent are included once registered).
/// </summary>
public readonly record struct FastPathCredit(ulong StreamLimit, ulong StreamHighestSent, ulong ConnectionLimit, ulong ConnectionSent)
{
    public ulong StreamRemaining => StreamLimit > StreamHighestSent ? StreamLimit - StreamHighestSent : 0;
    public ulong ConnectionRemaining => ConnectionLimit > ConnectionSent ? ConnectionLimit - ConnectionSent : 0;
}
