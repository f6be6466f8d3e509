using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;

namespace FastRelay.Protocols.Quic.Recovery;

/// <summary>
/// Loss detection for the three packet number spaces (RFC 9002 §6 and Appendix A): acknowledgment processing with RTT
/// samples, packet-threshold (3) and time-threshold (9/8·max(smoothed_rtt, latest_rtt)) loss, one loss-detection
/// timer that is either the earliest loss time or the PTO (with exponential backoff, max_ack_delay for Application
/// Data only after handshake confirmation, the client's anti-deadlock PTO before address validation, and no PTO while
/// a server is amplification-blocked), persistent congestion, and key discard. Pure logic: every entry point takes
/// the current time in microseconds; nothing here reads a clock, allocates per packet or starts anything.
/// </summary>
public sealed partial class LossDetection
{
    /// <summary>kPacketThreshold (§6.1.1).</summary>
    public const int PacketThreshold = 3;
    /// <summary>kPersistentCongestionThreshold (§7.6.1).</summary>
    public const int PersistentCongestionThreshold = 3;
    /// <summary>Ack-eliciting packets requested per PTO (§6.2.4 allows up to two, avoiding a second PTO for one lost datagram).</summary>
    public const int ProbePacketCount = 2;
    /// <summary>Default max_ack_delay (RFC 9000 §18.2) until the peer's transport parameter or an ACK tells otherwise.</summary>
    public const long DefaultMaxAckDelay = 25_000;

    private const int SpaceCount = 3;
    private const long NotSet = long.MaxValue;

    private readonly RttEstimator _rtt;
    private readonly ICongestionController _cc;
    private readonly bool _isServer;

    private readonly SentPacketHistory[] _sent = { new(), new(), new() };
    private readonly ulong?[] _largestAcked = new ulong?[SpaceCount];
    private readonly ulong?[] _largestSent = new ulong?[SpaceCount];
    private readonly long[] _timeOfLastAckEliciting = new long[SpaceCount];
    private readonly long[] _lossTime = { NotSet, NotSet, NotSet };
    private readonly int[] _ackElicitingInFlight = new int[SpaceCount];
    private readonly bool[] _hasKeys = { true, false, false };

    private long _timer = NotSet;
    private int _ptoCount;
    private long _firstRttSampleTime = long.MinValue;
    private long _lastNow = long.MinValue;
    private bool _handshakeConfirmed;
    private bool _peerCompletedAddressValidation;
    private bool _amplificationBlocked;

    // Pool and scratch lists: they grow during warm-up and are reused afterwards.
    private SentPacket[] _pool = new SentPacket[64];
    private int _poolCount;
    private readonly List<SentPacket> _acked = new(64);
    private readonly List<SentPacket> _lost = new(64);

    /// <summary>Packets declared lost so far, every space (a status figure: on a fast-path connection it includes
    /// kernel-forwarded packets, whose data the stack then sends again).</summary>
    public long PacketsDeclaredLost { get; private set; }

    public LossDetection(RttEstimator rtt, ICongestionController cc, bool isServer)
    {
        _rtt = rtt ?? throw new ArgumentNullException(nameof(rtt));
        _cc = cc ?? throw new ArgumentNullException(nameof(cc));
        _isServer = isServer;
    }

    public RttEstimator Rtt => _rtt;
    public ICongestionController CongestionController => _cc;

    /// <summary>The peer's max_ack_delay in µs (used by the Application Data PTO and persistent congestion).
    /// Updated by every <see cref="TryOnAckReceived"/> call.</summary>
    public long MaxAckDelay { get; set; } = DefaultMaxAckDelay;

    /// <summary>Absolute time (µs) the loss detection timer fires; long.MaxValue = not armed.</summary>
    public long LossDetectionTimer => _timer;

    public int PtoCount => _ptoCount;

    public bool HandshakeConfirmed
    {
        get => _handshakeConfirmed;
        set { _handshakeConfirmed = value; SetLossDetectionTimer(_lastNow); }
    }

