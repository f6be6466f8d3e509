using FastRelay.Protocols.Moq.Wire;

namespace FastRelay.Protocols.Moq.Publisher;

/// <summary>
/// Answers the requests the peer opens. Each method gets the request and must answer it (Accept or Reject) before
/// its task completes; an unanswered request is rejected with INTERNAL_ERROR, a request type left at its default
/// with NOT_SUPPORTED. Methods may take their time (a relay subscribes upstream first); the peer waits.
/// </summary>
public interface IMoqRequestHandler
{
    /// <summary>SUBSCRIBE: accept with <see cref="MoqIncomingSubscribe.AcceptAsync"/> (SUBSCRIBE_OK) and publish on the result.</summary>
    Task OnSubscribeAsync(MoqIncomingSubscribe request, CancellationToken cancellationToken) => NotSupported(request);

    /// <summary>FETCH (standalone or joining): accept with <see cref="MoqIncomingFetch.AcceptAsync"/> (FETCH_OK) and write the objects.</summary>
    Task OnFetchAsync(MoqIncomingFetch request, CancellationToken cancellationToken) => NotSupported(request);

    /// <summary>TRACK_STATUS: accept with the largest location and track properties.</summary>
    Task OnTrackStatusAsync(MoqIncomingTrackStatus request, CancellationToken cancellationToken) => NotSupported(request);

    /// <summary>SUBSCRIBE_NAMESPACE: accept, then announce matching namespaces on the returned announcer.</summary>
    Task OnSubscribeNamespaceAsync(MoqIncomingSubscribeNamespace request, CancellationToken cancellationToken) => NotSupported(request);

    /// <summary>PUBLISH_NAMESPACE from the peer (it has tracks under a namespace): accept to route SUBSCRIBEs to it.</summary>
    Task OnPublishNamespaceAsync(MoqIncomingPublishNamespace request, CancellationToken cancellationToken) => NotSupported(request);

    /// <summary>PUBLISH from the peer: accept to receive the track's objects as a subscription, or reject (UNINTERESTED).</summary>
    Task OnPublishAsync(MoqIncomingPublish request, CancellationToken cancellationToken) =>
        request.RejectAsync(MoqRequestErrorCode.Uninterested, "not interested");

    /// <summary>SUBSCRIBE_TRACKS: accept, then PUBLISH the matching tracks and skip the rest.</summary>
    Task OnSubscribeTracksAsync(MoqIncomingSubscribeTracks request, CancellationToken cancellationToken) => NotSupported(request);

    private static Task NotSupported(MoqIncomingRequest request) => request.RejectAsync(MoqRequestErrorCode.NotSupported, "not supported");
}
