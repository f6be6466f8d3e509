namespace FastRelay.Protocols.Moq.Wire;

/// <summary>Location filter types (draft-19 §"Location Filters").</summary>
public enum MoqFilterType : ulong
{
    NextGroupStart = 0x1,
    LargestObject = 0x2,
    AbsoluteStart = 0x3,
    AbsoluteRange = 0x4,
}

/// <summary>
/// A Location Filter: NextGroupStart and LargestObject carry nothing, AbsoluteStart a start Location, AbsoluteRange a
/// start Location and an End Group Delta (0 = the rest of the start group; otherwise end group = start group + delta).
/// </summary>
public sealed record MoqLocationFilter(MoqFilterType Type, MoqLocation Start = default, ulong EndGroupDelta = 0)
{
    public static MoqLocationFilter NextGroupStart() => new(MoqFilterType.NextGroupStart);
    public static MoqLocationFilter LargestObject() => new(MoqFilterType.LargestObject);
    public static MoqLocationFilter AbsoluteStart(MoqLocation start) => new(MoqFilterType.AbsoluteStart, start);
    public static MoqLocationFilter AbsoluteRange(MoqLocation start, ulong endGroupDelta) => new(MoqFilterType.AbsoluteRange, start, endGroupDelta);

    /// <summary>The last group delivered by an AbsoluteRange filter (null for open-ended filters).</summary>
    public ulong? EndGroup => Type == MoqFilterType.AbsoluteRange ? Start.Group + EndGroupDelta : null;

    /// <summary>Decodes from the parameter's bytes; an unknown type or an end group past 2^64-1 is PROTOCOL_VIOLATION.</summary>
    public static bool TryParse(ReadOnlyMemory<byte> bytes, out MoqLocationFilter filter, out MoqError error)
    {
        filter = null!;
        var r = new MoqReader(bytes);
        if (!r.TryReadVarint(out ulong type)) { error = MoqError.Protocol("truncated location filter"); return false; }
        MoqLocation start = default;
        ulong delta = 0;
        switch ((MoqFilterType)type)
        {
            case MoqFilterType.NextGroupStart:
            case MoqFilterType.LargestObject:
                break;
            case MoqFilterType.AbsoluteStart:
                if (!r.TryReadLocation(out start)) { error = MoqError.Protocol("truncated location filter start"); return false; }
                break;
            case MoqFilterType.AbsoluteRange:
                if (!r.TryReadLocation(out start) || !r.TryReadVarint(out delta)) { error = MoqError.Protocol("truncated location filter range"); return false; }
                if (delta > ulong.MaxValue - start.Group) { error = MoqError.Protocol("location filter end group overflows"); return false; }
                break;
            default:
                error = MoqError.Protocol("unknown location filter type");
                return false;
        }
        if (!r.IsEnd) { error = MoqError.Protocol("trailing bytes in location filter"); return false; }
        filter = new MoqLocationFilter((MoqFilterType)type, start, delta);
        error = MoqError.None;
        return true;
    }

    public byte[] Encode()
    {
        var w = new MoqWriter(24);
        w.WriteVarint((ulong)Type);
        if (Type is MoqFilterType.AbsoluteStart or MoqFilterType.AbsoluteRange) w.WriteLocation(Start);
        if (Type == MoqFilterType.AbsoluteRange) w.WriteVarint(EndGroupDelta);
        return w.ToArray();
    }
}
