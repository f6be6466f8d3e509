namespace FastRelay.Protocols.Quic.Recovery;

/// <summary>Which congestion controller a connection runs; every one sits behind <see cref="ICongestionController"/>.</summary>
public enum CongestionControlAlgorithm
{
    /// <summary>RFC 9002 Appendix B: halves on loss, one datagram per round trip in avoidance.</summary>
    NewReno,
    /// <summary>RFC 9438: ×0.7 on loss, cubic regrowth independent of the RTT.</summary>
    Cubic,
}

public static class CongestionControllers
{
    public static ICongestionController Create(CongestionControlAlgorithm algorithm, int maxDatagramSize, RttEstimator rtt) => algorithm switch
    {
        CongestionControlAlgorithm.NewReno => new NewRenoCongestionController(maxDatagramSize),
        CongestionControlAlgorithm.Cubic => new CubicCongestionController(maxDatagramSize, rtt),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "unknown congestion control algorithm"),
    };
}
