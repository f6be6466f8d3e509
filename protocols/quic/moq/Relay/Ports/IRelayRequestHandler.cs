using FastRelay.Protocols.Moq.Wire;
namespace FastRelay.Protocols.Moq.Relay.Ports;

/// <summary>
/// The relay as the application of every session: the session adapter calls these for the requests a peer makes,
/// after SETUP and before anything else <see cref="SessionStarted"/> (nothing is held for a peer before that), and
/// <see cref="SessionEnded"/> once when the session is gone. A refusal is the REQUEST_ERROR to send.
/// </summary>
public interface IRelayRequestHandler
{
    /// <summary>A session finished SETUP. False: the relay is full; close the session (EXCESSIVE_LOAD).</summary>
    bool SessionStarted(IRelayPeer peer);

    void SessionEnded(IRelayPeer peer);

    ValueTask<RelayOutcome<IRelayRegistration>> PublishNamespaceAsync(IRelayPeer peer, NamespaceRequest request, CancellationToken cancellationToken);

    ValueTask<RelayOutcome<IUpstreamTrackSink>> PublishAsync(IRelayPeer peer, PublishRequest request, CancellationToken cancellationToken);

    ValueTask<RelayOutcome<SubscribeAccepted>> SubscribeAsync(IRelayPeer peer, SubscribeRequest request, IDownstreamTrackPort port, CancellationToken cancellationToken);

    ValueTask<RelayOutcome<FetchAccepted>> FetchAsync(IRelayPeer peer, FetchRequest request, CancellationToken cancellationToken);

    ValueTask<RelayOutcome<UpstreamTrackInfo>> TrackStatusAsync(IRelayPeer peer, SubscribeRequest request, CancellationToken cancellationToken);

    ValueTask<RelayOutcome<IRelayRegistration>> SubscribeNamespaceAsync(IRelayPeer peer, NamespaceRequest request, INamespaceListener listener, CancellationToken cancellationToken);
}
