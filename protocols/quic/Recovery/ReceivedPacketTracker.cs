using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;

namespace FastRelay.Protocols.Quic.Recovery;

/// <summary>
/// Received packet numbers of one packet number space: duplicate detection (RFC 9000 §12.3) and ACK generation
/// (§13.2). Keeps at most <c>maxRanges</c> disjoint, non-adjacent ranges, largest first, in a fixed array — so an ACK
/// frame is written straight from it with no allocation. When the cap is exceeded the oldest range is forgotten
/// (§13.2.3 lets a receiver limit the ranges it reports), and so are numbers at or below the Largest Acknowledged of an
/// ACK the peer has acknowledged (§13.2.4). Forgotten numbers are below <see cref="IsDuplicate"/>'s floor and count as
/// duplicates: a very late packet there is dropped (the sender retransmits its data) rather than processed twice.
/// </summary>
public sealed class ReceivedPacketTracker
{
    private readonly PacketNumberSpace _space;
    private readonly int _maxRanges;
    private readonly AckRange[] _ranges; // descending; one spare slot for insert-then-drop
    private int _count;
    private ulong _floor;

    private ulong? _largest;
    private long _largestTime;
    private ulong? _largestAckEliciting;

    // ECN counts of this space (RFC 9000 §13.4.1): reported in ACK frames (type 0x03) once any packet arrived marked.
    private ulong _ect0, _ect1, _ce;
    private bool _ecnSeen;

    private bool _ackPending;
    private bool _immediate;
    private int _ackElicitingSinceAck;
    private long _firstAckElicitingTime;

    // draft-ietf-quic-ack-frequency-12 §6: what the peer's latest ACK_FREQUENCY asked (defaults: RFC 9000 §13.2's
    // every-other-packet rule, which is a threshold of 1, and immediate ACKs for any reordering, a threshold of 1).
    private ulong _ackElicitingThreshold = 1;
    private ulong _reorderingThreshold = 1;
    /// <summary>Largest Acknowledged of the last ACK frame written ("Largest Acked" of §6.2).</summary>
    private ulong? _largestAckedSent;
    private bool _previousWasCe;
    /// <summary>Ranges opened since the last ACK frame: they are the ones no ACK has reported yet.</summary>
    private int _newRangesSinceAck;

    public ReceivedPacketTracker(PacketNumberSpace space, int maxRanges = 32)
    {
        if (maxRanges < 1) throw new ArgumentOutOfRangeException(nameof(maxRanges));
        _space = space;
        _maxRanges = maxRanges;
        _ranges = new AckRange[maxRanges + 1];
    }

    public PacketNumberSpace Space => _space;

    /// <summary>Largest packet number received (for packet number decoding, RFC 9000 §17.1 / A.3).</summary>
    public ulong? LargestReceived => _largest;

    /// <summary>An ack-eliciting packet arrived since the last ACK frame was written.</summary>
    public bool AckPending => _ackPending;

    /// <summary>The ranges an ACK frame would report now, largest first.</summary>
    public ReadOnlySpan<AckRange> Ranges => _ranges.AsSpan(0, _count);

    /// <summary>Already received, or below the tracked window (forgotten range or pruned by an ack of an ack).</summary>
    public bool IsDuplicate(ulong packetNumber)
    {
        if (packetNumber < _floor) return true;
        for (int i = 0; i < _count; i++)
        {
            var r = _ranges[i];
            if (packetNumber > r.Largest) return false;
            if (packetNumber >= r.Smallest) return true;
        }
        return false;
    }

    /// <summary>Records a packet that was successfully processed (call after decryption; duplicates are ignored).</summary>
    public void OnPacketReceived(ulong packetNumber, bool ackEliciting, long now)
    {
        if (IsDuplicate(packetNumber)) return;

        // §13.2.1: acknowledge at once when an ack-eliciting packet arrives out of order (below an ack-eliciting one
        // already received: it fills a gap) or above the largest ack-eliciting one with missing numbers in between.
        bool outOfOrder = ackEliciting && _largestAckEliciting is ulong lae && packetNumber < lae;

        int index = Insert(packetNumber);
        if (_largest is not ulong largest || packetNumber > largest)
        {
            _largest = packetNumber;
            _largestTime = now;
        }
        if (!ackEliciting) return;

        if (_largestAckEliciting is ulong prev && packetNumber > prev)
        {
            if (index >= 0 && _ranges[index].Smallest > prev + 1) outOfOrder = true;
        }
        if (_largestAckEliciting is not ulong l || packetNumber > l) _largestAckEliciting = packetNumber;

        if (!_ackPending) _firstAckElicitingTime = now;
        _ackPending = true;
        _ackElicitingSinceAck++;
        // Initial and Handshake packets are acknowledged immediately; 1-RTT once more than the Ack-Eliciting Threshold
        // arrived since the last ACK (1 by default: every second packet, RFC 9000 §13.2.2; draft §6 otherwise).
        if (_space != PacketNumberSpace.ApplicationData || (ulong)_ackElicitingSinceAck > _ackElicitingThreshold) _immediate = true;
        else if (_reorderingThreshold switch
                 {
                     0 => false,   // §6.2: reordering alone never elicits an immediate ACK
                     1 => outOfOrder,
                     _ => OutsideReorderingWindow(packetNumber),
                 }) _immediate = true;
        // §6: with fewer ACKs, new ranges pile up between them; report them before the cap could forget one no ACK
        // carried yet (ranges already reported may be forgotten: the peer has seen them, §13.2.3).
        else if (_newRangesSinceAck >= _maxRanges / 2) _immediate = true;
    }

