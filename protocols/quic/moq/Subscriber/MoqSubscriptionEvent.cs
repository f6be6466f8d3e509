using FastRelay.Protocols.Moq.Wire.Data;

namespace FastRelay.Protocols.Moq.Subscriber;

public enum MoqSubscriptionEventKind
{
    /// <summary>An object (from a subgroup stream or a datagram).</summary>
    Object,
    /// <summary>A subgroup stream ended with FIN after its objects: every object of the subgroup it carried arrived.</summary>
    SubgroupFinished,
    /// <summary>
    /// A subgroup stream ended without FIN: the peer reset it (<see cref="MoqSubscriptionEvent.ResetCode"/>), we stopped
    /// reading it, or the connection closed before its end (ResetCode null). Objects after the last delivered are missing.
    /// </summary>
    SubgroupReset,
}

/// <summary>
/// What a subscription's data streams report, in arrival order: objects, and the end of each subgroup stream that
/// delivered at least one object (so a consumer forwarding subgroups knows exactly when one is complete or cut).
/// </summary>
public readonly record struct MoqSubscriptionEvent(MoqSubscriptionEventKind Kind, MoqObject? Object, ulong GroupId, ulong SubgroupId, ulong? ResetCode)
{
    public static MoqSubscriptionEvent ForObject(MoqObject obj) => new(MoqSubscriptionEventKind.Object, obj, obj.GroupId, obj.SubgroupId ?? 0, null);

    public static MoqSubscriptionEvent Finished(ulong group, ulong subgroup) => new(MoqSubscriptionEventKind.SubgroupFinished, null, group, subgroup, null);

    public static MoqSubscriptionEvent Reset(ulong group, ulong subgroup, ulong? code) => new(MoqSubscriptionEventKind.SubgroupReset, null, group, subgroup, code);
}
