using FastRelay.Protocols.Quic.Streams;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;

namespace FastRelay.Protocols.Quic.Recovery;

// External packet numbering of the Application Data space (kernel fast path, issue 11): a TC program numbers every
// 1-RTT packet of the connection on its way out — ours and the copies it forwards — and tells us afterwards, through a
// ring buffer drained asynchronously. So a wire number can be acknowledged by the peer before we learn it was used.
// Such acknowledgments are held (bounded in count and time) and applied when the number is registered; only a number
// that stays unknown past the hold time is what RFC 9000 §13.1 calls an ACK of a packet never sent.
public sealed partial class LossDetection
{
    /// <summary>At most this many separate held ranges: an honest peer acks what the kernel sent, so holes are few.</summary>
    public const int MaxHeldAckRanges = 64;
    /// <summary>A registered wire number may lie at most this far from the numbers known so far.</summary>
    public const ulong MaxExternalNumberJump = 1 << 20;

    private sealed class ExternalState
    {
        /// <summary>Wire numbers registered so far (gapless in the end, so this stays one range plus transient holes).</summary>
        public readonly RangeSet Registered = new();
        public readonly List<HeldAck> Held = new(4);
    }

    /// <summary>Acknowledged but not registered yet: [Smallest, Largest], first held at <see cref="Since"/>; the ACK
    /// whose largest acknowledged lies here gives the RTT sample when that number is registered.</summary>
    private struct HeldAck
    {
        public ulong Smallest, Largest;
        public long Since;
        public ulong RttLargest;
        public long RttAckTime;
        public long RttAckDelay;
    }

    private ExternalState? _external;

    /// <summary>Whether the Application Data space is numbered externally (see <see cref="BeginExternalNumbering"/>).</summary>
    public bool IsExternallyNumbered => _external is not null;

    /// <summary>Acknowledged wire numbers still waiting for their registration.</summary>
    public int HeldAckRangeCount => _external?.Held.Count ?? 0;

    /// <summary>How many registrations found their number already acknowledged (only grows): the one way a registration
    /// frees congestion window, so a caller that sees it unchanged knows registering made nothing newly sendable.</summary>
    public long HeldAcksApplied { get; private set; }

    /// <summary>When the oldest held acknowledgment was received (long.MaxValue: none held).</summary>
    public long OldestHeldAck
    {
        get
        {
            long oldest = long.MaxValue;
            if (_external is { } e)
                foreach (var h in e.Held) oldest = Math.Min(oldest, h.Since);
            return oldest;
        }
    }

    /// <summary>
    /// From now on Application Data packet numbers are given by someone else and registered with
    /// <see cref="RegisterExternallyNumbered"/>; every number below <paramref name="firstWireNumber"/> was ours.
    /// </summary>
    public void BeginExternalNumbering(ulong firstWireNumber)
    {
        if (_external is not null) return;
        _external = new ExternalState();
        if (firstWireNumber > 0) _external.Registered.Add(0, firstWireNumber);
    }

    /// <summary>
    /// A packet that waits for its wire number counts in bytes in flight (and pacing) from the moment it was sent, so
    /// congestion control never lets more out because the kernel is slow to report.
    /// </summary>
    public void OnPacketAwaitingNumber(SentPacket packet, long now)
    {
        packet.TimeSent = now;
        if (now > _lastNow) _lastNow = now;
        _cc.OnPacketSent(packet);
    }

    /// <summary>A packet that waited for its number and never got one (the kernel did not send it): it leaves bytes in
    /// flight without a congestion signal; the caller resends its frames.</summary>
    public void AbandonAwaitingNumber(SentPacket packet, ILossDetectionSink sink)
    {
        _cc.RemoveFromBytesInFlight(packet);
        sink.OnPacketLost(packet);
        Release(packet);
    }

