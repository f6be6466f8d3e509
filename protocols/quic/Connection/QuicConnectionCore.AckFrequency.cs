using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;

namespace FastRelay.Protocols.Quic.Connection;

// The QUIC ACK frequency extension (draft-ietf-quic-ack-frequency-12): as receiver, the peer's ACK_FREQUENCY and
// IMMEDIATE_ACK change when we acknowledge (the counting itself is in ReceivedPacketTracker); as sender, we ask the peer
// for fewer ACKs and keep loss recovery's PTO honest about the delay we asked for (§7).
public sealed partial class QuicConnectionCore
{
    /// <summary>
    /// The min_ack_delay we advertise (µs, draft §3): RFC 9002's timer granularity. The endpoint sleeps to the
    /// microsecond, but a wake-up on a loaded machine is late by up to about this, so a shorter delay could not be kept.
    /// </summary>
    public const ulong LocalMinAckDelay = 1_000;

    /// <summary>ACK frames this end wrote, every space (what the ACK frequency extension reduces at the peer's request).</summary>
    public long AckFramesSent { get; private set; }

    /// <summary>Ack-eliciting packets received and processed, every space.</summary>
    public long AckElicitingPacketsReceived { get; private set; }

    // ---- receiver ----

    /// <summary>Our max_ack_delay (µs) for 1-RTT ACKs: the transport parameter's until an ACK_FREQUENCY changes it (§4).</summary>
    private long _localMaxAckDelay = LocalMaxAckDelay;
    /// <summary>Largest ACK_FREQUENCY sequence number processed (§4: smaller or equal ones are ignored).</summary>
    private ulong? _peerAckFrequencySequence;
    /// <summary>IMMEDIATE_ACK seen in the packet being processed (applied once the packet is recorded).</summary>
    private bool _immediateAckReceived;

    /// <summary>We advertised min_ack_delay: the peer may send ACK_FREQUENCY and IMMEDIATE_ACK (otherwise they are unknown frames).</summary>
    private bool AcceptsAckFrequency => _localParameters.MinAckDelay is not null;

    /// <summary>The ack-eliciting threshold the peer asked of us (1 until it sends ACK_FREQUENCY).</summary>
    public ulong ReceiverAckElicitingThreshold => _spaces[2].Received.AckElicitingThreshold;

    /// <summary>Our max_ack_delay for 1-RTT packets now, µs (the peer may have changed it, §4).</summary>
    public long ReceiverMaxAckDelay => _localMaxAckDelay;

    private QuicError OnAckFrequency(in AckFrequencyFrame frame)
    {
        // §4: an invalid Requested Max Ack Delay is an error even in a frame that is otherwise obsolete.
        var invalid = frame.ValidateRequestedMaxAckDelay(_localParameters.MinAckDelay ?? 0);
        if (!invalid.IsNone) return invalid;
        if (_peerAckFrequencySequence is ulong processed && frame.SequenceNumber <= processed) return default;
        _peerAckFrequencySequence = frame.SequenceNumber;
        _localMaxAckDelay = (long)frame.RequestedMaxAckDelay;
        _spaces[2].Received.SetAckFrequency(frame.AckElicitingThreshold, frame.ReorderingThreshold);
        return default;
    }

    /// <summary>After an ack-eliciting packet is recorded: an IMMEDIATE_ACK in it makes the ACK due now (§5).</summary>
    private void ApplyImmediateAck(PacketSpace space)
    {
        if (!_immediateAckReceived) return;
        _immediateAckReceived = false;
        space.Received.AckImmediately();
    }

    // ---- sender ----

    private ulong _ackFrequencyNextSequence;
    /// <summary>The threshold the caller asked for: a ceiling the window lowers (null: nothing asked).</summary>
    private ulong? _ackFrequencyCeiling;
    private long _ackFrequencyLastSentTime;
    /// <summary>What we want the peer to use; sent (again, with a new sequence number) while <see cref="_ackFrequencyPending"/>.</summary>
    private AckFrequencyFrame? _ackFrequencyWanted;
    private bool _ackFrequencyPending;
    private bool _immediateAckPending;
    /// <summary>Sequence number of the last ACK_FREQUENCY put in a packet (a lost older one is not resent, §4).</summary>
    private ulong? _ackFrequencyLastSent;
    private long _ackFrequencyLastSentDelay;
    /// <summary>The peer's max_ack_delay (µs) as far as we know it took effect: its transport parameter, then the delay of
    /// the newest ACK_FREQUENCY it acknowledged.</summary>
    private long _peerMaxAckDelayAcknowledged = -1;
    private ulong? _ackFrequencyAcknowledged;
    /// <summary>
    /// The largest delay asked in any ACK_FREQUENCY sent and not yet superseded by an acknowledged newer one (0: none).
    /// One maximum instead of a list: it is only ever too large (the PTO waits a bit longer), never too small (§7).
    /// </summary>
    private long _ackFrequencyInFlightMaxDelay;