    /// <summary>
    /// Whether the peer has validated this endpoint's address (§6.2.2.1 / A.6): always true for a server; a client
    /// sets it itself when a Handshake-space ACK arrives, and it is implied by <see cref="HandshakeConfirmed"/>.
    /// </summary>
    public bool PeerCompletedAddressValidation
    {
        get => _isServer || _peerCompletedAddressValidation || _handshakeConfirmed;
        set { _peerCompletedAddressValidation = value; SetLossDetectionTimer(_lastNow); }
    }

    /// <summary>Server: the anti-amplification limit blocks sending, so no PTO is armed (A.8). Clearing it re-arms the
    /// timer; if that timer is already in the past the connection calls <see cref="OnLossDetectionTimeout"/> (A.6).</summary>
    public bool AmplificationBlocked
    {
        get => _amplificationBlocked;
        set { _amplificationBlocked = value; SetLossDetectionTimer(_lastNow); }
    }

    /// <summary>Which spaces have keys (Initial from the start). The client's anti-deadlock probe goes to Handshake
    /// once it has Handshake keys. <see cref="DiscardSpace"/> clears the flag.</summary>
    public bool HasKeys(PacketNumberSpace space) => _hasKeys[(int)space];

    public void SetHasKeys(PacketNumberSpace space, bool value)
    {
        _hasKeys[(int)space] = value;
        SetLossDetectionTimer(_lastNow);
    }

    public long TimeOfLastAckElicitingPacket(PacketNumberSpace space) => _timeOfLastAckEliciting[(int)space];

    public int AckElicitingInFlight(PacketNumberSpace space) => _ackElicitingInFlight[(int)space];

    /// <summary>Packets of the space still awaiting acknowledgment or loss.</summary>
    public int OutstandingPackets(PacketNumberSpace space) => _sent[(int)space].Count;

    /// <summary>Largest packet number the peer acknowledged in the space (for packet number encoding, RFC 9000 §17.1).</summary>
    public ulong? LargestAcked(PacketNumberSpace space) => _largestAcked[(int)space];

    /// <summary>Recomputes the timer (e.g. after a datagram unblocked an amplification-limited server, A.6).</summary>
    public void UpdateTimer(long now)
    {
        _lastNow = Math.Max(_lastNow, now);
        SetLossDetectionTimer(now);
    }

    public SentPacket RentPacket()
    {
        SentPacket p;
        if (_poolCount > 0)
        {
            p = _pool[--_poolCount];
            _pool[_poolCount] = null!;
        }
        else p = new SentPacket();
        p.Pooled = false;
        p.Clear();
        return p;
    }

    /// <summary>Gives back a rented packet that was never sent.</summary>
    public void ReturnPacket(SentPacket packet) => Release(packet);

    /// <summary>
    /// Registers a sent packet (A.5). Numbers increase per space but may skip values; a skipped number later acked is a
    /// PROTOCOL_VIOLATION. Packets numbered by the kernel fast path are registered with
    /// <see cref="RegisterExternallyNumbered"/> instead (LossDetection.External.cs).
    /// </summary>
    /// <summary>ECN validation of this connection's packets (null: ECN is not in use).</summary>
    public EcnValidation? Ecn { get; set; }

    public void OnPacketSent(SentPacket packet, long now)
    {
        if (packet.Pooled) throw new InvalidOperationException("packet was not rented or was already released");
        Ecn?.OnPacketSent(packet);
        int s = (int)packet.Space;
        packet.TimeSent = now;
        if (!_sent[s].Add(packet)) throw new ArgumentException("packet number already used in this space", nameof(packet));
        if (_largestSent[s] is not ulong largest || packet.PacketNumber > largest) _largestSent[s] = packet.PacketNumber;
        if (now > _lastNow) _lastNow = now;
        if (!packet.InFlight) return;
        if (packet.AckEliciting)
        {
            if (now > _timeOfLastAckEliciting[s] || _ackElicitingInFlight[s] == 0) _timeOfLastAckEliciting[s] = now;
            _ackElicitingInFlight[s]++;
        }
        _cc.OnPacketSent(packet);
        SetLossDetectionTimer(now);
    }

