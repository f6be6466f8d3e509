using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Model;

namespace FastRelay.Protocols.Moq.Relay.Cache;

/// <summary>What <see cref="TrackCache.Add"/> did with an object.</summary>
public enum CacheAddResult
{
    Added,
    /// <summary>Already cached with the same fields (a duplicate from a second publisher or a retransmission).</summary>
    Duplicate,
    /// <summary>Already cached with different fields: the track is malformed (draft-19 §"Caching Relays").</summary>
    Conflict,
    /// <summary>Not kept: older than what was evicted, or its group outgrew the bound while it was the newest.</summary>
    NotCached,
}

/// <summary>
/// One track's group/object cache for late joiners (joining FETCH) and FETCH. Bounded in bytes by its own limit and by
/// its <see cref="CacheBudget"/> chain (session, global): over a bound, the oldest groups go first; the newest group is
/// always kept, and when the newest group alone reaches the track's bound its later objects are not cached (the group
/// is marked truncated, so a FETCH never mistakes the missing tail for objects that do not exist). Payloads are the
/// shared buffers the objects arrived in: caching copies nothing. Thread-safe; its lock is a leaf.
/// </summary>
public sealed class TrackCache : IDisposable
{
    private static long s_stamp;

    private readonly object _lock = new();
    private readonly SortedList<ulong, CachedGroup> _groups = new();
    private readonly CacheBudget _budget;
    private long _bytes;
    private long _objects;
    private ulong? _evictedThrough;
    private MoqLocation? _unknownThrough;
    private bool _disposed;

    public TrackCache(long trackLimitBytes, CacheBudget budget)
    {
        if (trackLimitBytes <= 0) throw new ArgumentOutOfRangeException(nameof(trackLimitBytes));
        TrackLimitBytes = trackLimitBytes;
        _budget = budget;
        budget.Register(this);
    }

    public long TrackLimitBytes { get; }

    public long Bytes => Interlocked.Read(ref _bytes);

    public long ObjectCount => Interlocked.Read(ref _objects);

    public int GroupCount
    {
        get { lock (_lock) return _groups.Count; }
    }

    public ulong? NewestGroup
    {
        get { lock (_lock) return _groups.Count == 0 ? null : _groups.Keys[^1]; }
    }

    public ulong? OldestGroup
    {
        get { lock (_lock) return _groups.Count == 0 ? null : _groups.Keys[0]; }
    }

    /// <summary>Groups at or below this were evicted (or are known to be incomplete here): FETCH cannot vouch for them.</summary>
    public ulong? EvictedThrough
    {
        get { lock (_lock) return _evictedThrough; }
    }

    public CacheAddResult Add(in RelayObject obj)
    {
        CacheAddResult result;
        lock (_lock)
        {
            result = AddLocked(obj);
        }
        if (result == CacheAddResult.Added && _budget.IsOverAnywhere && !_budget.EvictUntilWithinBounds())
        {
            // A session or global bound is exceeded and only newest groups are left anywhere: this object goes again.
            lock (_lock)
                UndoLocked(obj);
            return CacheAddResult.NotCached;
        }
        return result;
    }

    private CacheAddResult AddLocked(in RelayObject obj)
    {
        if (_disposed || (_evictedThrough is { } evicted && obj.Group <= evicted))
            return CacheAddResult.NotCached;
        if (!_groups.TryGetValue(obj.Group, out var group))
        {
            group = new CachedGroup(obj.Group, Interlocked.Increment(ref s_stamp));
            _groups.Add(obj.Group, group);
            _bytes += GroupOverheadBytes;
            _budget.Charge(GroupOverheadBytes);
        }
        int index = group.Find(obj.ObjectId);
        if (index >= 0)
            return group.Objects[index].SameAs(obj) ? CacheAddResult.Duplicate : CacheAddResult.Conflict;
        if (group.Truncated)
            return CacheAddResult.NotCached;

        long charge = obj.ChargedBytes;
        // Make room in this track first: oldest groups, never the newest.
        while (_bytes + charge > TrackLimitBytes && _groups.Count > 1 && _groups.Keys[0] != obj.Group && EvictOldestLocked()) { }
        if (_bytes + charge > TrackLimitBytes)
        {
            // What is left (the newest group) alone would break the bound: keep its prefix, stop caching it.
            group.Truncated = true;
            return CacheAddResult.NotCached;
        }
        group.Objects.Insert(~index, obj);
        group.Bytes += charge;
        _bytes += charge;
        _objects++;
        _budget.Charge(charge);
        return CacheAddResult.Added;
    }

