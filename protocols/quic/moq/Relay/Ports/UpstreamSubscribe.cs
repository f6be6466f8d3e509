using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Model;

namespace FastRelay.Protocols.Moq.Relay.Ports;

/// <summary>
/// The SUBSCRIBE the relay sends upstream. One per track however many subscribers it has, so the relay picks its own
/// values instead of a subscriber's (draft-19 §"Considerations for Setting Priorities"): Largest Object filter,
/// default priority, forward 1.
/// </summary>
public sealed record UpstreamSubscribeRequest(MoqFullTrackName Track, IReadOnlyList<AuthToken> AuthorizationTokens)
{
    public byte SubscriberPriority { get; init; } = 128;
    public bool Forward { get; init; } = true;
}

/// <summary>What SUBSCRIBE_OK / PUBLISH told us about a track.</summary>
public sealed record UpstreamTrackInfo
{
    public MoqLocation? Largest { get; init; }
    public byte DefaultPublisherPriority { get; init; } = 128;
    public MoqGroupOrder DefaultGroupOrder { get; init; } = MoqGroupOrder.Ascending;
    /// <summary>Track Properties as received; the relay passes them on unchanged.</summary>
    public IReadOnlyList<MoqKeyValuePair> TrackProperties { get; init; } = [];
}

/// <summary>SUBSCRIBE_OK with the subscription, or REQUEST_ERROR's code and reason.</summary>
public sealed record UpstreamSubscribeResult
{
    public IUpstreamSubscription? Subscription { get; init; }
    public UpstreamTrackInfo? Info { get; init; }
    public MoqRequestErrorCode ErrorCode { get; init; }
    public string? Reason { get; init; }

    public bool IsSuccess => Subscription is not null;

    public static UpstreamSubscribeResult Ok(IUpstreamSubscription subscription, UpstreamTrackInfo info) =>
        new() { Subscription = subscription, Info = info };

    public static UpstreamSubscribeResult Error(MoqRequestErrorCode code, string reason) => new() { ErrorCode = code, Reason = reason };
}

/// <summary>An upstream FETCH's objects (Complete: the stream ended with FIN within the byte limit), or its refusal.</summary>
public sealed record UpstreamFetchResult(IReadOnlyList<RelayObject> Objects, bool Complete, RequestRefusal? Refusal = null);

/// <summary>An AUTHORIZATION TOKEN parameter after the session resolved its alias: type and value.</summary>
public readonly record struct AuthToken(ulong Type, ReadOnlyMemory<byte> Value)
{
    public static AuthToken FromText(string text) => new(0, System.Text.Encoding.UTF8.GetBytes(text));
}