    /// <summary>
    /// Processes one ACK frame received in <paramref name="space"/> (A.7). <paramref name="maxAckDelay"/> is the peer's
    /// max_ack_delay in µs. Acknowledging a number never sent (above the largest sent, or a skipped one still tracked)
    /// fails with PROTOCOL_VIOLATION before any state changes. Ranges of packets already acked or lost are ignored.
    /// </summary>
    public bool TryOnAckReceived(in AckFrame ack, PacketNumberSpace space, long now, int ackDelayExponent, long maxAckDelay,
                                 ILossDetectionSink sink, out QuicError error)
    {
        int s = (int)space;
        var history = _sent[s];
        bool external = s == (int)PacketNumberSpace.ApplicationData && _external is not null;
        if (external)
        {
            // Wire numbers come from the kernel; numbers not registered yet are held until they are (LossDetection.External.cs).
            if (!TryHoldUnregistered(ack, now, ScaleAckDelay(ack.AckDelay, ackDelayExponent), out error)) return false;
        }
        else if (_largestSent[s] is not ulong largestSent || ack.LargestAcknowledged > largestSent)
        {
            error = QuicError.Protocol("ACK of a packet number never sent", ack.Type);
            return false;
        }
        if (!external && history.HasSkipped && AcksSkippedNumber(ack, history))
        {
            error = QuicError.Protocol("ACK of a skipped packet number", ack.Type);
            return false;
        }
        error = QuicError.None;
        if (now > _lastNow) _lastNow = now;
        MaxAckDelay = maxAckDelay;

        // Externally numbered: only a registered number counts as largest acknowledged (a held one counts once registered).
        if ((external ? LargestRegisteredIn(ack) : ack.LargestAcknowledged) is ulong largestKnown
            && (_largestAcked[s] is not ulong prev || largestKnown > prev)) _largestAcked[s] = largestKnown;
        // A client knows the server validated its address once a Handshake packet of its own was acknowledged (A.6).
        if (space == PacketNumberSpace.Handshake) _peerCompletedAddressValidation = true;

        _acked.Clear();
        bool ackElicitingAcked = false;
        foreach (var range in ack.GetRanges())
        {
            if (history.IsEmpty || range.Largest < history.BasePacketNumber) break; // ranges come largest first
            ulong hi = Math.Min(range.Largest, history.NewestPacketNumber);
            ulong lo = Math.Max(range.Smallest, history.BasePacketNumber);
            if (lo > hi) continue;
            for (ulong pn = hi; ; pn--)
            {
                var p = history.Get(pn);
                if (p is not null && !ReferenceEquals(p, SentPacketHistory.Skipped))
                {
                    history.Remove(pn);
                    if (p.InFlight && p.AckEliciting) _ackElicitingInFlight[s]--;
                    ackElicitingAcked |= p.AckEliciting;
                    _acked.Add(p);
                }
                if (pn == lo) break;
            }
        }
        if (_acked.Count == 0) return true; // duplicate or old ACK: nothing changes

        // RTT sample only when the largest acknowledged is newly acked and something ack-eliciting was (§5.1).
        var newest = _acked[0];
        if (newest.PacketNumber == ack.LargestAcknowledged && ackElicitingAcked)
        {
            // Initial-space ACKs are not delayed by the peer (RFC 9000 §13.2.1): ignore their ack_delay (§5.3).
            long ackDelay = space == PacketNumberSpace.Initial ? 0 : ScaleAckDelay(ack.AckDelay, ackDelayExponent);
            bool first = !_rtt.HasSample;
            _rtt.Update(now - newest.TimeSent, ackDelay, _handshakeConfirmed, maxAckDelay);
            if (first) _firstRttSampleTime = now;
        }

        if (Ecn is { } ecn)
        {
            int marked = 0;
            for (int i = 0; i < _acked.Count; i++) if (_acked[i].EcnMarked) marked++;
            // RFC 9002 B.7: a rise of ECN-CE is a congestion event for the largest newly acknowledged packet's send time.
            if (ecn.OnAck(space, ack.Ecn, marked)) _cc.OnPacketsLost(newest, 0, now);
        }

        DetectAndRemoveLostPackets(s, now, sink);

        for (int i = 0; i < _acked.Count; i++)
        {
            var p = _acked[i];
            _cc.OnPacketAcked(p, now);
            sink.OnPacketAcked(p);
            Release(p);
        }
        _acked.Clear();

        // A client unsure whether the server validated its address keeps backing off (A.7).
        if (PeerCompletedAddressValidation) _ptoCount = 0;
        SetLossDetectionTimer(now);
        return true;
    }

