namespace FastRelay.Protocols.Quic.Recovery;

/// <summary>
/// Pacing (RFC 9002 §7.7) for any congestion controller: a leaky bucket filled at 1.25·cwnd/smoothed_rtt whose
/// capacity (the burst limit) is the initial window. Without an <see cref="RttEstimator"/>, or before its first
/// sample, the bucket stays full and nothing is delayed.
/// </summary>
public sealed class Pacer
{
    /// <summary>Pacing gain N = 1.25 (§7.7).</summary>
    private const double PacingGain = 1.25;

    private readonly RttEstimator? _rtt;
    private readonly long _burst;
    // Tokens in bytes (may go negative when a caller sends ahead of NextSendTime), refilled lazily.
    private double _tokens;
    private long _lastUpdate = long.MinValue;

    public Pacer(RttEstimator? rtt, long burst)
    {
        _rtt = rtt;
        _burst = burst;
        _tokens = burst;
    }

    /// <summary>A packet of <paramref name="bytes"/> left at <paramref name="now"/>.</summary>
    public void OnSent(int bytes, long now, long congestionWindow)
    {
        Refill(now, congestionWindow);
        _tokens -= bytes;
    }

    /// <summary>The earliest time <paramref name="bytes"/> may be sent; <paramref name="now"/> if no delay.</summary>
    public long NextSendTime(int bytes, long now, long congestionWindow)
    {
        if (_rtt is null || !_rtt.HasSample) return now;
        Refill(now, congestionWindow);
        if (_tokens >= bytes) return now;
        return now + (long)Math.Ceiling((bytes - _tokens) / Rate(congestionWindow));
    }

    /// <summary>Bytes per microsecond: N·cwnd/smoothed_rtt.</summary>
    private double Rate(long congestionWindow) => PacingGain * congestionWindow / Math.Max(_rtt!.SmoothedRtt, 1);

    private void Refill(long now, long congestionWindow)
    {
        if (_lastUpdate == long.MinValue || now <= _lastUpdate)
        {
            if (_lastUpdate == long.MinValue) _lastUpdate = now;
            return;
        }
        long elapsed = now - _lastUpdate;
        _lastUpdate = now;
        if (_rtt is null || !_rtt.HasSample)
        {
            _tokens = _burst; // no pacing without an RTT: the bucket stays full
            return;
        }
        // Burst limit = initial window (§7.7 "SHOULD limit bursts to the initial congestion window").
        _tokens = Math.Min(_burst, _tokens + elapsed * Rate(congestionWindow));
    }
}
