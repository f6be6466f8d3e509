namespace FastRelay.Protocols.Moq.Wire;

/// <summary>
/// The typed Message Parameters of a control message (draft-19 §"Message Parameters"): a count, then Type Delta +
/// a value whose encoding each parameter defines (varint, uint8, Location, or length-prefixed). Every parameter must be
/// known and allowed in the message; only AUTHORIZATION TOKEN and the Range Filters may repeat. Null means absent.
/// </summary>
public sealed class MoqMessageParameters
{
    /// <summary>
    /// LARGEST_OBJECT is "a Location" in the draft's text, but its type (0x09) is odd and the only independent peer
    /// (@moq/net 0.3.4, draft 19 mode) writes and reads it with a varint length in front of the two varints, as the
    /// Key-Value-Pair odd-type rule would. We do the same so the two interoperate.
    /// </summary>
    public static readonly bool LargestObjectIsLengthPrefixed = true;

    public List<MoqAuthToken> AuthorizationTokens { get; init; } = new();
    public ulong? ObjectDeliveryTimeoutMs { get; set; }
    public ulong? SubgroupDeliveryTimeoutMs { get; set; }
    public ulong? RendezvousTimeoutMs { get; set; }
    public ulong? ExpiresMs { get; set; }
    public MoqLocation? LargestObject { get; set; }
    public ulong? FillTimeoutMs { get; set; }
    public bool? Forward { get; set; }
    public byte? SubscriberPriority { get; set; }
    public MoqLocationFilter? LocationFilter { get; set; }
    public MoqGroupOrder? GroupOrder { get; set; }
    public List<MoqRangeFilter> RangeFilters { get; init; } = new();
    public ulong? NewGroupRequest { get; set; }
    public MoqTrackNamespace? TrackNamespacePrefix { get; set; }

    public bool IsEmpty => Count == 0;

    public int Count =>
        AuthorizationTokens.Count + RangeFilters.Count +
        (ObjectDeliveryTimeoutMs.HasValue ? 1 : 0) + (SubgroupDeliveryTimeoutMs.HasValue ? 1 : 0) + (RendezvousTimeoutMs.HasValue ? 1 : 0) +
        (ExpiresMs.HasValue ? 1 : 0) + (LargestObject.HasValue ? 1 : 0) + (FillTimeoutMs.HasValue ? 1 : 0) + (Forward.HasValue ? 1 : 0) +
        (SubscriberPriority.HasValue ? 1 : 0) + (LocationFilter is not null ? 1 : 0) + (GroupOrder.HasValue ? 1 : 0) +
        (NewGroupRequest.HasValue ? 1 : 0) + (TrackNamespacePrefix is not null ? 1 : 0);

    /// <summary>Where each parameter may appear (§ each parameter's definition).</summary>
    public static MoqParameterScope AllowedIn(MoqParameterType type)
    {
        const MoqParameterScope S = MoqParameterScope.Subscribe, SOk = MoqParameterScope.SubscribeOk, U = MoqParameterScope.RequestUpdate,
            P = MoqParameterScope.Publish, Ok = MoqParameterScope.RequestOk, F = MoqParameterScope.Fetch, FOk = MoqParameterScope.FetchOk,
            T = MoqParameterScope.TrackStatus, PN = MoqParameterScope.PublishNamespace, SN = MoqParameterScope.SubscribeNamespace,
            ST = MoqParameterScope.SubscribeTracks;
        return type switch
        {
            MoqParameterType.AuthorizationToken => P | S | U | SN | ST | PN | T | F,
            MoqParameterType.ObjectDeliveryTimeout or MoqParameterType.SubgroupDeliveryTimeout => Ok | S | U,
            MoqParameterType.RendezvousTimeout => S,
            MoqParameterType.FillTimeout => F,
            MoqParameterType.SubscriberPriority => S | F | U | Ok,
            // GROUP_ORDER also rides on PUBLISH messages a SUBSCRIBE_TRACKS caused (§"Parameters on SUBSCRIBE_TRACKS").
            MoqParameterType.GroupOrder => S | ST | F | P,
            MoqParameterType.LocationFilter => S | Ok | U,
            MoqParameterType.Expires => SOk | P | Ok,
            MoqParameterType.LargestObject => SOk | P | Ok | FOk,
            MoqParameterType.Forward => S | U | P | Ok | ST,
            MoqParameterType.NewGroupRequest => Ok | S | U,
            MoqParameterType.TrackNamespacePrefix => U,
            MoqParameterType.TrackPropertyFilter => ST | U,
            MoqParameterType.SubgroupFilter or MoqParameterType.ObjectIdFilter or MoqParameterType.PriorityFilter
                or MoqParameterType.ObjectPropertyFilter => F | S | ST | Ok | U,
            _ => MoqParameterScope.None,
        };
    }