    /// <summary>The Ack-Eliciting Threshold of the newest request (the caller's, lowered to fit the window), null before any.</summary>
    public ulong? RequestedAckElicitingThreshold => _ackFrequencyWanted?.AckElicitingThreshold;

    /// <summary>The peer advertised min_ack_delay (µs): we may send it ACK_FREQUENCY and IMMEDIATE_ACK.</summary>
    public ulong? PeerMinAckDelay => _peerParameters?.MinAckDelay;

    /// <summary>
    /// The peer's max_ack_delay (µs) loss recovery uses (§7): the greatest of the value in effect and every requested one
    /// still in flight, so a request that lowers it cannot cause a spurious PTO.
    /// </summary>
    public long EffectivePeerMaxAckDelay
    {
        get
        {
            long acknowledged = _peerMaxAckDelayAcknowledged >= 0
                ? _peerMaxAckDelayAcknowledged
                : (long)(_peerParameters?.MaxAckDelay ?? TransportParameters.DefaultMaxAckDelayMs) * 1000;
            return Math.Max(acknowledged, _ackFrequencyInFlightMaxDelay);
        }
    }

    /// <summary>
    /// Asks the peer (draft §4) to send an ACK only after more than <paramref name="ackElicitingThreshold"/> ack-eliciting
    /// packets (a ceiling: while the congestion window holds fewer than 2 × (threshold + 1) packets the request says less,
    /// and follows the window, see <see cref="AdaptAckFrequency"/>) or <paramref name="maxAckDelayMicros"/> after the
    /// first unacknowledged one, and to acknowledge reordering at
    /// once only beyond <paramref name="reorderingThreshold"/> packets (0: never; 1: RFC 9000's every gap). Sent with the
    /// next packet, again if lost. Throws unless the handshake is complete and the peer advertised min_ack_delay, or when
    /// the delay is below the peer's min_ack_delay or not below 2^14 ms.
    /// </summary>
    public void RequestAckFrequency(ulong ackElicitingThreshold, long maxAckDelayMicros, ulong reorderingThreshold)
    {
        if (!_handshakeComplete) throw new InvalidOperationException("ACK_FREQUENCY goes in 1-RTT packets: wait for the handshake");
        if (PeerMinAckDelay is not ulong peerMin) throw new InvalidOperationException("the peer did not advertise min_ack_delay (the ACK frequency extension)");
        if (maxAckDelayMicros < 0 || (ulong)maxAckDelayMicros < peerMin)
            throw new ArgumentOutOfRangeException(nameof(maxAckDelayMicros), maxAckDelayMicros, $"below the peer's min_ack_delay of {peerMin} µs");
        if ((ulong)maxAckDelayMicros >= AckFrequencyFrame.MaxAckDelayLimitMicros)
            throw new ArgumentOutOfRangeException(nameof(maxAckDelayMicros), maxAckDelayMicros, "2^14 ms or more");
        if (ackElicitingThreshold > QuicVarint.MaxValue || reorderingThreshold > QuicVarint.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(ackElicitingThreshold), "above 2^62-1");
        // The sequence number is assigned when the frame is written, so a resend after loss is a newer frame.
        _ackFrequencyCeiling = ackElicitingThreshold;
        _ackFrequencyWanted = new AckFrequencyFrame(0, WindowBoundThreshold(ackElicitingThreshold), (ulong)maxAckDelayMicros, reorderingThreshold);
        _ackFrequencyPending = true;
    }

    /// <summary>
    /// §8.1: a threshold no larger than the packets a congestion window holds. We keep at least two ACKs per window (an
    /// ACK per half window: a sender waiting for its window never waits for the delay timer); the bound never goes below
    /// 1, RFC 9000's ACK per two packets. At a window of 10 packets (the initial one) it is 4.
    /// </summary>
    private ulong WindowBoundThreshold(ulong ceiling)
    {
        long windowPackets = _cc.CongestionWindow / Math.Max(1, MaxDatagramSize);
        ulong bound = (ulong)Math.Max(1, windowPackets / 2 - 1);
        return Math.Min(ceiling, bound);
    }

