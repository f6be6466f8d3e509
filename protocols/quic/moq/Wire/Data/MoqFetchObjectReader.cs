namespace FastRelay.Protocols.Moq.Wire.Data;

/// <summary>An End of Range marker on a fetch stream (§"End of Range").</summary>
public readonly record struct MoqFetchEndOfRange(MoqLocation Location, bool Unknown);

/// <summary>
/// Reads the objects of a FETCH_HEADER stream (§"Fetch Header"): Serialization Flags, then the fields they say are
/// present, resolved against the prior object. The group direction of Group ID Delta follows the fetch's group order.
/// Like <see cref="MoqSubgroupObjectReader"/> it is incremental and only commits state on a whole item.
/// </summary>
public sealed class MoqFetchObjectReader
{
    public const ulong EndOfNonExistentRange = 0x8C;
    public const ulong EndOfUnknownRange = 0x10C;

    internal const ulong SubgroupMask = 0x03, ObjectIdPresent = 0x04, GroupIdPresent = 0x08, PriorityPresent = 0x10,
        PropertiesPresent = 0x20, DatagramFlag = 0x40;

    private readonly MoqGroupOrder _order;
    private readonly MoqDataLimits _limits;
    private bool _first = true;
    private ulong _priorGroup, _priorObject;
    private ulong? _priorSubgroup;
    private byte? _priorPriority;

    public MoqFetchObjectReader(MoqGroupOrder order = MoqGroupOrder.Ascending, MoqDataLimits? limits = null)
    {
        _order = order;
        _limits = limits ?? MoqDataLimits.Default;
    }

