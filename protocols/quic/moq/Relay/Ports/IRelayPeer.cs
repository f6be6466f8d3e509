using FastRelay.Protocols.Moq.Wire;
using System.Net;
using FastRelay.Protocols.Moq.Transport;

namespace FastRelay.Protocols.Moq.Relay.Ports;

/// <summary>
/// A set-up MoQ session as the relay sees it, whatever carries it (raw QUIC or WebTransport) and whichever side opened
/// it (a client that connected to us, or our own session to an upstream relay). The relay never touches transport or
/// wire types: the session adapter turns messages into the calls of <see cref="IRelayRequestHandler"/> and offers
/// this interface for the requests the relay makes of the peer.
/// </summary>
public interface IRelayPeer
{
    /// <summary>A short name for logs and the status view, unique in this relay process (e.g. "s12").</summary>
    string Name { get; }

    MoqTransportKind Kind { get; }

    EndPoint RemoteEndPoint { get; }

    /// <summary>
    /// SUBSCRIBE to the peer acting as publisher. Completes at SUBSCRIBE_OK (with the subscription) or REQUEST_ERROR
    /// (with its code). Objects of the subscription go to <paramref name="sink"/>, from any thread, in stream order
    /// per stream.
    /// </summary>
    ValueTask<UpstreamSubscribeResult> SubscribeAsync(UpstreamSubscribeRequest request, IUpstreamTrackSink sink, CancellationToken cancellationToken);

    /// <summary>
    /// Standalone FETCH of [<paramref name="start"/>, <paramref name="end"/>] (inclusive) from the peer acting as
    /// publisher, for a range the relay's cache does not hold. Reads at most <paramref name="maxBytes"/> of objects.
    /// </summary>
    ValueTask<UpstreamFetchResult> FetchAsync(MoqFullTrackName track, MoqLocation start, MoqLocation end, IReadOnlyList<AuthToken> tokens,
        long maxBytes, CancellationToken cancellationToken);

    /// <summary>Closes the session with a termination code (draft-19 §"Termination").</summary>
    ValueTask CloseAsync(MoqSessionError code, string reason);
}
