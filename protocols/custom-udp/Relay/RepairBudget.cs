namespace FastRelay.Protocols.CustomUdp.Relay;

/// <summary>
/// The bytes of repairs one subscriber may still get: a token bucket of <c>burst</c> bytes refilled at <c>rate</c> bytes
/// per second. A subscriber that keeps NACKing (or whose address an attacker NACKs from) gets at most that much traffic
/// from the relay however many NACKs arrive. Used by one thread at a time (the repair worker).
/// </summary>
public sealed class RepairBudget(long burstBytes, long bytesPerSecond)
{
    private long _tokens = burstBytes;
    private long _refilledNs;

    /// <summary>Takes <paramref name="bytes"/> when the bucket holds them.</summary>
    public bool TryTake(int bytes, long nowNs)
    {
        if (_refilledNs == 0)
            _refilledNs = nowNs;
        // Whole bytes only, and the clock advances only by the time they stand for: calls microseconds apart must not
        // each round their share down to nothing.
        var earned = (long)((nowNs - _refilledNs) / 1e9 * bytesPerSecond);
        if (earned > 0)
        {
            _refilledNs += (long)(earned * 1e9 / bytesPerSecond);
            _tokens += earned;
        }
        if (_tokens >= burstBytes)
        {
            _tokens = burstBytes;
            _refilledNs = nowNs;
        }
        if (_tokens < bytes)
            return false;
        _tokens -= bytes;
        return true;
    }
}