    /// <summary>
    /// Reads Number of Parameters and the parameters. Unknown, misplaced or repeated parameters and out-of-range values
    /// are PROTOCOL_VIOLATION; a Token that does not decode is KEY_VALUE_FORMATTING_ERROR. TRACK_STATUS is checked as
    /// SUBSCRIBE (its format is SUBSCRIBE's, §"TRACK_STATUS").
    /// </summary>
    public static bool TryRead(ref MoqReader reader, MoqParameterScope scope, out MoqMessageParameters parameters, out MoqError error)
    {
        parameters = new MoqMessageParameters();
        if (!reader.TryReadVarint(out ulong count)) { error = MoqError.Protocol("truncated parameter count"); return false; }
        // Each parameter takes at least 2 bytes, so a count past that is a lie; checking first bounds the loop.
        if (count > (ulong)reader.Remaining / 2 + 1) { error = MoqError.Protocol("parameter count exceeds message"); return false; }
        if (scope.HasFlag(MoqParameterScope.TrackStatus)) scope |= MoqParameterScope.Subscribe;
        ulong type = 0;
        var seen = new HashSet<ulong>();
        for (ulong i = 0; i < count; i++)
        {
            if (!reader.TryReadVarint(out ulong delta)) { error = MoqError.Protocol("truncated parameter type"); return false; }
            if (delta > ulong.MaxValue - type) { error = MoqError.Protocol("parameter type delta overflows"); return false; }
            type += delta;
            var kind = (MoqParameterType)type;
            var allowed = AllowedIn(kind);
            if (allowed == MoqParameterScope.None) { error = MoqError.Protocol("unknown message parameter"); return false; }
            if ((allowed & scope) == 0) { error = MoqError.Protocol("message parameter not allowed in this message"); return false; }
            bool repeatable = kind == MoqParameterType.AuthorizationToken || MoqRangeFilter.IsRangeFilter(kind);
            if (!seen.Add(type) && !repeatable) { error = MoqError.Protocol("duplicate message parameter"); return false; }
            if (!parameters.TryReadValue(ref reader, kind, out error)) return false;
        }
        error = MoqError.None;
        return true;
    }

    private bool TryReadValue(ref MoqReader reader, MoqParameterType kind, out MoqError error)
    {
        error = MoqError.None;
        switch (kind)
        {
            case MoqParameterType.ObjectDeliveryTimeout: return ReadVarint(ref reader, v => ObjectDeliveryTimeoutMs = v, out error);
            case MoqParameterType.SubgroupDeliveryTimeout: return ReadVarint(ref reader, v => SubgroupDeliveryTimeoutMs = v, out error);
            case MoqParameterType.RendezvousTimeout: return ReadVarint(ref reader, v => RendezvousTimeoutMs = v, out error);
            case MoqParameterType.Expires: return ReadVarint(ref reader, v => ExpiresMs = v, out error);
            case MoqParameterType.FillTimeout: return ReadVarint(ref reader, v => FillTimeoutMs = v, out error);
            case MoqParameterType.NewGroupRequest: return ReadVarint(ref reader, v => NewGroupRequest = v, out error);
            case MoqParameterType.SubscriberPriority:
                if (!reader.TryReadByte(out byte priority)) { error = MoqError.Protocol("truncated subscriber priority"); return false; }
                SubscriberPriority = priority;
                return true;
            case MoqParameterType.Forward:
                if (!reader.TryReadByte(out byte forward)) { error = MoqError.Protocol("truncated forward"); return false; }
                if (forward > 1) { error = MoqError.Protocol("forward must be 0 or 1"); return false; }
                Forward = forward == 1;
                return true;
            case MoqParameterType.GroupOrder:
                if (!reader.TryReadByte(out byte order)) { error = MoqError.Protocol("truncated group order"); return false; }
                if (order is not (1 or 2)) { error = MoqError.Protocol("group order must be 1 or 2"); return false; }
                GroupOrder = (MoqGroupOrder)order;
                return true;
            case MoqParameterType.LargestObject:
            {
                MoqLocation location;
                if (LargestObjectIsLengthPrefixed)
                {
                    if (!ReadBytes(ref reader, out var bytes, out error)) return false;
                    var inner = new MoqReader(bytes);
                    if (!inner.TryReadLocation(out location) || !inner.IsEnd) { error = MoqError.Protocol("bad largest object location"); return false; }
                }
                else if (!reader.TryReadLocation(out location)) { error = MoqError.Protocol("truncated largest object"); return false; }
                LargestObject = location;
                return true;
            }
            case MoqParameterType.TrackNamespacePrefix:
                if (!MoqTrackNamespace.TryRead(ref reader, out var prefix, out error)) return false;
                TrackNamespacePrefix = prefix;
                return true;
            case MoqParameterType.AuthorizationToken:
            {
                if (!ReadBytes(ref reader, out var bytes, out error)) return false;
                if (!MoqAuthToken.TryParse(bytes, out var token, out error)) return false;
                AuthorizationTokens.Add(token);
                return true;
            }
            case MoqParameterType.LocationFilter:
            {
                if (!ReadBytes(ref reader, out var bytes, out error)) return false;
                if (!MoqLocationFilter.TryParse(bytes, out var filter, out error)) return false;
                LocationFilter = filter;
                return true;
            }
            default: // the range filters (AllowedIn let nothing else through)
            {
                if (!ReadBytes(ref reader, out var bytes, out error)) return false;
                if (!MoqRangeFilter.TryParse(kind, bytes, out var filter, out error)) return false;
                RangeFilters.Add(filter);
                return true;
            }
        }
    }

