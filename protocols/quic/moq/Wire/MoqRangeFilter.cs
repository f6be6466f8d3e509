namespace FastRelay.Protocols.Moq.Wire;

/// <summary>One inclusive range of a Range Filter; <see cref="End"/> null means no end (only the last range).</summary>
public readonly record struct MoqRange(ulong Start, ulong? End);

/// <summary>
/// A Range Filter parameter (draft-19 §"Range Filters", types 0x25..0x29): a SetID, a property type for the two
/// property filters, then delta-encoded Start/End pairs. An empty value (allowed in REQUEST_UPDATE) removes the filter.
/// Faults the draft answers with REQUEST_ERROR INVALID_FILTER rather than a session close (delta overflow, priority over
/// 255, odd property type) are reported in <see cref="InvalidReason"/> for the request handler, not as parse errors.
/// </summary>
public sealed record MoqRangeFilter(MoqParameterType Kind, byte SetId, ulong PropertyType, IReadOnlyList<MoqRange> Ranges)
{
    public bool IsRemoval { get; init; }
    public string? InvalidReason { get; init; }

    public static bool IsRangeFilter(MoqParameterType type) => type is >= MoqParameterType.SubgroupFilter and <= MoqParameterType.TrackPropertyFilter;

    private bool HasPropertyType => Kind is MoqParameterType.ObjectPropertyFilter or MoqParameterType.TrackPropertyFilter;

    /// <summary>True when <paramref name="value"/> falls in one of the ranges.</summary>
    public bool Matches(ulong value) => Ranges.Any(r => value >= r.Start && (r.End is null || value <= r.End));

    public static bool TryParse(MoqParameterType kind, ReadOnlyMemory<byte> bytes, out MoqRangeFilter filter, out MoqError error)
    {
        filter = null!;
        error = MoqError.None;
        if (bytes.IsEmpty)
        {
            filter = new MoqRangeFilter(kind, 0, 0, Array.Empty<MoqRange>()) { IsRemoval = true };
            return true;
        }
        var r = new MoqReader(bytes);
        r.TryReadByte(out byte setId);
        ulong propertyType = 0;
        bool property = kind is MoqParameterType.ObjectPropertyFilter or MoqParameterType.TrackPropertyFilter;
        if (property && !r.TryReadVarint(out propertyType)) { error = MoqError.Protocol("truncated range filter property type"); return false; }
        var ranges = new List<MoqRange>();
        string? invalid = property && (propertyType & 1) == 1 ? "property filter on an odd (byte-valued) property type" : null;
        ulong previousEnd = 0;
        while (!r.IsEnd)
        {
            if (!r.TryReadVarint(out ulong startDelta)) { error = MoqError.Protocol("truncated range start"); return false; }
            if (startDelta > ulong.MaxValue - previousEnd) { invalid ??= "range start overflows"; break; }
            ulong start = previousEnd + startDelta;
            if (r.IsEnd) { ranges.Add(new MoqRange(start, null)); break; }
            if (!r.TryReadVarint(out ulong endDelta)) { error = MoqError.Protocol("truncated range end"); return false; }
            if (endDelta > ulong.MaxValue - start) { invalid ??= "range end overflows"; break; }
            previousEnd = start + endDelta;
            ranges.Add(new MoqRange(start, previousEnd));
        }
        if (kind == MoqParameterType.PriorityFilter && ranges.Any(x => x.Start > 255 || x.End > 255)) invalid ??= "priority range over 255";
        filter = new MoqRangeFilter(kind, setId, propertyType, ranges) { InvalidReason = invalid };
        return true;
    }

    public byte[] Encode()
    {
        if (IsRemoval) return Array.Empty<byte>();
        var w = new MoqWriter(32);
        w.WriteByte(SetId);
        if (HasPropertyType) w.WriteVarint(PropertyType);
        ulong previousEnd = 0;
        for (int i = 0; i < Ranges.Count; i++)
        {
            var range = Ranges[i];
            w.WriteVarint(range.Start - previousEnd);
            if (range.End is null)
            {
                if (i != Ranges.Count - 1) throw new InvalidOperationException("only the last range may be open-ended");
                break;
            }
            w.WriteVarint(range.End.Value - range.Start);
            previousEnd = range.End.Value;
        }
        return w.ToArray();
    }

    public bool Equals(MoqRangeFilter? other) =>
        other is not null && Kind == other.Kind && SetId == other.SetId && PropertyType == other.PropertyType &&
        IsRemoval == other.IsRemoval && InvalidReason == other.InvalidReason && Ranges.SequenceEqual(other.Ranges);

    public override int GetHashCode() => HashCode.Combine(Kind, SetId, PropertyType, Ranges.Count);
}