    /// <summary>
    /// Registers an Application Data packet under the wire number it was given (<see cref="SentPacket.PacketNumber"/>),
    /// sent at <paramref name="timeSent"/>. <paramref name="countedInFlight"/>: it already counts in bytes in flight
    /// (<see cref="OnPacketAwaitingNumber"/>). If the peer already acknowledged the number, the packet is acknowledged at
    /// once (with the RTT sample of that ACK). False when the number was registered before (caller bug or a duplicate
    /// event): the packet is then released and nothing changes.
    /// </summary>
    public bool RegisterExternallyNumbered(SentPacket packet, long timeSent, bool countedInFlight, ILossDetectionSink sink)
    {
        var e = _external ?? throw new InvalidOperationException("external numbering was not started");
        ulong pn = packet.PacketNumber;
        const int app = (int)PacketNumberSpace.ApplicationData;
        // A number far beyond everything sent, or far below the outstanding window, is a broken report, not a packet:
        // the sent history would have to span the gap.
        bool implausible = _largestSent[app] is ulong newest && pn > newest + MaxExternalNumberJump
                           || !_sent[app].IsEmpty && pn + MaxExternalNumberJump < _sent[app].BasePacketNumber;
        if (implausible || e.Registered.Contains(pn, pn + 1))
        {
            if (countedInFlight) _cc.RemoveFromBytesInFlight(packet);
            Release(packet);
            return false;
        }
        e.Registered.Add(pn, pn + 1);
        const int s = (int)PacketNumberSpace.ApplicationData;
        packet.TimeSent = timeSent;
        if (!_sent[s].Add(packet)) throw new InvalidOperationException("sent history refused a fresh wire number");
        if (_largestSent[s] is not ulong largest || pn > largest) _largestSent[s] = pn;
        if (timeSent > _lastNow) _lastNow = timeSent;
        if (packet.InFlight)
        {
            if (packet.AckEliciting)
            {
                if (timeSent > _timeOfLastAckEliciting[s] || _ackElicitingInFlight[s] == 0) _timeOfLastAckEliciting[s] = timeSent;
                _ackElicitingInFlight[s]++;
            }
            if (!countedInFlight) _cc.OnPacketSent(packet);
        }
        ApplyHeldAck(pn, sink);
        SetLossDetectionTimer(_lastNow);
        return true;
    }

    /// <summary>
    /// Held acknowledgments older than <paramref name="maxHold"/>: if their numbers are still unknown the peer
    /// acknowledged packets we never sent (PROTOCOL_VIOLATION, RFC 9000 §13.1) — false with the error.
    /// </summary>
    public bool TryExpireHeldAcks(long now, long maxHold, out QuicError error)
    {
        error = QuicError.None;
        if (_external is not { } e) return true;
        for (int i = e.Held.Count - 1; i >= 0; i--)
        {
            var h = e.Held[i];
            if (e.Registered.Contains(h.Smallest, h.Largest + 1))
            {
                e.Held.RemoveAt(i);
                continue;
            }
            if (now - h.Since >= maxHold)
            {
                error = QuicError.Protocol("ACK of a packet number never sent (not registered in time)", FrameType.Ack);
                return false;
            }
        }
        return true;
    }

    /// <summary>Holds the parts of the ACK's ranges that are not registered yet; false when too many holes are held.</summary>
    private bool TryHoldUnregistered(in AckFrame ack, long now, long ackDelay, out QuicError error)
    {
        error = QuicError.None;
        var e = _external!;
        foreach (var range in ack.GetRanges())
        {
            // Walk the range upwards through the registered set and hold each gap.
            ulong cursor = range.Smallest;
            while (cursor <= range.Largest)
            {
                ulong gapEnd = NextRegisteredAtOrAfter(e.Registered, cursor, range.Largest, out ulong resume);
                if (gapEnd > cursor)
                {
                    if (!Hold(e, cursor, gapEnd - 1, now, ack.LargestAcknowledged, ackDelay))
                    {
                        error = QuicError.Protocol("too many acknowledged packet numbers not registered", ack.Type);
                        return false;
                    }
                }
                if (resume == 0 || resume > range.Largest) break;
                cursor = resume;
            }
        }
        return true;
    }

