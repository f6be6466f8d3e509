using FastRelay.Cli.Lab;
using FastRelay.Protocols.Moq.Clients;

namespace FastRelay.Cli.Bench.Moq;

/// <summary>
/// The bench's clients in lab namespaces without a process each: a connection's UDP socket is created synchronously
/// when it starts (the URL is an IP literal, so nothing is awaited before), so starting the connect on a thread inside
/// the namespace (<see cref="NetnsThread"/>) puts the socket there for its whole life; the rest runs on the thread pool
/// as usual. The publisher lives in one namespace, every subscriber in another.
/// </summary>
public sealed class NamespacedMoqConnector(IMoqClientConnector inner, string publisherNamespace, string subscriberNamespace) : IMoqClientConnector
{
    public Task<IMoqTrackPublisher> PublishAsync(MoqClientEndpoint endpoint, MoqTrackName track, CancellationToken cancellationToken) =>
        NetnsThread.Run(publisherNamespace, () => inner.PublishAsync(endpoint, track, cancellationToken));

    public Task<IMoqTrackSubscription> SubscribeAsync(MoqClientEndpoint endpoint, MoqTrackName track, MoqSubscribeOptions options, CancellationToken cancellationToken) =>
        NetnsThread.Run(subscriberNamespace, () => inner.SubscribeAsync(endpoint, track, options, cancellationToken));
}
