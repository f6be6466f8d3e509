namespace FastRelay.Protocols.Moq.Wire;

/// <summary>
/// The object-level Range Filters of one subscription (draft-19 §"Range Filters"): SUBGROUP, OBJECTID, PRIORITY and
/// OBJECT_PROPERTY filters. Filters with the same SetID must all match (AND); the object passes when any set does (OR).
/// No filter: everything passes. TRACK_PROPERTY filters select tracks (SUBSCRIBE_TRACKS) and are ignored here.
/// </summary>
public sealed class MoqRangeFilterSet
{
    public static readonly MoqRangeFilterSet None = new([]);

    private readonly MoqRangeFilter[][] _sets;

    private MoqRangeFilterSet(MoqRangeFilter[][] sets) => _sets = sets;

    public IReadOnlyList<MoqRangeFilter> Filters => _sets.SelectMany(s => s).ToList();

    public bool IsEmpty => _sets.Length == 0;

    public static MoqRangeFilterSet From(IEnumerable<MoqRangeFilter> filters)
    {
        var sets = filters.Where(f => !f.IsRemoval && f.Kind != MoqParameterType.TrackPropertyFilter)
            .GroupBy(f => f.SetId).Select(g => g.ToArray()).ToArray();
        return sets.Length == 0 ? None : new MoqRangeFilterSet(sets);
    }

    /// <summary>
    /// REQUEST_UPDATE: each filter type the update names replaces all filters of that type (an empty one removes them);
    /// types it does not name are unchanged.
    /// </summary>
    public MoqRangeFilterSet Update(IReadOnlyList<MoqRangeFilter> update)
    {
        if (update.Count == 0) return this;
        var replaced = update.Select(f => f.Kind).ToHashSet();
        return From(Filters.Where(f => !replaced.Contains(f.Kind)).Concat(update));
    }

    /// <summary>
    /// Why these filters must be refused with INVALID_FILTER (a value that overflowed or is out of range, the same type,
    /// SetID and property type twice, more ranges than <paramref name="maxRanges"/> — 0 when we announced none); null if fine.
    /// </summary>
    public static string? Invalid(IReadOnlyList<MoqRangeFilter> filters, ulong maxRanges)
    {
        if (filters.Count == 0) return null;
        if (filters.FirstOrDefault(f => f.InvalidReason is not null) is { } bad) return bad.InvalidReason;
        if (filters.GroupBy(f => (f.Kind, f.SetId, f.PropertyType)).Any(g => g.Count() > 1)) return "the same range filter twice";
        long ranges = filters.Sum(f => (long)f.Ranges.Count);
        if ((ulong)ranges > maxRanges) return maxRanges == 0 ? "range filters were not offered (MAX_FILTER_RANGES 0)" : "more filter ranges than MAX_FILTER_RANGES";
        return null;
    }

    /// <summary>Does an object with these header fields and properties pass?</summary>
    public bool Passes(ulong subgroup, ulong objectId, byte priority, IReadOnlyList<MoqKeyValuePair> properties)
    {
        if (_sets.Length == 0) return true;
        foreach (var set in _sets)
        {
            bool all = true;
            foreach (var filter in set)
            {
                if (!Matches(filter, subgroup, objectId, priority, properties))
                {
                    all = false;
                    break;
                }
            }
            if (all) return true;
        }
        return false;
    }

    private static bool Matches(MoqRangeFilter filter, ulong subgroup, ulong objectId, byte priority, IReadOnlyList<MoqKeyValuePair> properties)
    {
        switch (filter.Kind)
        {
            case MoqParameterType.SubgroupFilter: return filter.Matches(subgroup);
            case MoqParameterType.ObjectIdFilter: return filter.Matches(objectId);
            case MoqParameterType.PriorityFilter: return filter.Matches(priority);
            case MoqParameterType.ObjectPropertyFilter:
                // An object without the (integer-valued) property does not pass.
                for (int i = 0; i < properties.Count; i++)
                    if (properties[i].Type == filter.PropertyType && !properties[i].IsBytes && filter.Matches(properties[i].IntValue))
                        return true;
                return false;
            default: return true;
        }
    }
}
