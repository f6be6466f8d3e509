namespace FastRelay.Protocols.Moq.Wire;

/// <summary>Message Parameter types (draft-19 §"Message Parameters" registry).</summary>
public enum MoqParameterType : ulong
{
    ObjectDeliveryTimeout = 0x02,
    AuthorizationToken = 0x03,
    RendezvousTimeout = 0x04,
    SubgroupDeliveryTimeout = 0x06,
    Expires = 0x08,
    LargestObject = 0x09,
    FillTimeout = 0x0A,
    Forward = 0x10,
    SubscriberPriority = 0x20,
    LocationFilter = 0x21,
    GroupOrder = 0x22,
    SubgroupFilter = 0x25,
    ObjectIdFilter = 0x26,
    PriorityFilter = 0x27,
    ObjectPropertyFilter = 0x28,
    TrackPropertyFilter = 0x29,
    NewGroupRequest = 0x32,
    TrackNamespacePrefix = 0x34,
}

/// <summary>Group order (GROUP_ORDER parameter, DEFAULT_PUBLISHER_GROUP_ORDER property).</summary>
public enum MoqGroupOrder : byte
{
    Ascending = 0x1,
    Descending = 0x2,
}

/// <summary>
/// Which message a parameter block belongs to: each parameter may only appear in the messages its definition lists
/// (§"Parameter Scope"); anywhere else is PROTOCOL_VIOLATION. REQUEST_OK stands for PUBLISH_OK, REQUEST_UPDATE_OK,
/// TRACK_STATUS_OK etc., so it allows the union of theirs.
/// </summary>
[Flags]
public enum MoqParameterScope
{
    None = 0,
    Subscribe = 1 << 0,
    SubscribeOk = 1 << 1,
    RequestUpdate = 1 << 2,
    Publish = 1 << 3,
    RequestOk = 1 << 4,
    Fetch = 1 << 5,
    FetchOk = 1 << 6,
    TrackStatus = 1 << 7,
    PublishNamespace = 1 << 8,
    SubscribeNamespace = 1 << 9,
    SubscribeTracks = 1 << 10,
}
