namespace FastRelay.Protocols.Quic.Streams;

/// <summary>
/// Something the application should learn about a stream. Readable/Writable are edge-triggered: a stream signals
/// Readable once and again only after the application read from it; Writable once after a write was cut short by a
/// full send buffer and a quarter of it came back (SendBuffer.WritableThreshold). <see cref="ErrorCode"/> carries the application error code of PeerReset and
/// PeerStopSending. LocalOpenAvailable (StreamId 0 = bidirectional, 2 = unidirectional) follows a MAX_STREAMS raise.
/// </summary>
public readonly record struct StreamEvent(StreamEventKind Kind, ulong StreamId, ulong ErrorCode = 0);

public enum StreamEventKind
{
    /// <summary>The peer opened the stream (explicitly or implicitly by using a higher id of its type).</summary>
    PeerOpened,
    /// <summary>Data (or the end of the stream) can be read.</summary>
    Readable,
    /// <summary>Send buffer space came back after a short write.</summary>
    Writable,
    /// <summary>RESET_STREAM received: the receive side ended abruptly; unread data is gone.</summary>
    PeerReset,
    /// <summary>STOP_SENDING received: the table answered with RESET_STREAM carrying the same code (§3.5).</summary>
    PeerStopSending,
    /// <summary>Everything written and the FIN were acknowledged.</summary>
    WritesAcknowledged,
    /// <summary>The peer raised MAX_STREAMS: TryOpenStream can succeed again.</summary>
    LocalOpenAvailable,
}
