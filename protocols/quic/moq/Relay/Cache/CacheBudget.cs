using FastRelay.Protocols.Moq.Wire;
namespace FastRelay.Protocols.Moq.Relay.Cache;

/// <summary>
/// A byte bound shared by several track caches: the relay's global cache bound, and below it one per publishing
/// session (a session's tracks share its budget, which also charges the global one). When a budget is over its bound,
/// the caches registered with it give up their oldest groups, oldest first across caches; every cache always keeps its
/// newest group. Counters are atomic; the cache set has its own lock, never held while a cache's lock is taken.
/// </summary>
public sealed class CacheBudget
{
    private readonly HashSet<TrackCache> _caches = [];
    private long _used;

    public CacheBudget(long limitBytes, CacheBudget? parent = null)
    {
        if (limitBytes <= 0) throw new ArgumentOutOfRangeException(nameof(limitBytes), "a cache bound must be positive");
        LimitBytes = limitBytes;
        Parent = parent;
    }

    public long LimitBytes { get; }
    public CacheBudget? Parent { get; }
    public long UsedBytes => Interlocked.Read(ref _used);

    public int CacheCount
    {
        get { lock (_caches) return _caches.Count; }
    }

    /// <summary>This budget or one above it is over its bound.</summary>
    public bool IsOverAnywhere => UsedBytes > LimitBytes || (Parent?.IsOverAnywhere ?? false);

    internal void Charge(long bytes)
    {
        for (var b = this; b is not null; b = b.Parent)
            Interlocked.Add(ref b._used, bytes);
    }

    internal void Release(long bytes) => Charge(-bytes);

    internal void Register(TrackCache cache)
    {
        for (var b = this; b is not null; b = b.Parent)
            lock (b._caches) b._caches.Add(cache);
    }

    internal void Unregister(TrackCache cache)
    {
        for (var b = this; b is not null; b = b.Parent)
            lock (b._caches) b._caches.Remove(cache);
    }

    /// <summary>
    /// While this budget or one above is over its bound, evicts the oldest evictable group among the caches of the
    /// budget that is over. Returns false when a bound is still exceeded and nothing is evictable (only newest groups
    /// are left).
    /// </summary>
    internal bool EvictUntilWithinBounds()
    {
        for (var b = this; b is not null; b = b.Parent)
        {
            while (b.UsedBytes > b.LimitBytes)
            {
                if (!b.EvictOldestGroup())
                    return false;
            }
        }
        return true;
    }

    private bool EvictOldestGroup()
    {
        // A victim may have changed between the scan and the eviction; retry a few times, then give up for now.
        for (int attempt = 0; attempt < 4; attempt++)
        {
            TrackCache? victim = null;
            long oldest = long.MaxValue;
            lock (_caches)
            {
                foreach (var cache in _caches)
                {
                    long stamp = cache.OldestEvictableStamp;
                    if (stamp < oldest)
                    {
                        oldest = stamp;
                        victim = cache;
                    }
                }
            }
            if (victim is null)
                return false;
            if (victim.EvictOldestGroup())
                return true;
        }
        return false;
    }
}
