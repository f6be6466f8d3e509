namespace FastRelay.Protocols.Moq.Wire.Data;

/// <summary>
/// OBJECT_DATAGRAM (§"Object Datagram"): type 0b00X0XXXX with PROPERTIES 0x01, END_OF_GROUP 0x02, ZERO_OBJECT_ID 0x04,
/// DEFAULT_PRIORITY 0x08, STATUS 0x20; then Track Alias, Group ID, [Object ID], [Priority], [Properties],
/// [Object Status] or the payload (the rest of the datagram). Padding datagrams (type 0x132B3E29) are recognised too.
/// </summary>
public static class MoqObjectDatagram
{
    public const ulong PaddingType = 0x132B3E29;

    private const ulong PropertiesBit = 0x01, EndOfGroupBit = 0x02, ZeroObjectIdBit = 0x04, DefaultPriorityBit = 0x08, StatusBit = 0x20;

    public static bool IsDatagramType(ulong type) => (type <= 0x0F || type is >= 0x20 and <= 0x2F) && !((type & StatusBit) != 0 && (type & EndOfGroupBit) != 0);

    /// <summary>
    /// Writes a datagram for <paramref name="obj"/> (its <see cref="MoqObject.SubgroupId"/> is ignored). Priority is
    /// omitted when it equals <paramref name="defaultPriority"/>; END_OF_GROUP marks the object as the group's last.
    /// </summary>
    public static void Write(MoqWriter writer, ulong trackAlias, MoqObject obj, bool endOfGroup = false, byte? defaultPriority = null)
    {
        bool statusForm = obj.Status != MoqObjectStatus.Normal;
        if (statusForm && endOfGroup) throw new ArgumentException("a status datagram cannot also signal END_OF_GROUP");
        if (statusForm && (obj.Payload.Length > 0 || obj.Properties.Count > 0)) throw new ArgumentException("only Normal objects carry a payload or properties");
        ulong type = 0;
        if (obj.Properties.Count > 0) type |= PropertiesBit;
        if (endOfGroup) type |= EndOfGroupBit;
        if (obj.ObjectId == 0) type |= ZeroObjectIdBit;
        if (defaultPriority == obj.PublisherPriority) type |= DefaultPriorityBit;
        if (statusForm) type |= StatusBit;
        writer.WriteVarint(type);
        writer.WriteVarint(trackAlias);
        writer.WriteVarint(obj.GroupId);
        if (obj.ObjectId != 0) writer.WriteVarint(obj.ObjectId);
        if ((type & DefaultPriorityBit) == 0) writer.WriteByte(obj.PublisherPriority);
        if (obj.Properties.Count > 0) MoqObjectProperties.Write(writer, obj.Properties);
        if (statusForm) writer.WriteVarint((ulong)obj.Status);
        else writer.WriteBytes(obj.Payload.Span);
    }

    /// <summary>
    /// Parses one whole datagram. <paramref name="isPadding"/> is set (and true returned) for a padding datagram, which
    /// must be discarded. Errors are the PROTOCOL_VIOLATIONs the draft names (invalid type, empty properties with the
    /// PROPERTIES bit, properties on a status object, bad status).
    /// </summary>
    public static bool TryParse(ReadOnlyMemory<byte> datagram, byte defaultPriority, out ulong trackAlias, out MoqObject obj,
        out bool endOfGroup, out bool isPadding, out MoqError error, MoqDataLimits? limits = null)
    {
        trackAlias = 0; obj = null!; endOfGroup = false; isPadding = false; error = MoqError.None;
        limits ??= MoqDataLimits.Default;
        var r = new MoqReader(datagram);
        if (!r.TryReadVarint(out ulong type)) { error = MoqError.Protocol("empty datagram"); return false; }
        if (type == PaddingType) { isPadding = true; return true; }
        if (!IsDatagramType(type)) { error = MoqError.Protocol("invalid datagram type"); return false; }
        if (!r.TryReadVarint(out trackAlias) || !r.TryReadVarint(out ulong group)) { error = MoqError.Protocol("truncated datagram"); return false; }
        ulong objectId = 0;
        if ((type & ZeroObjectIdBit) == 0 && !r.TryReadVarint(out objectId)) { error = MoqError.Protocol("truncated datagram object ID"); return false; }
        byte priority = defaultPriority;
        if ((type & DefaultPriorityBit) == 0 && !r.TryReadByte(out priority)) { error = MoqError.Protocol("truncated datagram priority"); return false; }
        IReadOnlyList<MoqKeyValuePair> properties = Array.Empty<MoqKeyValuePair>();
        if ((type & PropertiesBit) != 0)
        {
            if (!r.TryReadVarint(out ulong length)) { error = MoqError.Protocol("truncated datagram properties"); return false; }
            if (length == 0) { error = MoqError.Protocol("datagram PROPERTIES bit with empty properties"); return false; }
            if (length > (ulong)limits.MaxPropertiesLength || !r.TryReadBytes(length, out var bytes)) { error = MoqError.Protocol("bad datagram properties length"); return false; }
            var list = new List<MoqKeyValuePair>();
            if (!MoqKeyValueList.TryParse(bytes, list, out error)) return false;
            properties = list;
        }
        var status = MoqObjectStatus.Normal;
        ReadOnlyMemory<byte> payload = default;
        if ((type & StatusBit) != 0)
        {
            if (!r.TryReadVarint(out ulong raw)) { error = MoqError.Protocol("truncated datagram status"); return false; }
            if (!MoqSubgroupObjectReader.TryStatus(raw, out status, out error)) return false;
            if (status != MoqObjectStatus.Normal && properties.Count > 0) { error = MoqError.Protocol("properties on an object that is not Normal"); return false; }
            if (!r.IsEnd) { error = MoqError.Protocol("trailing bytes after datagram status"); return false; }
        }
        else payload = r.ReadToEnd();
        endOfGroup = (type & EndOfGroupBit) != 0;
        obj = new MoqObject { GroupId = group, SubgroupId = null, ObjectId = objectId, PublisherPriority = priority, Status = status, Properties = properties, Payload = payload };
        return true;
    }

    /// <summary>Writes a padding datagram of <paramref name="zeroBytes"/> zeros after its type.</summary>
    public static void WritePadding(MoqWriter writer, int zeroBytes)
    {
        writer.WriteVarint(PaddingType);
        writer.WriteBytes(new byte[zeroBytes]);
    }
}
