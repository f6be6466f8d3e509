using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Model;

namespace FastRelay.Protocols.Moq.Relay.Ports;

/// <summary>A SUBSCRIBE from a downstream peer.</summary>
public sealed record SubscribeRequest(MoqFullTrackName Track)
{
    public IReadOnlyList<AuthToken> AuthorizationTokens { get; init; } = [];
    public byte SubscriberPriority { get; init; } = 128;
    /// <summary>Null: not stated, the publisher's preference applies.</summary>
    public MoqGroupOrder? GroupOrder { get; init; }
    public bool Forward { get; init; } = true;
    /// <summary>Null (no LOCATION_FILTER): unfiltered, every object from now on.</summary>
    public MoqLocationFilter? Filter { get; init; }
    /// <summary>Range Filter parameters (subgroup, object ID, priority, object property ranges); empty: none.</summary>
    public IReadOnlyList<MoqRangeFilter> RangeFilters { get; init; } = [];
}

/// <summary>REQUEST_UPDATE on a subscription; null fields are unchanged.</summary>
public sealed record SubscriptionUpdate
{
    public byte? SubscriberPriority { get; init; }
    public bool? Forward { get; init; }
    public MoqLocationFilter? Filter { get; init; }
    /// <summary>Range Filters named here replace those of their type (an empty one removes them).</summary>
    public IReadOnlyList<MoqRangeFilter> RangeFilters { get; init; } = [];
}

/// <summary>FETCH: standalone (track and range) or joining (a subscription of the same session).</summary>
public sealed record FetchRequest
{
    public IReadOnlyList<AuthToken> AuthorizationTokens { get; init; } = [];
    public byte SubscriberPriority { get; init; } = 128;
    public MoqGroupOrder GroupOrder { get; init; } = MoqGroupOrder.Ascending;

    /// <summary>Standalone: the track and [Start, End) with End.Object 0 meaning all of End.Group.</summary>
    public MoqFullTrackName? Track { get; init; }
    public MoqLocation Start { get; init; }
    public MoqLocation End { get; init; }

    /// <summary>Joining: the handle <see cref="IRelayRequestHandler.SubscribeAsync"/> returned for that subscription.</summary>
    public IRelaySubscription? Joining { get; init; }
    public bool JoiningIsRelative { get; init; }
    public ulong JoiningStart { get; init; }
}

/// <summary>PUBLISH_NAMESPACE, SUBSCRIBE_NAMESPACE and TRACK_STATUS carry just a name and tokens.</summary>
public sealed record NamespaceRequest(MoqTrackNamespace Namespace)
{
    public IReadOnlyList<AuthToken> AuthorizationTokens { get; init; } = [];
}

/// <summary>A PUBLISH from a publisher: a track it pushes, with its side of the subscription.</summary>
public sealed record PublishRequest(MoqFullTrackName Track, IUpstreamSubscription Subscription)
{
    public IReadOnlyList<AuthToken> AuthorizationTokens { get; init; } = [];
    public UpstreamTrackInfo Info { get; init; } = new();
}