    /// <summary>
    /// From <paramref name="from"/> (at most <paramref name="last"/>): returns where the unregistered stretch ends (the
    /// first registered number, or last+1), and in <paramref name="resume"/> the first number after the registered
    /// stretch that follows it (0 when the walk is done).
    /// </summary>
    private static ulong NextRegisteredAtOrAfter(RangeSet registered, ulong from, ulong last, out ulong resume)
    {
        int i = registered.FirstEndingAtOrAfter(from + 1);   // first range with End > from
        if (i >= registered.Count)
        {
            resume = 0;
            return last + 1;
        }
        var (start, end) = registered[i];
        if (start <= from)
        {
            // from is registered: no gap here; continue after this registered stretch.
            resume = end;
            return from;
        }
        ulong gapEnd = Math.Min(start, last + 1);
        resume = end;
        return gapEnd;
    }

    private static bool Hold(ExternalState e, ulong smallest, ulong largest, long now, ulong ackLargest, long ackDelay)
    {
        for (int i = 0; i < e.Held.Count; i++)
        {
            var h = e.Held[i];
            // Overlapping or adjacent: merge, keep the earliest time (the hold bound counts from the first sight).
            if (smallest > h.Largest + 1 || largest + 1 < h.Smallest) continue;
            h.Smallest = Math.Min(h.Smallest, smallest);
            h.Largest = Math.Max(h.Largest, largest);
            if (ackLargest >= h.Smallest && ackLargest <= h.Largest && ackLargest >= h.RttLargest)
            {
                if (ackLargest > h.RttLargest || h.RttAckTime == 0)
                {
                    h.RttLargest = ackLargest;
                    h.RttAckTime = now;
                    h.RttAckDelay = ackDelay;
                }
            }
            e.Held[i] = h;
            return true;
        }
        if (e.Held.Count >= MaxHeldAckRanges) return false;
        bool hasRtt = ackLargest >= smallest && ackLargest <= largest;
        e.Held.Add(new HeldAck
        {
            Smallest = smallest, Largest = largest, Since = now,
            RttLargest = hasRtt ? ackLargest : 0, RttAckTime = hasRtt ? now : 0, RttAckDelay = ackDelay,
        });
        return true;
    }

    /// <summary>The number was just registered: if the peer acknowledged it already, acknowledge the packet now.</summary>
    private void ApplyHeldAck(ulong pn, ILossDetectionSink sink)
    {
        var e = _external!;
        for (int i = 0; i < e.Held.Count; i++)
        {
            var h = e.Held[i];
            if (pn < h.Smallest || pn > h.Largest) continue;
            const int s = (int)PacketNumberSpace.ApplicationData;
            var p = _sent[s].Get(pn)!;
            _sent[s].Remove(pn);
            if (p.InFlight && p.AckEliciting) _ackElicitingInFlight[s]--;
            if (_largestAcked[s] is not ulong prev || pn > prev) _largestAcked[s] = pn;
            if (pn == h.RttLargest && h.RttAckTime != 0 && p.AckEliciting)
            {
                bool first = !_rtt.HasSample;
                _rtt.Update(Math.Max(0, h.RttAckTime - p.TimeSent), h.RttAckDelay, _handshakeConfirmed, MaxAckDelay);
                if (first) _firstRttSampleTime = h.RttAckTime;
            }
            _cc.OnPacketAcked(p, Math.Max(_lastNow, h.RttAckTime));
            sink.OnPacketAcked(p);
            Release(p);
            HeldAcksApplied++;
            if (e.Registered.Contains(h.Smallest, h.Largest + 1)) e.Held.RemoveAt(i);
            if (PeerCompletedAddressValidation) _ptoCount = 0;
            return;
        }
    }

    /// <summary>The largest number of the ACK that is registered (null when none is).</summary>
    private ulong? LargestRegisteredIn(in AckFrame ack)
    {
        var registered = _external!.Registered;
        foreach (var range in ack.GetRanges())
        {
            for (int i = registered.Count - 1; i >= 0; i--)
            {
                var (start, end) = registered[i];
                if (start > range.Largest) continue;
                if (end - 1 < range.Smallest) break;
                return Math.Min(range.Largest, end - 1);
            }
        }
        return null;
    }
}
