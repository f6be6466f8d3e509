using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Model;

namespace FastRelay.Protocols.Moq.Relay.Cache;

/// <summary>One group's cached objects, sorted by Object ID (subgroups interleave; FETCH wants Object ID order).</summary>
internal sealed class CachedGroup
{
    public CachedGroup(ulong id, long stamp)
    {
        Id = id;
        Stamp = stamp;
    }

    public ulong Id { get; }

    /// <summary>When the group was first cached (a relay-wide counter): eviction takes the smallest across caches.</summary>
    public long Stamp { get; }

    public List<RelayObject> Objects { get; } = [];

    public long Bytes { get; set; }

    /// <summary>The group outgrew the track's bound while it was the newest: later objects were not cached.</summary>
    public bool Truncated { get; set; }

    /// <summary>Index of the object with this ID, or the bitwise complement of where it would go.</summary>
    public int Find(ulong objectId)
    {
        int lo = 0, hi = Objects.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            ulong id = Objects[mid].ObjectId;
            if (id == objectId) return mid;
            if (id < objectId) lo = mid + 1;
            else hi = mid - 1;
        }
        return ~lo;
    }
}