    private static bool ReadVarint(ref MoqReader reader, Action<ulong> set, out MoqError error)
    {
        if (!reader.TryReadVarint(out ulong value)) { error = MoqError.Protocol("truncated varint parameter"); return false; }
        set(value);
        error = MoqError.None;
        return true;
    }

    private static bool ReadBytes(ref MoqReader reader, out ReadOnlyMemory<byte> bytes, out MoqError error)
    {
        if (!reader.TryReadLengthPrefixed(ushort.MaxValue, out bytes, out _)) { error = MoqError.Protocol("truncated length-prefixed parameter"); return false; }
        error = MoqError.None;
        return true;
    }

    /// <summary>Writes Number of Parameters and the parameters in ascending type order.</summary>
    public void Write(MoqWriter writer)
    {
        var items = new List<(ulong Type, Action<MoqWriter> WriteValue)>();
        void Varint(MoqParameterType t, ulong? v) { if (v.HasValue) items.Add(((ulong)t, w => w.WriteVarint(v.Value))); }
        void Byte(MoqParameterType t, byte? v) { if (v.HasValue) items.Add(((ulong)t, w => w.WriteByte(v.Value))); }
        void Bytes(MoqParameterType t, byte[] v) => items.Add(((ulong)t, w => w.WriteLengthPrefixed(v)));

        Varint(MoqParameterType.ObjectDeliveryTimeout, ObjectDeliveryTimeoutMs);
        foreach (var token in AuthorizationTokens) Bytes(MoqParameterType.AuthorizationToken, token.Encode());
        Varint(MoqParameterType.RendezvousTimeout, RendezvousTimeoutMs);
        Varint(MoqParameterType.SubgroupDeliveryTimeout, SubgroupDeliveryTimeoutMs);
        Varint(MoqParameterType.Expires, ExpiresMs);
        if (LargestObject is { } largest)
        {
            var loc = new MoqWriter(20);
            loc.WriteLocation(largest);
            if (LargestObjectIsLengthPrefixed) Bytes(MoqParameterType.LargestObject, loc.ToArray());
            else items.Add(((ulong)MoqParameterType.LargestObject, w => w.WriteLocation(largest)));
        }
        Varint(MoqParameterType.FillTimeout, FillTimeoutMs);
        Byte(MoqParameterType.Forward, Forward is null ? null : Forward.Value ? (byte)1 : (byte)0);
        Byte(MoqParameterType.SubscriberPriority, SubscriberPriority);
        if (LocationFilter is not null) Bytes(MoqParameterType.LocationFilter, LocationFilter.Encode());
        Byte(MoqParameterType.GroupOrder, GroupOrder is null ? null : (byte)GroupOrder.Value);
        foreach (var filter in RangeFilters) Bytes(filter.Kind, filter.Encode());
        Varint(MoqParameterType.NewGroupRequest, NewGroupRequest);
        if (TrackNamespacePrefix is not null) items.Add(((ulong)MoqParameterType.TrackNamespacePrefix, w => TrackNamespacePrefix.Write(w)));

        writer.WriteVarint((ulong)items.Count);
        ulong previous = 0;
        foreach (var (type, writeValue) in items.OrderBy(i => i.Type))
        {
            writer.WriteVarint(type - previous);
            previous = type;
            writeValue(writer);
        }
    }

    /// <summary>Content equality (for tests and for relays comparing requests).</summary>
    public bool ContentEquals(MoqMessageParameters other)
    {
        var a = new MoqWriter();
        var b = new MoqWriter();
        Write(a);
        other.Write(b);
        return a.WrittenSpan.SequenceEqual(b.WrittenSpan);
    }
}
