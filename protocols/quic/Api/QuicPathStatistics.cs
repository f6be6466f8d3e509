using FastRelay.Protocols.Quic.Recovery;

namespace FastRelay.Protocols.Quic.Api;

/// <summary>
/// A consistent snapshot of what the connection's congestion controller and RTT estimator believe, for applications
/// that schedule by it (a relay choosing what to drop under congestion, a status view). Times in microseconds;
/// PacketsLost counts every packet declared lost since the connection began.
/// </summary>
public readonly record struct QuicPathStatistics(
    CongestionControlAlgorithm CongestionControl,
    long CongestionWindow,
    long BytesInFlight,
    long SmoothedRtt,
    long MinRtt,
    long RttVariation,
    bool HasRttSample,
    long PacketsLost = 0,
    long UnsentBytes = 0);
