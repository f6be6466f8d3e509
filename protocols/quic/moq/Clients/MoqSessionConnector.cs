namespace FastRelay.Protocols.Moq.Clients;

/// <summary>
/// <see cref="IMoqClientConnector"/> on the real MoQ session over raw QUIC (ALPN moqt-19): each call is its own
/// connection and session. Failures to connect, set up or be accepted are <see cref="MoqClientException"/>s whose
/// message is meant for the user.
/// </summary>
public sealed class MoqSessionConnector(TimeProvider? time = null) : IMoqClientConnector
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public async Task<IMoqTrackPublisher> PublishAsync(MoqClientEndpoint endpoint, MoqTrackName track, CancellationToken cancellationToken) =>
        await SessionTrackPublisher.StartAsync(endpoint, track, cancellationToken).ConfigureAwait(false);

    public async Task<IMoqTrackSubscription> SubscribeAsync(MoqClientEndpoint endpoint, MoqTrackName track, MoqSubscribeOptions options, CancellationToken cancellationToken) =>
        await SessionTrackSubscription.StartAsync(endpoint, track, options, _time, cancellationToken).ConfigureAwait(false);
}
