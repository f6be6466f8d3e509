namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>
/// ACK_FREQUENCY (draft-ietf-quic-ack-frequency-12 §4), type 0xaf: the data sender asks the receiver to send an ACK after
/// more than <see cref="AckElicitingThreshold"/> ack-eliciting packets, or <see cref="RequestedMaxAckDelay"/> µs after
/// the first unacknowledged one, and to acknowledge out-of-order packets at once only past
/// <see cref="ReorderingThreshold"/> (§6.2; 0: never for reordering alone, 1: RFC 9000's rule). Parsing checks only the
/// encoding (truncation is a FRAME_ENCODING_ERROR); whether the requested delay is acceptable depends on the receiver's
/// min_ack_delay, so <see cref="ValidateRequestedMaxAckDelay"/> is the receiver's call (a PROTOCOL_VIOLATION, §4).
/// </summary>
public readonly record struct AckFrequencyFrame(ulong SequenceNumber, ulong AckElicitingThreshold, ulong RequestedMaxAckDelay, ulong ReorderingThreshold)
    : IQuicFrame<AckFrequencyFrame>
{
    /// <summary>max_ack_delay of 2^14 ms or more is invalid (RFC 9000 §18.2), so a request at or above it in µs is too (§4).</summary>
    public const ulong MaxAckDelayLimitMicros = (1UL << 14) * 1000;

    public ulong Type => FrameType.AckFrequency;

    public int EncodedLength => FrameErrors.VarintLength(FrameType.AckFrequency) + FrameErrors.VarintLength(SequenceNumber)
        + FrameErrors.VarintLength(AckElicitingThreshold) + FrameErrors.VarintLength(RequestedMaxAckDelay) + FrameErrors.VarintLength(ReorderingThreshold);

    public static bool TryRead(ref QuicReader reader, ulong frameType, out AckFrequencyFrame frame, out QuicError error)
    {
        if (!reader.TryReadVarint(out ulong sequence) || !reader.TryReadVarint(out ulong threshold)
            || !reader.TryReadVarint(out ulong maxAckDelay) || !reader.TryReadVarint(out ulong reordering))
            return FrameErrors.Truncated(frameType, out frame, out error);
        return FrameErrors.Ok(new AckFrequencyFrame(sequence, threshold, maxAckDelay, reordering), out frame, out error);
    }

    /// <summary>
    /// §4: a Requested Max Ack Delay of 2^14 ms or more, or below the min_ack_delay the receiver advertised
    /// (<paramref name="localMinAckDelayMicros"/>), is a PROTOCOL_VIOLATION.
    /// </summary>
    public QuicError ValidateRequestedMaxAckDelay(ulong localMinAckDelayMicros)
    {
        if (RequestedMaxAckDelay >= MaxAckDelayLimitMicros)
            return QuicError.Protocol("ACK_FREQUENCY: Requested Max Ack Delay of 2^14 ms or more", FrameType.AckFrequency);
        if (RequestedMaxAckDelay < localMinAckDelayMicros)
            return QuicError.Protocol("ACK_FREQUENCY: Requested Max Ack Delay below our min_ack_delay", FrameType.AckFrequency);
        return default;
    }

    public int Write(Span<byte> destination)
    {
        var w = new QuicWriter(destination);
        w.WriteVarint(FrameType.AckFrequency);
        w.WriteVarint(SequenceNumber);
        w.WriteVarint(AckElicitingThreshold);
        w.WriteVarint(RequestedMaxAckDelay);
        w.WriteVarint(ReorderingThreshold);
        return w.Position;
    }
}
