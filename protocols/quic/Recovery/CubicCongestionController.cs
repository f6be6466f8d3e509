namespace FastRelay.Protocols.Quic.Recovery;

/// <summary>
/// CUBIC (RFC 9438) on QUIC's loss signals. Slow start and the once-per-round-trip recovery period are as in
/// <see cref="NewRenoCongestionController"/>; what differs is the window after a loss (×0.7, not ×0.5) and its growth
/// in congestion avoidance, which follows W_cubic(t) = C·(t−K)³ + W_max from the moment of the last reduction
/// instead of one datagram per round trip: concave back up to the window where the loss happened, then convex
/// beyond it. So on a long fat path the window returns to where it was in seconds, whatever the RTT, where Reno
/// needs one round trip per datagram. Where Reno would grow faster (short RTTs, small windows) the Reno-friendly
/// estimate W_est wins (§4.3). Windows are kept in bytes as doubles; the formula works in segments (mds).
/// </summary>
public sealed class CubicCongestionController : ICongestionController
{
    /// <summary>C, in segments per second³ (§5.1).</summary>
    public const double C = 0.4;
    /// <summary>β_cubic: the window after a congestion event (§4.6).</summary>
    public const double Beta = 0.7;
    /// <summary>α_cubic = 3(1−β)/(1+β): Reno-friendly growth per round trip until W_est reaches cwnd_prior (§4.3).</summary>
    private const double AlphaCubic = 3 * (1 - Beta) / (1 + Beta);

    private readonly RttEstimator _rtt;
    private readonly Pacer _pacer;
    private readonly int _mds;
    private double _cwnd;
    private long _bytesInFlight;
    private double _ssthresh = double.PositiveInfinity;
    /// <summary>long.MinValue = never in recovery (time 0 is a valid instant on an arbitrary monotonic clock).</summary>
    private long _recoveryStartTime = long.MinValue;

    // Congestion-avoidance epoch (§4.2): set at a reduction, or at the first ACK of avoidance when unset.
    private long _epochStart = long.MinValue;
    private double _wMax;          // bytes: the window just before the last reduction (or less, with fast convergence)
    private double _k;             // seconds until W_cubic reaches W_max again
    private double _wEst;          // bytes: the Reno-friendly estimate
    private double _cwndPrior;     // bytes: the window before the last reduction

    /// <param name="pace">Pace sends (§7.7) from the RTT estimate; the connection turns it on where it paces.</param>
    public CubicCongestionController(int maxDatagramSize, RttEstimator rtt, bool pace = false)
    {
        if (maxDatagramSize < 1200) throw new ArgumentOutOfRangeException(nameof(maxDatagramSize), "QUIC requires at least 1200 bytes");
        _mds = maxDatagramSize;
        _rtt = rtt;
        _cwnd = InitialWindow;
        _pacer = new Pacer(pace ? rtt : null, InitialWindow);
    }

    public long InitialWindow => CongestionWindows.Initial(_mds);
    public long MinimumWindow => CongestionWindows.Minimum(_mds);
    public long CongestionWindow => (long)_cwnd;
    public long BytesInFlight => _bytesInFlight;
    /// <summary>long.MaxValue until the first congestion event.</summary>
    public long SlowStartThreshold => double.IsPositiveInfinity(_ssthresh) ? long.MaxValue : (long)_ssthresh;
    public bool InSlowStart => _cwnd < _ssthresh;
    /// <summary>W_max in bytes (0 before the first congestion event).</summary>
    public long WindowBeforeReduction => (long)_wMax;
    /// <summary>K in microseconds: when, after the last reduction, the cubic curve reaches W_max again.</summary>
    public long TimeToWindowBeforeReduction => (long)(_k * 1e6);

    /// <summary>As in NewReno: application- or flow-control-limited ACKs prove nothing about a larger window (§5.8).</summary>
    public bool ApplicationLimited { get; set; }