    /// <summary>
    /// draft-ietf-quic-ack-frequency-12 §4: the peer's ACK_FREQUENCY (already validated and newer than any before).
    /// A threshold above what an ACK frame's bookkeeping can count is as good as "never by count": the max_ack_delay
    /// timer and the range cap still bring ACKs.
    /// </summary>
    public void SetAckFrequency(ulong ackElicitingThreshold, ulong reorderingThreshold)
    {
        _ackElicitingThreshold = ackElicitingThreshold;
        _reorderingThreshold = reorderingThreshold;
        if (_ackPending && (ulong)_ackElicitingSinceAck > _ackElicitingThreshold) _immediate = true;
    }

    /// <summary>The ack-eliciting threshold in force (1 until the peer's ACK_FREQUENCY says otherwise).</summary>
    public ulong AckElicitingThreshold => _ackElicitingThreshold;

    /// <summary>The reordering threshold in force (1 until the peer's ACK_FREQUENCY says otherwise).</summary>
    public ulong ReorderingThreshold => _reorderingThreshold;

    /// <summary>IMMEDIATE_ACK (draft §5) arrived in a packet just recorded: acknowledge with the next datagram.</summary>
    public void AckImmediately()
    {
        if (_ackPending) _immediate = true;
    }

    /// <summary>
    /// draft-ietf-quic-ack-frequency-12 §6.2 for a Reordering Threshold T above 1, after an ack-eliciting packet was
    /// recorded: an ACK is due when the smallest Unreported Missing number (missing, above Largest Acked − T) lies T or
    /// more below Largest Unacked (the sender can declare it lost once told), or when the packet itself is at or below
    /// Largest Acked − T (it arrived after the sender may have declared it lost: the ACK lets it see the loss was
    /// spurious). The walk over the ranges is bounded by the range cap.
    /// </summary>
    private bool OutsideReorderingWindow(ulong packetNumber)
    {
        ulong threshold = _reorderingThreshold;
        ulong lowest = _floor;
        if (_largestAckedSent is ulong largestAcked && largestAcked >= threshold)
        {
            ulong reportedMissing = largestAcked - threshold;   // Largest Reported Missing
            if (packetNumber <= reportedMissing) return true;
            lowest = Math.Max(lowest, reportedMissing + 1);
        }
        if (_largestAckEliciting is not ulong largestUnacked) return false;
        // Ranges are kept largest first: walk them upwards for the first number at or above `lowest` not received.
        ulong candidate = lowest;
        for (int i = _count - 1; i >= 0; i--)
        {
            var range = _ranges[i];
            if (range.Largest < candidate) continue;
            if (candidate < range.Smallest) return largestUnacked - candidate >= threshold;
            if (range.Largest == ulong.MaxValue) return false;
            candidate = range.Largest + 1;
        }
        return false;   // nothing missing below the largest received
    }

    /// <summary>
    /// When an ACK must be sent: long.MaxValue if nothing ack-eliciting awaits one, long.MinValue if at once, else the
    /// first unacknowledged ack-eliciting packet's arrival + <paramref name="maxAckDelay"/> (this endpoint's own
    /// max_ack_delay, µs).
    /// </summary>
    public long AckDeadline(long maxAckDelay)
    {
        if (!_ackPending) return long.MaxValue;
        if (_immediate) return long.MinValue;
        return _firstAckElicitingTime + maxAckDelay;
    }

    /// <summary>
    /// Writes an ACK frame (type 0x02) for the current ranges with ack_delay = (now − arrival of the largest) >>
    /// <paramref name="ackDelayExponent"/>. Returns the bytes written, 0 if there is nothing to acknowledge or it does not
    /// fit (state unchanged then). Clears the pending/immediate state.
    /// </summary>
    /// <summary>
    /// Counts the ECN codepoint of a packet newly received in this space (not for duplicates; every packet of a coalesced
    /// datagram counts, §13.4.1). Not-ECT changes nothing.
    /// </summary>
    public void OnEcnCodepoint(byte codepoint)
    {
        bool ce = (codepoint & 0x03) == 0x03;
        // draft-ietf-quic-ack-frequency-12 §6.3: CE is reported at once, but with a threshold above 1 only on the change
        // from not-CE to CE (a threshold of 1 or 0 keeps RFC 9000 §13.2.1's ACK for every CE-marked packet).
        if (ce && _ackPending && _space == PacketNumberSpace.ApplicationData && (_ackElicitingThreshold <= 1 || !_previousWasCe)) _immediate = true;
        _previousWasCe = ce;
        switch (codepoint & 0x03)
        {
            case 0x01: _ect1++; break;
            case 0x02: _ect0++; break;
            case 0x03: _ce++; break;
            default: return;
        }
        _ecnSeen = true;
    }