    /// <summary>
    /// Follows the congestion window with the threshold asked of the peer (§8.1): lowered at once when the window
    /// shrinks (after loss a window smaller than the threshold would wait out the delay for every ACK), raised back at
    /// most once per smoothed RTT ("not necessary more than once per RTT"). Cheap: a division and a compare per datagram.
    /// </summary>
    private void AdaptAckFrequency(long now)
    {
        if (_ackFrequencyCeiling is not ulong ceiling || _ackFrequencyWanted is not { } wanted) return;
        ulong threshold = WindowBoundThreshold(ceiling);
        if (threshold == wanted.AckElicitingThreshold) return;
        if (threshold > wanted.AckElicitingThreshold && now - _ackFrequencyLastSentTime < _rtt.SmoothedRtt) return;
        _ackFrequencyWanted = wanted with { AckElicitingThreshold = threshold };
        _ackFrequencyPending = true;
    }

    /// <summary>Sends IMMEDIATE_ACK (draft §5) with the next packet; same precondition as <see cref="RequestAckFrequency"/>.</summary>
    public void RequestImmediateAck()
    {
        if (!_handshakeComplete) throw new InvalidOperationException("IMMEDIATE_ACK goes in 1-RTT packets: wait for the handshake");
        if (PeerMinAckDelay is null) throw new InvalidOperationException("the peer did not advertise min_ack_delay (the ACK frequency extension)");
        _immediateAckPending = true;
    }

    /// <summary>We asked the peer for a non-default ACK frequency (so PTO probes carry IMMEDIATE_ACK, §7).</summary>
    private bool AckFrequencyRequested => _ackFrequencyLastSent is not null;

    private bool HasAckFrequencyFrames => _ackFrequencyPending || _immediateAckPending;

    /// <summary>
    /// Writes a pending ACK_FREQUENCY and IMMEDIATE_ACK (1-RTT only). A PTO probe also gets an IMMEDIATE_ACK once we asked
    /// for delayed ACKs: its ACK is then not held back by the delay we asked for (§7).
    /// </summary>
    private int WriteAckFrequencyFrames(Span<byte> frames, SentPacket record, bool probe, long now)
    {
        int written = 0;
        if (_ackFrequencyPending && _ackFrequencyWanted is { } wanted)
        {
            var frame = wanted with { SequenceNumber = _ackFrequencyNextSequence };
            if (frames.Length - written >= frame.EncodedLength)
            {
                written += frame.Write(frames[written..]);
                record.Frames.Add(new SentFrame(FrameType.AckFrequency, Value: frame.SequenceNumber));
                _ackFrequencyLastSent = frame.SequenceNumber;
                _ackFrequencyLastSentTime = now;
                _ackFrequencyLastSentDelay = (long)frame.RequestedMaxAckDelay;
                _ackFrequencyNextSequence++;
                _ackFrequencyPending = false;
                _ackFrequencyInFlightMaxDelay = Math.Max(_ackFrequencyInFlightMaxDelay, (long)frame.RequestedMaxAckDelay);
                // Its acknowledgment should not wait for the delay it asks for: until it arrives the PTO must allow for
                // the larger of old and new delay (§7), and a raised one would hold back every ACK until it is known.
                _immediateAckPending = true;
                // The PTO armed when this packet is registered already allows for the delay in flight.
                _loss.MaxAckDelay = EffectivePeerMaxAckDelay;
            }
        }
        if ((_immediateAckPending || probe && AckFrequencyRequested) && frames.Length - written >= 1)
        {
            written += new ImmediateAckFrame().Write(frames[written..]);
            record.Frames.Add(new SentFrame(FrameType.ImmediateAck));
            _immediateAckPending = false;
        }
        return written;
    }

    /// <summary>The packet carrying ACK_FREQUENCY <paramref name="sequence"/> was acknowledged: the peer uses it (or a newer one).</summary>
    private void OnAckFrequencyAcked(ulong sequence)
    {
        if (_ackFrequencyAcknowledged is ulong known && sequence <= known) return;
        _ackFrequencyAcknowledged = sequence;
        if (sequence == _ackFrequencyLastSent)
        {
            // The newest request sent is in effect and nothing else is in flight.
            _peerMaxAckDelayAcknowledged = _ackFrequencyLastSentDelay;
            _ackFrequencyInFlightMaxDelay = 0;
        }
        _loss.MaxAckDelay = EffectivePeerMaxAckDelay;
    }

    /// <summary>§4: a lost ACK_FREQUENCY is sent again (as a newer frame) unless a newer one already went out.</summary>
    private void OnAckFrequencyLost(ulong sequence)
    {
        if (sequence == _ackFrequencyLastSent && (_ackFrequencyAcknowledged is not ulong acked || acked < sequence)) _ackFrequencyPending = true;
    }
}