    private void UndoLocked(in RelayObject obj)
    {
        if (!_groups.TryGetValue(obj.Group, out var group)) return;
        group.Truncated = true;
        int index = group.Find(obj.ObjectId);
        if (index < 0) return;
        long charge = group.Objects[index].ChargedBytes;
        group.Objects.RemoveAt(index);
        group.Bytes -= charge;
        _bytes -= charge;
        _objects--;
        _budget.Release(charge);
    }

    /// <summary>Per-group bookkeeping charged against the bounds, so a flood of one-object groups is bounded too.</summary>
    public const int GroupOverheadBytes = 128;

    /// <summary>
    /// Objects at or before <paramref name="location"/> were published before this relay's upstream subscription began
    /// (the Largest Location of SUBSCRIBE_OK): it never received them, so a FETCH reaching back there is incomplete.
    /// </summary>
    public void MarkUnknownThrough(MoqLocation location)
    {
        lock (_lock)
        {
            if (_unknownThrough is not { } u || u < location)
                _unknownThrough = location;
        }
    }

    /// <summary>The stamp of the oldest group if this cache has one it may evict (it has more than one), else max.</summary>
    internal long OldestEvictableStamp
    {
        get
        {
            lock (_lock)
                return _groups.Count > 1 ? _groups.Values[0].Stamp : long.MaxValue;
        }
    }

    internal bool EvictOldestGroup()
    {
        lock (_lock)
            return EvictOldestLocked();
    }

    private bool EvictOldestLocked()
    {
        if (_groups.Count <= 1) return false;
        ulong id = _groups.Keys[0];
        RemoveGroupLocked(0);
        if (_evictedThrough is not { } e || e < id)
            _evictedThrough = id;
        return true;
    }

    private void RemoveGroupLocked(int index)
    {
        var group = _groups.Values[index];
        _groups.RemoveAt(index);
        long freed = group.Bytes + GroupOverheadBytes;
        _bytes -= freed;
        _objects -= group.Objects.Count;
        _budget.Release(freed);
    }

    /// <summary>
    /// The cached objects in [<paramref name="start"/>, <paramref name="end"/>] (inclusive), groups in the given order,
    /// objects in Object ID order. <paramref name="complete"/> is false when part of the range may hold objects this cache
    /// does not have (evicted, truncated, or before the upstream subscription started).
    /// </summary>
    public List<RelayObject> Range(MoqLocation start, MoqLocation end, bool descending, out bool complete)
    {
        var found = new List<RelayObject>();
        lock (_lock)
        {
            complete = (_evictedThrough is not { } e || e < start.Group) && (_unknownThrough is not { } u || u < start);
            var groups = new List<CachedGroup>();
            foreach (var (id, group) in _groups)
            {
                if (id < start.Group) continue;
                if (id > end.Group) break;
                groups.Add(group);
            }
            if (descending) groups.Reverse();
            foreach (var group in groups)
            {
                if (group.Truncated && group.Id <= end.Group)
                    complete = false;
                foreach (var obj in group.Objects)
                {
                    var at = obj.Location;
                    if (at < start) continue;
                    if (at > end) break;
                    found.Add(obj);
                }
            }
        }
        return found;
    }

    /// <summary>Frees everything and leaves the budgets; later adds are ignored.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            while (_groups.Count > 0)
                RemoveGroupLocked(0);
        }
        _budget.Unregister(this);
    }
}
