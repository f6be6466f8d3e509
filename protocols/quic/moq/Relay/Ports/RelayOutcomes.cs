using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Model;

namespace FastRelay.Protocols.Moq.Relay.Ports;

/// <summary>A refusal: the REQUEST_ERROR the session sends.</summary>
public sealed record RequestRefusal(MoqRequestErrorCode Code, string Reason)
{
    public static RequestRefusal Unauthorized(string what) => new(MoqRequestErrorCode.Unauthorized, what);
}

/// <summary>SUBSCRIBE_OK's contents (the session adds the track alias) with the handle for the subscription's life.</summary>
public sealed record SubscribeAccepted(IRelaySubscription Subscription, UpstreamTrackInfo Info);

/// <summary>FETCH_OK's contents and the objects to write on the FETCH data stream, in order.</summary>
public sealed record FetchAccepted(MoqLocation End, bool EndOfTrack, IReadOnlyList<RelayObject> Objects, UpstreamTrackInfo Info)
{
    /// <summary>Objects in the range the relay does not hold: reset the stream with UNKNOWN_OBJECT_STATUS after these.</summary>
    public bool Incomplete { get; init; }
}

/// <summary>Either a value or a refusal.</summary>
public readonly record struct RelayOutcome<T>(T? Value, RequestRefusal? Refusal) where T : class
{
    public bool IsAccepted => Value is not null;
    public static implicit operator RelayOutcome<T>(T value) => new(value, null);
    public static implicit operator RelayOutcome<T>(RequestRefusal refusal) => new(null, refusal);
}

/// <summary>A downstream subscription's handle: updates and cancellation come through it.</summary>
public interface IRelaySubscription
{
    /// <summary>REQUEST_UPDATE: null when applied, else the refusal (then the session ends it with UPDATE_FAILED).</summary>
    RequestRefusal? Update(SubscriptionUpdate update);

    /// <summary>The subscriber cancelled (STOP_SENDING) or its session closed. Idempotent.</summary>
    void Cancel();
}

/// <summary>A registration that lasts until the peer withdraws it or its session closes: the session disposes it then.</summary>
public interface IRelayRegistration : IDisposable;
