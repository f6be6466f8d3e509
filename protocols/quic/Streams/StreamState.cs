namespace FastRelay.Protocols.Quic.Streams;

/// <summary>
/// One stream's bookkeeping inside a <see cref="StreamTable"/>: the two halves (either may be absent on a
/// unidirectional stream), both flow-control windows, and which control frames are owed to the peer. Stream state
/// machines (RFC 9000 §3) are kept as flags rather than enums: the table only needs "can still send/receive",
/// "what is owed" and "is this half finished" (send: data+FIN or RESET acknowledged; receive: all read or reset).
/// </summary>
internal sealed class StreamState
{
    public readonly ulong Id;
    public readonly SendBuffer? Send;
    public readonly ReceiveBuffer? Receive;

    public StreamState(ulong id, SendBuffer? send, ReceiveBuffer? receive)
    {
        Id = id;
        Send = send;
        Receive = receive;
    }

    // ---- send half
    public ulong PeerMaxStreamData;       // the peer's MAX_STREAM_DATA for this stream
    public bool ResetPending;             // RESET_STREAM owed
    public bool ResetSent;                // RESET_STREAM decided (Reset Sent state)
    public bool ResetAcked;               // Reset Recvd state
    public ulong ResetErrorCode;
    public ulong ResetFinalSize;
    public bool BlockedPending;           // STREAM_DATA_BLOCKED owed
    public ulong BlockedSentAt = ulong.MaxValue;   // limit a STREAM_DATA_BLOCKED was last sent for
    public bool WantsWritable;            // a write was cut short: signal Writable when SendBuffer.WritableThreshold is free
    public bool WritesAckedSignaled;
    /// <summary>New data goes one STREAM frame per packet in the kernel fast-path layout (StreamTable.FastPath.cs).</summary>
    public bool FastPathLayout;
    public bool InFastPathQueue;

    // ---- receive half
    public ulong LocalMaxStreamData;      // the limit we advertised
    public ulong ReceiveWindow;            // current window (auto-tuned)
    public long LastWindowUpdate = long.MinValue;
    public bool MaxStreamDataPending;     // MAX_STREAM_DATA owed
    public ulong MaxStreamDataAcked;      // highest MAX_STREAM_DATA the peer acknowledged
    public bool StopSendingPending;       // STOP_SENDING owed
    public bool StopSendingRequested;     // the application aborted reading
    public ulong StopSendingErrorCode;
    public bool PeerReset;                // RESET_STREAM received (receive half over)
    public bool ReadableSignaled;
    public bool FinDelivered;             // Read returned fin = true (Data Read state)
    public ulong CreditedOffset;          // connection-level credit returned for this stream up to here

    // ---- queues
    /// <summary>Send priority: lower is more urgent (see <see cref="StreamSendScheduler"/>).</summary>
    public int SendPriority;
    public bool InSendQueue;
    public bool InControlQueue;
    public bool Removed;

    public bool SendDone => Send is null || Send.IsFullyAcknowledged || ResetAcked;

    public bool ReceiveDone => Receive is null || PeerReset || (Receive.IsFinished && FinDelivered) || (StopSendingRequested && Receive.IsComplete);

    public bool HasControl => ResetPending || BlockedPending || MaxStreamDataPending || StopSendingPending;
}