    /// <summary>The loss detection timer fired (A.9): time-threshold loss, or a PTO asking the sink for probes.</summary>
    public void OnLossDetectionTimeout(long now, ILossDetectionSink sink)
    {
        if (now > _lastNow) _lastNow = now;
        if (_timer == NotSet || now < _timer) return; // not due (a stale wake-up)

        long lossTime = GetLossTimeAndSpace(out int lossSpace);
        if (lossTime != NotSet)
        {
            DetectAndRemoveLostPackets(lossSpace, now, sink);
            SetLossDetectionTimer(now);
            return;
        }

        if (TotalAckElicitingInFlight() == 0)
        {
            // Client anti-deadlock probe: a Handshake packet proves address ownership, a padded Initial earns credit.
            sink.SendProbes(_hasKeys[(int)PacketNumberSpace.Handshake] ? PacketNumberSpace.Handshake : PacketNumberSpace.Initial, 1);
        }
        else
        {
            GetPtoTimeAndSpace(now, out int ptoSpace);
            sink.SendProbes((PacketNumberSpace)ptoSpace, ProbePacketCount);
        }
        _ptoCount++;
        SetLossDetectionTimer(now);
    }

    /// <summary>
    /// Keys of the space were dropped (§6.4, A.10): its packets are forgotten without being declared lost, leave bytes in
    /// flight, and the PTO backoff restarts.
    /// </summary>
    public void DiscardSpace(PacketNumberSpace space)
    {
        int s = (int)space;
        _lost.Clear();
        _sent[s].Clear(_lost);
        for (int i = 0; i < _lost.Count; i++)
        {
            _cc.RemoveFromBytesInFlight(_lost[i]);
            Release(_lost[i]);
        }
        _lost.Clear();
        _timeOfLastAckEliciting[s] = 0;
        _lossTime[s] = NotSet;
        _ackElicitingInFlight[s] = 0;
        _hasKeys[s] = false;
        _ptoCount = 0;
        SetLossDetectionTimer(_lastNow);
    }

    /// <summary>
    /// Everything sent in the space so far is lost, without a congestion signal: the server rejected 0-RTT (RFC 9001
    /// §4.6.2 — the data goes again in 1-RTT packets; RFC 9002 §6.4 does not count it as congestion).
    /// </summary>
    public void DeclareAllLost(PacketNumberSpace space, ILossDetectionSink sink)
    {
        int s = (int)space;
        _lost.Clear();
        _sent[s].Clear(_lost);
        _ackElicitingInFlight[s] = 0;
        _lossTime[s] = NotSet;
        for (int i = 0; i < _lost.Count; i++)
        {
            _cc.RemoveFromBytesInFlight(_lost[i]);
            sink.OnPacketLost(_lost[i]);
            Release(_lost[i]);
        }
        _lost.Clear();
        SetLossDetectionTimer(_lastNow);
    }

    private static bool AcksSkippedNumber(in AckFrame ack, SentPacketHistory history)
    {
        foreach (var range in ack.GetRanges())
        {
            if (range.Largest < history.BasePacketNumber) break;
            ulong hi = Math.Min(range.Largest, history.NewestPacketNumber);
            ulong lo = Math.Max(range.Smallest, history.BasePacketNumber);
            for (ulong pn = lo; pn <= hi; pn++)
                if (ReferenceEquals(history.Get(pn), SentPacketHistory.Skipped)) return true;
        }
        return false;
    }

    private static long ScaleAckDelay(ulong raw, int exponent)
    {
        if (exponent < 0 || exponent > 20) exponent = 20;
        // Saturate instead of overflowing on a hostile delay: it is clamped or ignored by the RTT update anyway.
        return raw > (ulong)(long.MaxValue >> 2) >> exponent ? long.MaxValue >> 2 : (long)(raw << exponent);
    }