    /// <summary>
    /// Reads one object or one End of Range from the start of <paramref name="source"/>. Exactly one of
    /// <paramref name="obj"/> and <paramref name="endOfRange"/> is set on Complete.
    /// </summary>
    public MoqParseStatus TryRead(ReadOnlyMemory<byte> source, out MoqObject? obj, out MoqFetchEndOfRange? endOfRange,
        out int consumed, out int needed, out MoqError error)
    {
        obj = null;
        endOfRange = null;
        consumed = 0;
        needed = source.Length + 1;
        error = MoqError.None;
        var span = source.Span;
        int at = 0;
        if (!Next(span, ref at, out ulong flags)) return MoqParseStatus.NeedMoreData;
        bool isEndOfRange = flags is EndOfNonExistentRange or EndOfUnknownRange;
        bool unknownRange = flags == EndOfUnknownRange;
        if (flags >= 128 && !isEndOfRange) { error = MoqError.Protocol("invalid fetch serialization flags"); return MoqParseStatus.Malformed; }
        if (isEndOfRange) flags = GroupIdPresent | ObjectIdPresent; // the location fields, nothing else

        bool datagram = !isEndOfRange && (flags & DatagramFlag) != 0;
        ulong subgroupMode = datagram || isEndOfRange ? 0 : flags & SubgroupMask;
        if (_first && ((flags & (GroupIdPresent | ObjectIdPresent)) != (GroupIdPresent | ObjectIdPresent)))
        { error = MoqError.Protocol("first fetch object must carry its group and object IDs"); return MoqParseStatus.Malformed; }
        if (!isEndOfRange && (subgroupMode is 1 or 2) && _priorSubgroup is null)
        { error = MoqError.Protocol("fetch object refers to a prior subgroup that does not exist"); return MoqParseStatus.Malformed; }
        if (!isEndOfRange && (flags & PriorityPresent) == 0 && _priorPriority is null)
        { error = MoqError.Protocol("fetch object refers to a prior priority that does not exist"); return MoqParseStatus.Malformed; }

        ulong group = _priorGroup;
        bool groupPresent = (flags & GroupIdPresent) != 0;
        if (groupPresent)
        {
            if (!Next(span, ref at, out ulong groupDelta)) return MoqParseStatus.NeedMoreData;
            if (_first) group = groupDelta;
            else if (_order == MoqGroupOrder.Ascending)
            {
                if (groupDelta >= ulong.MaxValue - _priorGroup) { error = MoqError.Protocol("fetch group ID overflows"); return MoqParseStatus.Malformed; }
                group = _priorGroup + groupDelta + 1;
            }
            else
            {
                if (groupDelta >= _priorGroup) { error = MoqError.Protocol("fetch group ID below zero"); return MoqParseStatus.Malformed; }
                group = _priorGroup - groupDelta - 1;
            }
        }
        ulong? subgroup = null;
        if (!datagram && !isEndOfRange)
        {
            switch (subgroupMode)
            {
                case 0: subgroup = 0; break;
                case 1: subgroup = _priorSubgroup; break;
                case 2:
                    if (_priorSubgroup == ulong.MaxValue) { error = MoqError.Protocol("fetch subgroup ID overflows"); return MoqParseStatus.Malformed; }
                    subgroup = _priorSubgroup + 1;
                    break;
            }
        }
        // Wire order: Group ID Delta, Subgroup ID, Object ID Delta, Priority, Properties, Length, Payload.
        if (!datagram && !isEndOfRange && subgroupMode == 3)
        {
            if (!Next(span, ref at, out ulong explicitSubgroup)) return MoqParseStatus.NeedMoreData;
            subgroup = explicitSubgroup;
        }
        ulong objectId;
        if ((flags & ObjectIdPresent) != 0)
        {
            if (!Next(span, ref at, out ulong objectDelta)) return MoqParseStatus.NeedMoreData;
            if (_first || groupPresent) objectId = objectDelta;
            else
            {
                // "the prior Object's ID plus the Object ID Delta" (§"Flags"), taken literally.
                if (objectDelta > ulong.MaxValue - _priorObject) { error = MoqError.Protocol("fetch object ID overflows"); return MoqParseStatus.Malformed; }
                objectId = _priorObject + objectDelta;
            }
        }
        else
        {
            if (_priorObject == ulong.MaxValue) { error = MoqError.Protocol("fetch object ID overflows"); return MoqParseStatus.Malformed; }
            objectId = _priorObject + 1;
        }

        if (isEndOfRange)
        {
            _first = false;
            _priorGroup = group;
            _priorObject = objectId;
            endOfRange = new MoqFetchEndOfRange(new MoqLocation(group, objectId), unknownRange);
            consumed = needed = at;
            return MoqParseStatus.Complete;
        }

        byte priority;
        if ((flags & PriorityPresent) != 0)
        {
            if (at >= span.Length) return MoqParseStatus.NeedMoreData;
            priority = span[at++];
        }
        else priority = _priorPriority!.Value;

        IReadOnlyList<MoqKeyValuePair> properties = Array.Empty<MoqKeyValuePair>();
        if ((flags & PropertiesPresent) != 0)
        {
            var s = MoqObjectProperties.TryRead(source, ref at, _limits, out var list, out error);
            if (s != MoqParseStatus.Complete) return s;
            properties = list;
        }
        if (!Next(span, ref at, out ulong payloadLength)) return MoqParseStatus.NeedMoreData;
        if (payloadLength > (ulong)_limits.MaxObjectPayload) { error = MoqError.Protocol("object payload over the local limit"); return MoqParseStatus.TooLarge; }
        if ((ulong)(span.Length - at) < payloadLength) { needed = at + (int)payloadLength; return MoqParseStatus.NeedMoreData; }
        var payload = source.Slice(at, (int)payloadLength);
        at += (int)payloadLength;

        _first = false;
        _priorGroup = group;
        _priorObject = objectId;
        if (subgroup.HasValue) _priorSubgroup = subgroup;
        _priorPriority = priority;
        obj = new MoqObject
        {
            GroupId = group, SubgroupId = subgroup, ObjectId = objectId, PublisherPriority = priority,
            Status = MoqObjectStatus.Normal, Properties = properties, Payload = payload,
        };
        consumed = needed = at;
        return MoqParseStatus.Complete;
    }

    private static bool Next(ReadOnlySpan<byte> span, ref int at, out ulong value)
    {
        if (!MoqVarint.TryRead(span[at..], out value, out int n)) return false;
        at += n;
        return true;
    }
}
