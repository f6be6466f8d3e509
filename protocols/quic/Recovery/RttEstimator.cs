namespace FastRelay.Protocols.Quic.Recovery;

/// <summary>
/// RTT estimation (RFC 9002 §5, Appendix A.7 UpdateRtt). All values in microseconds; integer arithmetic
/// (3/4 and 7/8 weights are applied as (3a+b)/4 and (7a+b)/8, truncating).
/// </summary>
public sealed class RttEstimator
{
    /// <summary>kGranularity (RFC 9002 §6.1.2): 1 ms.</summary>
    public const long Granularity = 1_000;

    public long LatestRtt;
    public long SmoothedRtt;
    public long RttVar;
    /// <summary>0 until the first sample.</summary>
    public long MinRtt;
    public bool HasSample;

    private readonly long _initialRtt;

    public RttEstimator(long initialRtt = 333_000)
    {
        if (initialRtt <= 0) throw new ArgumentOutOfRangeException(nameof(initialRtt));
        _initialRtt = initialRtt;
        SmoothedRtt = initialRtt;
        RttVar = initialRtt / 2;
    }

    /// <summary>Back to the initial estimate: the peer moved to a network path we know nothing about (RFC 9000 §9.4).</summary>
    public void ResetForNewPath()
    {
        SmoothedRtt = _initialRtt;
        RttVar = _initialRtt / 2;
        LatestRtt = 0;
        MinRtt = 0;
        HasSample = false;
    }

    /// <summary>
    /// Takes one RTT sample. <paramref name="ackDelay"/> is the peer's reported delay (already scaled to µs); it is
    /// limited to <paramref name="maxAckDelay"/> once the handshake is confirmed (§5.3) and only subtracted when the
    /// result stays at or above min_rtt, so a peer cannot talk the estimate below what was observed.
    /// </summary>
    public void Update(long latestRtt, long ackDelay, bool handshakeConfirmed, long maxAckDelay)
    {
        if (latestRtt < 0) latestRtt = 0; // a clock that went backwards must not poison the estimate
        LatestRtt = latestRtt;
        if (!HasSample)
        {
            HasSample = true;
            MinRtt = latestRtt;
            SmoothedRtt = latestRtt;
            RttVar = latestRtt / 2;
            return;
        }

        // min_rtt ignores the acknowledgment delay (§5.2).
        if (latestRtt < MinRtt) MinRtt = latestRtt;
        if (ackDelay < 0) ackDelay = 0;
        if (handshakeConfirmed && ackDelay > maxAckDelay) ackDelay = maxAckDelay;

        long adjusted = latestRtt;
        if (latestRtt >= MinRtt + ackDelay) adjusted = latestRtt - ackDelay;

        RttVar = (3 * RttVar + Math.Abs(SmoothedRtt - adjusted)) / 4;
        SmoothedRtt = (7 * SmoothedRtt + adjusted) / 8;
    }

    /// <summary>PTO base (§6.2.1): smoothed_rtt + max(4·rttvar, kGranularity) (+ max_ack_delay), before backoff.</summary>
    public long ProbeTimeout(bool includeMaxAckDelay, long maxAckDelay) =>
        SmoothedRtt + Math.Max(4 * RttVar, Granularity) + (includeMaxAckDelay ? maxAckDelay : 0);
}
