using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Model;

namespace FastRelay.Protocols.Moq.Relay.Ports;

/// <summary>Where a session delivers the objects of one upstream subscription (SUBSCRIBE we sent, or PUBLISH we got).</summary>
public interface IUpstreamTrackSink
{
    /// <summary>A new SUBGROUP stream of this subscription arrived; its objects go to the returned sink in order.</summary>
    IUpstreamSubgroupSink OpenSubgroup();

    /// <summary>An OBJECT_DATAGRAM of this subscription.</summary>
    void OnDatagram(in RelayObject obj);
}

/// <summary>One upstream SUBGROUP stream: its objects in stream order, then how it ended.</summary>
public interface IUpstreamSubgroupSink
{
    void OnObject(in RelayObject obj);

    /// <summary>FIN (<paramref name="finished"/> true: every object of the subgroup arrived) or a reset.</summary>
    void OnClosed(bool finished);

    /// <summary>The upstream stream was reset with <paramref name="code"/>: the downstream streams are reset with it too.</summary>
    void OnReset(MoqStreamResetCode code) => OnClosed(false);
}

/// <summary>Our side of an upstream subscription: cancel it, learn when it ended.</summary>
public interface IUpstreamSubscription
{
    /// <summary>Unsubscribe (STOP_SENDING on the request stream). Idempotent.</summary>
    void Cancel();

    /// <summary>Completes with the PUBLISH_DONE status code when the publisher ends it, or when its session closes.</summary>
    Task<MoqPublishDoneCode> Done { get; }
}
