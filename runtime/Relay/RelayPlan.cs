using System.Net;

namespace FastRelay.Relay;

/// <summary>
/// What a relay should be doing, as a whole: every channel with the sender allowed to feed it and the subscribers that
/// get its copies. A configuration file, a control API or a protocol's own control plane produces one; the
/// <see cref="RelayHost"/> brings the kernel maps from the previous plan to the new one, touching only what changed.
/// </summary>
public sealed record RelayPlan(IReadOnlyList<ChannelPlan> Channels)
{
    public static RelayPlan Empty { get; } = new([]);
}

/// <param name="Id">The channel key's value (0 for a protocol without a channel field).</param>
/// <param name="Upstream">The one sender whose packets are fanned out; null admits any sender (the kernel compares the
/// source address and port of every packet with it).</param>
/// <param name="Streams">For a protocol that translates stream ids: upstream stream id → the id every subscriber of the
/// channel sees. A copy of a stream without an entry is not forwarded (the kernel drops it). Null for other protocols.</param>
public sealed record ChannelPlan(ulong Id, IPEndPoint? Upstream, IReadOnlyList<SubscriberPlan> Subscribers, IReadOnlyDictionary<ulong, ulong>? Streams = null)
{
    /// <summary>An upstream no packet can come from (port 0): the channel's subscribers are in place, nothing fans out yet
    /// (a protocol whose publisher has not joined the channel by its own handshake).</summary>
    public static IPEndPoint NoSender { get; } = new(IPAddress.IPv6Any, 0);

    /// <summary>The stream mappings as a sorted list, for comparing two plans by content.</summary>
    public IReadOnlyList<KeyValuePair<ulong, ulong>> StreamList => (Streams ?? new Dictionary<ulong, ulong>()).OrderBy(kv => kv.Key).ToList();
}

/// <param name="Address">Where copies go.</param>
/// <param name="Name">A label for status output; the address when null.</param>
/// <param name="ConnectionId">Written into every copy when the protocol has a connection id (zeros when null).</param>
/// <param name="Budget">A byte budget for priority drop (protocols with <c>PriorityDrop</c> only); null = no limit.</param>
public sealed record SubscriberPlan(IPEndPoint Address, string? Name = null, byte[]? ConnectionId = null, BudgetPlan? Budget = null)
{
    /// <summary>Options other than the address: a change re-activates the subscriber's slot in place.</summary>
    public bool SameOptions(SubscriberPlan other) =>
        Name == other.Name && Budget == other.Budget &&
        (ConnectionId ?? []).AsSpan().SequenceEqual(other.ConnectionId ?? []);
}

/// <param name="BytesPerSecond">Refill rate of the slot's byte budget.</param>
/// <param name="BurstBytes">The most the budget holds.</param>
/// <param name="ReservePerLevel">Bytes kept in reserve per urgency level above 0 (fr_budget.reserve_per_level).</param>
/// <param name="DropFromLevel">Urgencies at or above this level are always dropped; the protocol's level count turns it off.</param>
public sealed record BudgetPlan(long BytesPerSecond, long BurstBytes, uint ReservePerLevel, uint DropFromLevel);