    /// <summary>DetectAndRemoveLostPackets (A.10) plus OnPacketsLost: congestion event, persistent congestion, sink.</summary>
    private void DetectAndRemoveLostPackets(int s, long now, ILossDetectionSink sink)
    {
        _lossTime[s] = NotSet;
        var history = _sent[s];
        if (_largestAcked[s] is not ulong largestAcked || history.IsEmpty) return;

        long lossDelay = Math.Max(Math.Max(_rtt.LatestRtt, _rtt.SmoothedRtt) * 9 / 8, RttEstimator.Granularity);
        long lostSendTime = now - lossDelay;
        long pcDuration = (_rtt.SmoothedRtt + Math.Max(4 * _rtt.RttVar, RttEstimator.Granularity) + MaxAckDelay)
                          * PersistentCongestionThreshold;

        _lost.Clear();
        long lostBytes = 0;
        SentPacket? newestLost = null;
        // Persistent congestion (§7.6.2): two ack-eliciting packets lost, sent after the first RTT sample, more than
        // the duration apart, with nothing acknowledged between them. A slot emptied before this pass (acked, or lost
        // earlier) or a packet not lost breaks the run — conservative, like treating every gap as an acknowledgment.
        long runStart = NotSet;
        bool persistent = false;

        ulong end = Math.Min(largestAcked, history.NewestPacketNumber);
        for (ulong pn = history.BasePacketNumber; pn <= end; pn++)
        {
            var p = history.Get(pn);
            if (p is null) { runStart = NotSet; continue; }
            if (ReferenceEquals(p, SentPacketHistory.Skipped)) continue;
            if (p.TimeSent <= lostSendTime || largestAcked >= pn + PacketThreshold)
            {
                history.Remove(pn);
                if (p.EcnMarked) Ecn?.OnMarkedPacketLost();
                if (p.InFlight && p.IsPathMtuProbe)
                {
                    // RFC 9000 §14.4: a lost probe leaves the window alone; it only stops counting as in flight.
                    if (p.AckEliciting) _ackElicitingInFlight[s]--;
                    _cc.RemoveFromBytesInFlight(p);
                }
                else if (p.InFlight)
                {
                    if (p.AckEliciting) _ackElicitingInFlight[s]--;
                    lostBytes += p.Size;
                    if (newestLost is null || p.TimeSent >= newestLost.TimeSent) newestLost = p;
                }
                _lost.Add(p);
                if (p.AckEliciting && _rtt.HasSample && p.TimeSent > _firstRttSampleTime)
                {
                    if (runStart == NotSet) runStart = p.TimeSent;
                    else if (p.TimeSent - runStart > pcDuration) persistent = true;
                }
            }
            else
            {
                long t = p.TimeSent + lossDelay;
                if (t < _lossTime[s]) _lossTime[s] = t;
                runStart = NotSet;
            }
        }
        if (_lost.Count == 0) return;
        PacketsDeclaredLost += _lost.Count;

        if (newestLost is not null)
        {
            _cc.OnPacketsLost(newestLost, lostBytes, now);
            if (persistent) _cc.OnPersistentCongestion();
        }
        for (int i = 0; i < _lost.Count; i++)
        {
            sink.OnPacketLost(_lost[i]);
            Release(_lost[i]);
        }
        _lost.Clear();
    }

