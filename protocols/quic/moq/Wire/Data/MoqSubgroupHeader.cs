namespace FastRelay.Protocols.Moq.Wire.Data;

/// <summary>How a SUBGROUP_HEADER gives the Subgroup ID (type bits 1-2).</summary>
public enum MoqSubgroupIdMode : byte
{
    /// <summary>Absent, the Subgroup ID is 0.</summary>
    Zero = 0,
    /// <summary>Absent, the Subgroup ID is the first object's Object ID.</summary>
    FirstObjectId = 1,
    /// <summary>Present in the header.</summary>
    Explicit = 2,
}

/// <summary>
/// SUBGROUP_HEADER (§"Subgroup Header"): type 0b0XX1XXXX with PROPERTIES 0x01, SUBGROUP_ID_MODE 0x06, END_OF_GROUP 0x08,
/// DEFAULT_PRIORITY 0x20, FIRST_OBJECT 0x40; then Track Alias, Group ID, [Subgroup ID], [Publisher Priority].
/// <see cref="PublisherPriority"/> null means "inherit the subscription's" (DEFAULT_PRIORITY set).
/// </summary>
public sealed record MoqSubgroupHeader(ulong TrackAlias, ulong GroupId, MoqSubgroupIdMode SubgroupIdMode, ulong SubgroupId,
    byte? PublisherPriority, bool HasProperties = false, bool EndOfGroup = false, bool FirstObject = false)
{
    private const byte PropertiesBit = 0x01, EndOfGroupBit = 0x08, DefaultPriorityBit = 0x20, FirstObjectBit = 0x40;

    /// <summary>True for the stream types that are SUBGROUP_HEADERs (reserved mode 0b11 excluded).</summary>
    public static bool IsSubgroupType(ulong type) => type < 0x80 && (type & 0x10) != 0 && (type & 0x06) != 0x06;

    public byte StreamType =>
        (byte)(0x10 | (HasProperties ? PropertiesBit : 0) | ((byte)SubgroupIdMode << 1) | (EndOfGroup ? EndOfGroupBit : 0) |
               (PublisherPriority is null ? DefaultPriorityBit : 0) | (FirstObject ? FirstObjectBit : 0));

    /// <summary>Writes the whole header including the stream type.</summary>
    public void Write(MoqWriter writer)
    {
        writer.WriteVarint(StreamType);
        writer.WriteVarint(TrackAlias);
        writer.WriteVarint(GroupId);
        if (SubgroupIdMode == MoqSubgroupIdMode.Explicit) writer.WriteVarint(SubgroupId);
        if (PublisherPriority is { } p) writer.WriteByte(p);
    }

    /// <summary>Parses the fields after a stream type already read as <paramref name="type"/>.</summary>
    public static MoqParseStatus TryParseAfterType(ulong type, ReadOnlySpan<byte> source, out MoqSubgroupHeader header, out int consumed, out MoqError error)
    {
        header = null!;
        consumed = 0;
        error = MoqError.None;
        if (!IsSubgroupType(type)) { error = MoqError.Protocol("invalid SUBGROUP_HEADER type"); return MoqParseStatus.Malformed; }
        var mode = (MoqSubgroupIdMode)((type & 0x06) >> 1);
        int at = 0;
        if (!Next(source, ref at, out ulong alias) || !Next(source, ref at, out ulong group)) return MoqParseStatus.NeedMoreData;
        ulong subgroup = 0;
        if (mode == MoqSubgroupIdMode.Explicit && !Next(source, ref at, out subgroup)) return MoqParseStatus.NeedMoreData;
        byte? priority = null;
        if ((type & DefaultPriorityBit) == 0)
        {
            if (at >= source.Length) return MoqParseStatus.NeedMoreData;
            priority = source[at++];
        }
        header = new MoqSubgroupHeader(alias, group, mode, subgroup, priority, (type & PropertiesBit) != 0, (type & EndOfGroupBit) != 0, (type & FirstObjectBit) != 0);
        consumed = at;
        return MoqParseStatus.Complete;
    }

    private static bool Next(ReadOnlySpan<byte> source, ref int at, out ulong value)
    {
        if (!MoqVarint.TryRead(source[at..], out value, out int n)) return false;
        at += n;
        return true;
    }
}