    public bool CanSend(int bytes) => _bytesInFlight + bytes <= (long)_cwnd;

    public void OnPacketSent(SentPacket p)
    {
        if (!p.InFlight) return;
        _bytesInFlight += p.Size;
        _pacer.OnSent(p.Size, p.TimeSent, CongestionWindow);
    }

    public void OnPacketAcked(SentPacket p, long now)
    {
        if (!p.InFlight) return;
        _bytesInFlight -= p.Size;
        if (ApplicationLimited || p.TimeSent <= _recoveryStartTime) return;
        if (_cwnd < _ssthresh)
        {
            _cwnd += p.Size;
            return;
        }
        GrowInAvoidance(p.Size, now);
    }

    public void OnPacketsLost(SentPacket largestLost, long lostBytes, long now)
    {
        _bytesInFlight -= lostBytes;
        // One reduction per round trip: packets sent before the current recovery period began are already paid for.
        if (largestLost.TimeSent <= _recoveryStartTime) return;
        _recoveryStartTime = now;
        // Fast convergence (§4.7): a flow whose window keeps falling short of its last W_max releases bandwidth.
        _wMax = _cwnd < _wMax ? _cwnd * (1 + Beta) / 2 : _cwnd;
        _cwndPrior = _cwnd;
        _ssthresh = Math.Max(_cwnd * Beta, MinimumWindow);
        _cwnd = _ssthresh;
        StartEpoch(now);
    }

    public void ResetForNewPath()
    {
        _cwnd = InitialWindow;
        _ssthresh = double.PositiveInfinity;
        _recoveryStartTime = long.MinValue;
        _epochStart = long.MinValue;
        _wMax = 0;
        _cwndPrior = 0;
    }

    public void OnPersistentCongestion()
    {
        // §4.8 (as for a retransmission timeout): down to the minimum window; avoidance starts a new epoch from there.
        _ssthresh = Math.Max(_cwnd * Beta, MinimumWindow);
        _cwnd = MinimumWindow;
        _recoveryStartTime = long.MinValue;
        _epochStart = long.MinValue;
    }

    public void RemoveFromBytesInFlight(SentPacket p)
    {
        if (p.InFlight) _bytesInFlight -= p.Size;
    }

    public long NextSendTime(int bytes, long now) => _pacer.NextSendTime(bytes, now, CongestionWindow);

    private void StartEpoch(long now)
    {
        _epochStart = now;
        if (_wMax < _cwnd) _wMax = _cwnd; // entering avoidance without a reduction: the curve starts flat at cwnd
        _k = Math.Cbrt((_wMax - _cwnd) / _mds / C);
        _wEst = _cwnd;
        if (_cwndPrior == 0) _cwndPrior = _cwnd;
    }

    private void GrowInAvoidance(int ackedBytes, long now)
    {
        if (_epochStart == long.MinValue) StartEpoch(now);
        double t = (now - _epochStart) / 1e6;
        double rtt = (_rtt.HasSample ? _rtt.SmoothedRtt : _rtt.LatestRtt) / 1e6;

        // Reno-friendly estimate (§4.3): α_cubic per round trip until it passes the pre-reduction window, then 1.
        double alpha = _wEst >= _cwndPrior ? 1.0 : AlphaCubic;
        _wEst += alpha * _mds * ackedBytes / _cwnd;

        if (WCubic(t) < _wEst)
        {
            _cwnd = Math.Max(_cwnd, _wEst);
            return;
        }
        // Concave/convex region (§4.4, §4.5): aim at W_cubic one RTT ahead, at most 1.5·cwnd (§4.2).
        double target = Math.Clamp(WCubic(t + rtt), _cwnd, 1.5 * _cwnd);
        _cwnd += (target - _cwnd) * ackedBytes / _cwnd;
    }

    /// <summary>W_cubic(t) in bytes.</summary>
    private double WCubic(double t)
    {
        double d = t - _k;
        return C * d * d * d * _mds + _wMax;
    }
}
