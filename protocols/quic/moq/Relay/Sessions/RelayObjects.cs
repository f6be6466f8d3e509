using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Wire.Data;

namespace FastRelay.Protocols.Moq.Relay.Sessions;

/// <summary>Between the session's objects and the relay's: the same payload memory and property list, never copied.</summary>
internal static class RelayObjects
{
    public static RelayObject FromSession(MoqObject o) =>
        new(o.GroupId, o.SubgroupId ?? 0, o.ObjectId, o.PublisherPriority, o.Payload, o.Status, o.Properties, isDatagram: o.SubgroupId is null);

    public static MoqObject ToSession(in RelayObject o) => new()
    {
        GroupId = o.Group,
        SubgroupId = o.IsDatagram ? null : o.Subgroup,
        ObjectId = o.ObjectId,
        PublisherPriority = o.PublisherPriority,
        Status = o.Status,
        Properties = o.Properties,
        Payload = o.Payload,
    };
}
