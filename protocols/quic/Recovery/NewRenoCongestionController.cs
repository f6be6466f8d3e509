namespace FastRelay.Protocols.Quic.Recovery;

/// <summary>
/// NewReno as specified by RFC 9002 §7 and Appendix B (the default; see <see cref="CubicCongestionController"/>): slow start, a recovery period that reduces the window once per
/// round trip (a loss of a packet sent before the period started is not a new event), congestion avoidance by
/// appropriate byte counting (RFC 3465 §2.1: one max_datagram_size per window of acknowledged bytes, exact in
/// integers), persistent congestion down to the minimum window. Pacing (§7.7) is the <see cref="Pacer"/>; it needs the
/// connection's <see cref="RttEstimator"/> and is off (no delay) without one or before the first RTT sample.
/// </summary>
public sealed class NewRenoCongestionController : ICongestionController
{
    /// <summary>kLossReductionFactor 0.5 as a divisor.</summary>
    private const int LossReductionDivisor = 2;
    private readonly Pacer _pacer;
    private readonly int _maxDatagramSize;
    private long _congestionWindow;
    private long _bytesInFlight;
    private long _ssthresh = long.MaxValue;
    /// <summary>long.MinValue = never in recovery (time 0 is a valid instant on an arbitrary monotonic clock).</summary>
    private long _recoveryStartTime = long.MinValue;
    private long _bytesAckedInAvoidance;

    public NewRenoCongestionController(int maxDatagramSize, RttEstimator? rtt = null)
    {
        if (maxDatagramSize < 1200) throw new ArgumentOutOfRangeException(nameof(maxDatagramSize), "QUIC requires at least 1200 bytes");
        _maxDatagramSize = maxDatagramSize;
        _congestionWindow = InitialWindow;
        _pacer = new Pacer(rtt, InitialWindow);
    }

    public long InitialWindow => CongestionWindows.Initial(_maxDatagramSize);
    public long MinimumWindow => CongestionWindows.Minimum(_maxDatagramSize);

    public int MaxDatagramSize => _maxDatagramSize;
    public long CongestionWindow => _congestionWindow;
    public long BytesInFlight => _bytesInFlight;
    /// <summary>long.MaxValue until the first congestion event.</summary>
    public long SlowStartThreshold => _ssthresh;
    public bool InSlowStart => _congestionWindow < _ssthresh;

    /// <summary>
    /// Set by the connection when it is application or flow-control limited (RFC 9002 §7.8): the window does not grow
    /// from acknowledgments then, since they prove nothing about a larger window.
    /// </summary>
    public bool ApplicationLimited { get; set; }

    public bool CanSend(int bytes) => _bytesInFlight + bytes <= _congestionWindow;

    public void OnPacketSent(SentPacket p)
    {
        if (!p.InFlight) return; // ACK-only packets are neither counted nor paced (§7.7)
        _bytesInFlight += p.Size;
        _pacer.OnSent(p.Size, p.TimeSent, _congestionWindow);
    }

    public void OnPacketAcked(SentPacket p, long now)
    {
        if (!p.InFlight) return;
        _bytesInFlight -= p.Size;
        if (ApplicationLimited) return;
        if (InCongestionRecovery(p.TimeSent)) return;
        if (_congestionWindow < _ssthresh)
        {
            _congestionWindow += p.Size;
            return;
        }
        // Congestion avoidance: cwnd += mds·acked/cwnd, accumulated so integer division loses nothing.
        _bytesAckedInAvoidance += p.Size;
        if (_bytesAckedInAvoidance >= _congestionWindow)
        {
            _bytesAckedInAvoidance -= _congestionWindow;
            _congestionWindow += _maxDatagramSize;
        }
    }

    public void OnPacketsLost(SentPacket largestLost, long lostBytes, long now)
    {
        _bytesInFlight -= lostBytes;
        OnCongestionEvent(largestLost.TimeSent, now);
    }

    public void ResetForNewPath()
    {
        _congestionWindow = InitialWindow;
        _ssthresh = long.MaxValue;
        _recoveryStartTime = long.MinValue;
        _bytesAckedInAvoidance = 0;
    }

    public void OnPersistentCongestion()
    {
        _congestionWindow = MinimumWindow;
        _recoveryStartTime = long.MinValue;
        _bytesAckedInAvoidance = 0;
    }

    public void RemoveFromBytesInFlight(SentPacket p)
    {
        if (p.InFlight) _bytesInFlight -= p.Size;
    }

    public long NextSendTime(int bytes, long now) => _pacer.NextSendTime(bytes, now, _congestionWindow);

    private bool InCongestionRecovery(long sentTime) => sentTime <= _recoveryStartTime;

    private void OnCongestionEvent(long sentTime, long now)
    {
        // One reduction per round trip: packets sent before the current recovery period began are already paid for.
        if (InCongestionRecovery(sentTime)) return;
        _recoveryStartTime = now;
        _ssthresh = _congestionWindow / LossReductionDivisor;
        _congestionWindow = Math.Max(_ssthresh, MinimumWindow);
        _bytesAckedInAvoidance = 0;
    }
}
