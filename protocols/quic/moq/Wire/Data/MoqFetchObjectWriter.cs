namespace FastRelay.Protocols.Moq.Wire.Data;

/// <summary>
/// Serializes the objects of a fetch stream after FETCH_HEADER, choosing the shortest flags: a Group ID Delta only
/// when the group changes, the Object ID implied when it is the prior one plus one, priority and subgroup implied
/// when unchanged.
/// </summary>
public sealed class MoqFetchObjectWriter
{
    private readonly MoqGroupOrder _order;
    private bool _first = true;
    private ulong _priorGroup, _priorObject;
    private ulong? _priorSubgroup;
    private byte? _priorPriority;

    public MoqFetchObjectWriter(MoqGroupOrder order = MoqGroupOrder.Ascending) => _order = order;

    /// <summary>Writes FETCH_HEADER (type 0x5 + Request ID).</summary>
    public static void WriteHeader(MoqWriter writer, ulong requestId)
    {
        writer.WriteVarint(MoqStreamHeader.FetchHeaderType);
        writer.WriteVarint(requestId);
    }

    /// <summary>Writes one object; <see cref="MoqObject.SubgroupId"/> null means a datagram-preference object.</summary>
    public void Write(MoqWriter writer, MoqObject obj, bool includePayload = true)
    {
        ulong flags = 0;
        bool groupChanged = _first || obj.GroupId != _priorGroup;
        if (groupChanged) flags |= MoqFetchObjectReader.GroupIdPresent;
        if (groupChanged || obj.ObjectId != _priorObject + 1) flags |= MoqFetchObjectReader.ObjectIdPresent;
        if (_priorPriority != obj.PublisherPriority) flags |= MoqFetchObjectReader.PriorityPresent;
        if (obj.Properties.Count > 0) flags |= MoqFetchObjectReader.PropertiesPresent;
        if (obj.SubgroupId is not { } subgroup) flags |= MoqFetchObjectReader.DatagramFlag;
        else if (subgroup == 0) { }
        else if (subgroup == _priorSubgroup) flags |= 1;
        else if (_priorSubgroup is { } ps && ps != ulong.MaxValue && subgroup == ps + 1) flags |= 2;
        else flags |= 3;

        writer.WriteVarint(flags);
        if (groupChanged) writer.WriteVarint(GroupDelta(obj.GroupId));
        if ((flags & MoqFetchObjectReader.DatagramFlag) == 0 && (flags & 3) == 3) writer.WriteVarint(obj.SubgroupId!.Value);
        if ((flags & MoqFetchObjectReader.ObjectIdPresent) != 0)
            writer.WriteVarint(groupChanged ? obj.ObjectId : checked(obj.ObjectId - _priorObject));
        if ((flags & MoqFetchObjectReader.PriorityPresent) != 0) writer.WriteByte(obj.PublisherPriority);
        if ((flags & MoqFetchObjectReader.PropertiesPresent) != 0) MoqObjectProperties.Write(writer, obj.Properties);
        writer.WriteVarint((ulong)obj.Payload.Length);
        if (includePayload) writer.WriteBytes(obj.Payload.Span);

        _first = false;
        _priorGroup = obj.GroupId;
        _priorObject = obj.ObjectId;
        if (obj.SubgroupId.HasValue) _priorSubgroup = obj.SubgroupId;
        _priorPriority = obj.PublisherPriority;
    }

    /// <summary>
    /// Writes an End of Range marker: objects after the prior one up to and including <paramref name="location"/> are
    /// unknown or do not exist. Its flags (0x8C / 0x10C) include the Group ID Delta bit, and a present Group ID Delta
    /// always moves the group, so (we read the draft this way) a range can only end in a later group than the prior
    /// object, or anywhere when it is the first item.
    /// </summary>
    public void WriteEndOfRange(MoqWriter writer, MoqLocation location, bool unknown)
    {
        if (!_first && location.Group == _priorGroup) throw new ArgumentException("an End of Range must end in another group than the prior object");
        writer.WriteVarint(unknown ? MoqFetchObjectReader.EndOfUnknownRange : MoqFetchObjectReader.EndOfNonExistentRange);
        writer.WriteVarint(GroupDelta(location.Group));
        writer.WriteVarint(location.Object);
        _first = false;
        _priorGroup = location.Group;
        _priorObject = location.Object;
    }

    private ulong GroupDelta(ulong group)
    {
        if (_first) return group;
        return _order == MoqGroupOrder.Ascending ? checked(group - _priorGroup - 1) : checked(_priorGroup - group - 1);
    }
}
