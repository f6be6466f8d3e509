namespace FastRelay.Protocols.Quic.Recovery;

/// <summary>
/// Datagram Packetization Layer PMTU Discovery (RFC 8899 as RFC 9000 §14.3 applies it), the logic without I/O.
/// <list type="bullet">
/// <item>The search starts from the size the connection already uses (1200 or the configured 1452) and probes up to
///   min(the peer's max_udp_payload_size, our configured maximum, e.g. the interface MTU minus IP/UDP headers): the maximum
///   first (on loopback or jumbo paths it usually fits at once), then a binary search between the largest confirmed size
///   and the smallest size that failed.</item>
/// <item>A probe is one ack-eliciting packet of exactly the probe size (PING + PADDING). Acknowledged: that size is
///   confirmed and used. Lost <see cref="MaxProbes"/> times: that size is too big. The search ends when the interval is
///   below <see cref="SearchResolution"/> bytes, and starts again after the raise interval (600 s by default: the path may grow).</item>
/// <item>Black hole (RFC 8899 §4.3): <see cref="BlackHoleLosses"/> packets above <see cref="BasePlpmtu"/> lost, each sent after
///   the newest such packet that was acknowledged → fall back to 1200 bytes and search again. A burst of congestion loss
///   does not count: packets sent after the lost ones got through at the same size.</item>
/// </list>
/// Probe losses are not congestion (LossDetection skips them); all times in microseconds. Not thread-safe (one per connection).
/// </summary>
public sealed class PathMtuDiscovery
{
    public const int BasePlpmtu = 1200;
    public const int MaxProbes = 3;
    public const int SearchResolution = 16;
    public const int BlackHoleLosses = 6;
    /// <summary>RFC 8899 §5.1.1 PMTU_RAISE_TIMER.</summary>
    public static readonly TimeSpan DefaultRaiseInterval = TimeSpan.FromSeconds(600);

    private readonly long _raiseInterval;

    private readonly int _localMax;
    private int _maxProbe;
    private int _failedAt = int.MaxValue;
    private int _probeSize;
    private int _failures;
    private bool _probeInFlight;
    private bool _searching;
    private long _nextSearch;
    private int _largeLossesInARow;
    private long _newestLargeAckedSentAt = long.MinValue;

    /// <param name="current">Size in use before any probe (≥ 1200).</param>
    /// <param name="localMax">Largest UDP payload this end is willing to probe (0 disables discovery).</param>
    /// <param name="raiseInterval">Between the end of a search and the next one (null: <see cref="DefaultRaiseInterval"/>).</param>
    public PathMtuDiscovery(int current, int localMax, TimeSpan? raiseInterval = null)
    {
        _raiseInterval = Math.Max(1, (long)(raiseInterval ?? DefaultRaiseInterval).TotalMicroseconds);
        CurrentSize = Math.Max(BasePlpmtu, current);
        _localMax = localMax;
    }

    /// <summary>Largest UDP payload confirmed (or assumed at the start) for this path.</summary>
    public int CurrentSize { get; private set; }
    public bool IsEnabled => _localMax > CurrentSize;
    /// <summary>Discovery was asked for (black-hole detection runs even after the search reached the maximum).</summary>
    public bool IsConfigured => _localMax > 0;
    public int ProbesSent { get; private set; }
    public int BlackHolesDetected { get; private set; }

    /// <summary>The peer's max_udp_payload_size is known (handshake done): discovery may start.</summary>
    public void Start(ulong peerMaxUdpPayloadSize, long now)
    {
        _maxProbe = (int)Math.Min((ulong)_localMax, peerMaxUdpPayloadSize);
        if (CurrentSize > _maxProbe) CurrentSize = Math.Max(BasePlpmtu, _maxProbe);
        _searching = _maxProbe > CurrentSize;
        _nextSearch = now;
    }

    /// <summary>The size of the probe to send now, if one is due (none while one is in flight).</summary>
    public bool TryGetProbeSize(long now, out int size)
    {
        size = 0;
        if (_probeInFlight) return false;
        if (!_searching)
        {
            if (_maxProbe <= CurrentSize || now < _nextSearch) return false;
            _searching = true;
            _failedAt = int.MaxValue;
        }
        int high = Math.Min(_maxProbe, _failedAt - 1);
        if (high - CurrentSize < SearchResolution)
        {
            EndSearch(now);
            return false;
        }
        // The first probe of a search tries the maximum; later ones halve the remaining interval.
        if (_failures == 0) _probeSize = _failedAt == int.MaxValue ? high : CurrentSize + (high - CurrentSize + 1) / 2;
        size = _probeSize;
        _probeInFlight = true;
        ProbesSent++;
        return true;
    }

    public void OnProbeAcknowledged(int size)
    {
        _probeInFlight = false;
        _failures = 0;
        if (size > CurrentSize) CurrentSize = size;
        _largeLossesInARow = 0;
    }

    /// <summary>The probe could not be sent after all (congestion window, buffer): it does not count.</summary>
    public void CancelProbe()
    {
        _probeInFlight = false;
        ProbesSent--;
    }

    public void OnProbeLost(int size)
    {
        _probeInFlight = false;
        if (++_failures < MaxProbes) return;
        _failures = 0;
        _failedAt = Math.Min(_failedAt, size);
    }

    /// <summary>An ordinary packet was acknowledged (its size above 1200 proves the path carries it).</summary>
    public void OnPacketAcknowledged(int size, long sentAt)
    {
        if (size <= BasePlpmtu) return;
        _largeLossesInARow = 0;
        _newestLargeAckedSentAt = Math.Max(_newestLargeAckedSentAt, sentAt);
    }

    /// <summary>An ordinary packet was lost; true when that makes a black hole (the size fell back to 1200).</summary>
    public bool OnPacketLost(int size, long sentAt)
    {
        if (size <= BasePlpmtu || sentAt <= _newestLargeAckedSentAt || ++_largeLossesInARow < BlackHoleLosses) return false;
        _largeLossesInARow = 0;
        _failedAt = CurrentSize;
        CurrentSize = BasePlpmtu;
        BlackHolesDetected++;
        _searching = true;
        _failures = 0;
        return true;
    }

    private void EndSearch(long now)
    {
        _searching = false;
        _nextSearch = now + _raiseInterval;
    }
}