    /// <summary>
    /// A PTO with nothing new to send (RFC 9002 §6.2.4: previously sent data MAY be sent): takes the oldest ack-eliciting
    /// packet in flight in <paramref name="space"/> out of recovery so that its frames can go out again in the probe,
    /// instead of a bare PING that only earns an ACK and leaves the resend for one more round trip after it (which, with
    /// PTOs backed off under heavy loss, has been tens of seconds: the ngtcp2 30 %-loss failures). No congestion event:
    /// a PTO is not a loss signal (§7). A later ACK of the packet finds nothing and is ignored, like one of a lost packet.
    /// The caller re-queues the frames and returns the packet with <see cref="ReturnPacket"/>. quic-go's QueueProbePacket
    /// and ngtcp2's reclaim on PTO do the same.
    /// </summary>
    /// <param name="maxSize">The packet is taken only if it is no bigger (what the probes still have room for).</param>
    public bool TryTakeOldestForProbe(PacketNumberSpace space, int maxSize, out SentPacket packet)
    {
        int s = (int)space;
        var history = _sent[s];
        packet = null!;
        if (history.IsEmpty) return false;
        for (ulong pn = history.BasePacketNumber; pn <= history.NewestPacketNumber; pn++)
        {
            var p = history.Get(pn);
            if (p is null || ReferenceEquals(p, SentPacketHistory.Skipped) || !p.AckEliciting || !p.InFlight || p.IsPathMtuProbe) continue;
            if (p.Size > maxSize) return false;
            history.Remove(pn);
            _ackElicitingInFlight[s]--;
            _cc.RemoveFromBytesInFlight(p);
            // To ECN validation it is lost like any other (a path that drops every marked packet still fails it, §13.4.2.1).
            if (p.EcnMarked) Ecn?.OnMarkedPacketLost();
            packet = p;
            return true;
        }
        return false;
    }

    private int TotalAckElicitingInFlight() => _ackElicitingInFlight[0] + _ackElicitingInFlight[1] + _ackElicitingInFlight[2];

    private long GetLossTimeAndSpace(out int space)
    {
        long time = NotSet;
        space = 0;
        for (int s = 0; s < SpaceCount; s++)
        {
            if (_lossTime[s] < time)
            {
                time = _lossTime[s];
                space = s;
            }
        }
        return time;
    }

    private long GetPtoTimeAndSpace(long now, out int space)
    {
        int backoff = Math.Min(_ptoCount, 30);
        long duration = Saturate(_rtt.ProbeTimeout(false, 0), backoff);
        if (TotalAckElicitingInFlight() == 0)
        {
            // Anti-deadlock PTO (client before address validation) counts from now.
            space = _hasKeys[(int)PacketNumberSpace.Handshake] ? (int)PacketNumberSpace.Handshake : (int)PacketNumberSpace.Initial;
            return AddSaturating(now, duration);
        }
        long timeout = NotSet;
        space = 0;
        for (int s = 0; s < SpaceCount; s++)
        {
            if (_ackElicitingInFlight[s] == 0) continue;
            if (s == (int)PacketNumberSpace.ApplicationData)
            {
                // No Application Data PTO before handshake confirmation (§6.2.1); afterwards it includes max_ack_delay.
                if (!_handshakeConfirmed) return timeout;
                duration = AddSaturating(duration, Saturate(MaxAckDelay, backoff));
            }
            long t = AddSaturating(_timeOfLastAckEliciting[s], duration);
            if (t < timeout)
            {
                timeout = t;
                space = s;
            }
        }
        return timeout;
    }

    private void SetLossDetectionTimer(long now)
    {
        long lossTime = GetLossTimeAndSpace(out _);
        if (lossTime != NotSet)
        {
            _timer = lossTime;
            return;
        }
        if (_amplificationBlocked)
        {
            _timer = NotSet; // the server could not send a probe anyway (A.8)
            return;
        }
        if (TotalAckElicitingInFlight() == 0 && PeerCompletedAddressValidation)
        {
            _timer = NotSet;
            return;
        }
        if (now == long.MinValue) now = 0; // nothing sent or received yet: any origin will do
        _timer = GetPtoTimeAndSpace(now, out _);
    }

    private void Release(SentPacket p)
    {
        if (p.Pooled) throw new InvalidOperationException("packet released twice");
        p.Clear();
        p.Pooled = true;
        if (_poolCount == _pool.Length) Array.Resize(ref _pool, _pool.Length * 2);
        _pool[_poolCount++] = p;
    }

    private static long Saturate(long value, int shift) => value > long.MaxValue >> (shift + 1) ? long.MaxValue / 2 : value << shift;

    private static long AddSaturating(long a, long b) => b > 0 && a > long.MaxValue - b ? long.MaxValue - 1 : a + b;
}