    /// <summary>The counts our ACK frames carry, or null while no packet arrived with an ECN codepoint.</summary>
    public EcnCounts? EcnCounts => _ecnSeen ? new EcnCounts(_ect0, _ect1, _ce) : null;

    public int WriteAckFrame(Span<byte> destination, long now, int ackDelayExponent)
    {
        if (_count == 0) return 0;
        if ((uint)ackDelayExponent > 20) throw new ArgumentOutOfRangeException(nameof(ackDelayExponent));
        ulong delay = now > _largestTime ? (ulong)(now - _largestTime) >> ackDelayExponent : 0;

        var first = _ranges[0];
        int length = 1 + QuicVarint.GetLength(first.Largest) + QuicVarint.GetLength(delay)
                     + QuicVarint.GetLength((ulong)(_count - 1)) + QuicVarint.GetLength(first.Largest - first.Smallest);
        for (int i = 1; i < _count; i++)
        {
            length += QuicVarint.GetLength(_ranges[i - 1].Smallest - _ranges[i].Largest - 2);
            length += QuicVarint.GetLength(_ranges[i].Largest - _ranges[i].Smallest);
        }
        var ecn = EcnCounts;
        if (ecn is { } e) length += QuicVarint.GetLength(e.Ect0) + QuicVarint.GetLength(e.Ect1) + QuicVarint.GetLength(e.EcnCe);
        if (length > destination.Length) return 0;

        int written = AckFrame.Write(destination, _ranges.AsSpan(0, _count), delay, ecn);
        _largestAckedSent = first.Largest;
        _newRangesSinceAck = 0;
        _ackPending = false;
        _immediate = false;
        _ackElicitingSinceAck = 0;
        return written;
    }

    /// <summary>
    /// The peer acknowledged a packet that carried our ACK with this Largest Acknowledged: it knows about every number
    /// up to it, so stop reporting them (RFC 9000 §13.2.4) and treat them as duplicates from now on.
    /// </summary>
    public void OnAckOfAckReceived(ulong largestAcknowledgedInThatAck)
    {
        if (largestAcknowledgedInThatAck == ulong.MaxValue) return;
        ulong newFloor = largestAcknowledgedInThatAck + 1;
        if (newFloor <= _floor) return;
        _floor = newFloor;
        while (_count > 0)
        {
            ref var last = ref _ranges[_count - 1];
            if (last.Largest < newFloor) { _count--; continue; }
            if (last.Smallest < newFloor) last = new AckRange(newFloor, last.Largest);
            break;
        }
        if (_count == 0)
        {
            _ackPending = false;
            _immediate = false;
            _ackElicitingSinceAck = 0;
        }
    }

    /// <summary>Adds a number known not to be present; returns the index of the range now holding it, -1 if it was the
    /// oldest range and got dropped by the cap.</summary>
    private int Insert(ulong pn)
    {
        int i = 0;
        while (i < _count && pn < _ranges[i].Smallest) i++;
        // Now ranges[0..i) lie above pn and ranges[i] (if any) lies below it.
        bool joinsAbove = i > 0 && _ranges[i - 1].Smallest == pn + 1;
        bool joinsBelow = i < _count && _ranges[i].Largest + 1 == pn;
        if (joinsAbove && joinsBelow)
        {
            _ranges[i - 1] = new AckRange(_ranges[i].Smallest, _ranges[i - 1].Largest);
            Array.Copy(_ranges, i + 1, _ranges, i, _count - i - 1);
            _count--;
            return i - 1;
        }
        if (joinsAbove)
        {
            _ranges[i - 1] = new AckRange(pn, _ranges[i - 1].Largest);
            return i - 1;
        }
        if (joinsBelow)
        {
            _ranges[i] = new AckRange(_ranges[i].Smallest, pn);
            return i;
        }
        Array.Copy(_ranges, i, _ranges, i + 1, _count - i);
        _ranges[i] = new AckRange(pn, pn);
        _count++;
        _newRangesSinceAck++;
        if (_count > _maxRanges)
        {
            // Forget the oldest range; everything at or below it now counts as a duplicate.
            _count--;
            ulong dropped = _ranges[_count].Largest + 1;
            if (dropped > _floor) _floor = dropped;
            return i == _count ? -1 : i;
        }
        return i;
    }
}
