namespace FastRelay.Protocols.Quic.Tls.Resumption;

/// <summary>
/// 0-RTT anti-replay (RFC 8446 §8, RFC 9001 §9.2). Chosen design: a single-use ticket cache bounded in time and size.
/// <list type="bullet">
/// <item>0-RTT is accepted only for tickets issued less than <see cref="Window"/> ago (resumption without 0-RTT stays
///   possible for the whole ticket lifetime), and only when the client's ticket age agrees with ours within
///   <see cref="AgeTolerance"/> (§8.3: a stale replayed ClientHello fails this).</item>
/// <item>Each ticket's id is remembered until its window ends; a second use within the window is refused (§8.1's
///   single-use idea, keyed by ticket instead of by a server-side session).</item>
/// <item>When the cache is full of live entries we refuse 0-RTT ("reject when in doubt"); the handshake still
///   resumes, the client just resends its early data in 1-RTT.</item>
/// </list>
/// Scope: one guard per server (listener). Several servers sharing a ticket key would need a shared cache; they don't here.
/// Thread-safe.
/// </summary>
public sealed class EarlyDataReplayGuard(TimeSpan window, int capacity = EarlyDataReplayGuard.DefaultCapacity)
{
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromHours(1);
    public static readonly TimeSpan AgeTolerance = TimeSpan.FromSeconds(10);
    public const int DefaultCapacity = 100_000;

    private readonly Dictionary<UInt128, long> _used = [];
    private readonly Lock _lock = new();
    private long _nextPurge;

    public TimeSpan Window { get; } = window;
    public int Count { get { lock (_lock) return _used.Count; } }

    /// <summary>
    /// Whether 0-RTT may be accepted for this ticket now; true records the use. <paramref name="clientAgeMs"/> is the age the
    /// client reports (obfuscated age minus age_add).
    /// </summary>
    public bool TryAccept(UInt128 ticketId, long issuedAtUnixMs, uint clientAgeMs, long nowUnixMs)
    {
        long age = nowUnixMs - issuedAtUnixMs;
        long windowMs = (long)Window.TotalMilliseconds;
        if (age < 0 || age >= windowMs) return false;
        if (Math.Abs(age - clientAgeMs) > (long)AgeTolerance.TotalMilliseconds) return false;
        long expiry = issuedAtUnixMs + windowMs;
        lock (_lock)
        {
            if (_used.ContainsKey(ticketId)) return false;
            if (_used.Count >= capacity && nowUnixMs >= _nextPurge)
            {
                foreach (var (id, until) in _used)
                    if (until <= nowUnixMs) _used.Remove(id);
                // A full cache of live entries is not rescanned on every attempt.
                _nextPurge = nowUnixMs + 1000;
            }
            if (_used.Count >= capacity) return false;
            _used[ticketId] = expiry;
            return true;
        }
    }
}
