using System.Net;
using FastRelay.Protocols.Moq.Publisher;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Transport;
using FastRelay.Protocols.Moq.Wire;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Moq.Relay.Sessions;

/// <summary>
/// One <see cref="MoqSession"/> joined to the relay: the session's request handler (turning each request the peer
/// makes into a call of <see cref="IRelayRequestHandler"/> and the answer back into REQUEST_OK / REQUEST_ERROR / data),
/// and the relay's <see cref="IRelayPeer"/> for the requests the relay makes of the peer. Requests wait until
/// <see cref="IRelayRequestHandler.SessionStarted"/> accepted the session.
/// </summary>
public sealed partial class RelaySessionAdapter : IRelayPeer, IMoqRequestHandler
{
    private static int s_next;

    private readonly IRelayRequestHandler _relay;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<bool> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly AuthTokenCache _tokens = new();
    private readonly Dictionary<MoqTrackPublication, IRelaySubscription> _subscriptions = new(ReferenceEqualityComparer.Instance);
    private MoqSession? _session;

    public RelaySessionAdapter(IRelayRequestHandler relay, ILogger logger)
    {
        _relay = relay;
        _logger = logger;
        Name = "s" + Interlocked.Increment(ref s_next);
    }

    public string Name { get; }
    public MoqSession Session => _session ?? throw new InvalidOperationException("no session yet");
    public MoqTransportKind Kind => Session.Transport.Kind;
    public EndPoint RemoteEndPoint => Session.Transport.RemoteEndPoint;

    /// <summary>After SETUP: tell the relay; false when it refused the session (then close it).</summary>
    public bool Start(MoqSession session)
    {
        _session = session;
        if (session.PeerSetup.AuthorizationTokens is { Count: > 0 } setupTokens)
            _tokens.AddSetupTokens(setupTokens);
        bool accepted = _relay.SessionStarted(this);
        _started.TrySetResult(accepted);
        return accepted;
    }

    /// <summary>The session ended: the relay forgets everything the peer held.</summary>
    public void End()
    {
        _started.TrySetResult(false);
        _relay.SessionEnded(this);
        lock (_subscriptions) _subscriptions.Clear();
    }

    private async Task<bool> StartedAsync() => await _started.Task.ConfigureAwait(false);

    private IReadOnlyList<AuthToken> Tokens(MoqMessageParameters parameters) => _tokens.Resolve(parameters.AuthorizationTokens);

    public async ValueTask<UpstreamSubscribeResult> SubscribeAsync(UpstreamSubscribeRequest request, IUpstreamTrackSink sink, CancellationToken cancellationToken)
    {
        var parameters = new MoqMessageParameters
        {
            SubscriberPriority = request.SubscriberPriority,
            Forward = request.Forward,
            LocationFilter = MoqLocationFilter.LargestObject(),
        };
        foreach (var token in request.AuthorizationTokens)
            parameters.AuthorizationTokens.Add(MoqAuthToken.UseValue(token.Type, token.Value));
        try
        {
            var subscription = await Session.SubscribeAsync(request.Track, parameters, cancellationToken).ConfigureAwait(false);
            var pump = new UpstreamPump(_logger);
            var info = new UpstreamTrackInfo
            {
                Largest = subscription.LargestObject,
                DefaultPublisherPriority = subscription.PublisherPriority,
                TrackProperties = subscription.TrackProperties,
            };
            pump.Start(subscription, sink);
            return UpstreamSubscribeResult.Ok(pump, info);
        }
        catch (MoqRequestException e)
        {
            return UpstreamSubscribeResult.Error(e.Code, e.Error.Reason);
        }
        catch (Exception e) when (e is MoqSessionClosedException or ObjectDisposedException or InvalidOperationException)
        {
            return UpstreamSubscribeResult.Error(MoqRequestErrorCode.InternalError, "upstream session: " + e.Message);
        }
    }

    public async ValueTask<UpstreamFetchResult> FetchAsync(MoqFullTrackName track, MoqLocation start, MoqLocation end, IReadOnlyList<AuthToken> tokens,
        long maxBytes, CancellationToken cancellationToken)
    {
        var parameters = new MoqMessageParameters();
        foreach (var token in tokens)
            parameters.AuthorizationTokens.Add(MoqAuthToken.UseValue(token.Type, token.Value));
        var objects = new List<Model.RelayObject>();
        try
        {
            await using var response = await Session.FetchAsync(track, start, new MoqLocation(end.Group, end.Object + 1), parameters, cancellationToken).ConfigureAwait(false);
            long bytes = 0;
            await foreach (var obj in response.ReadObjectsAsync(cancellationToken).ConfigureAwait(false))
            {
                var relayObject = RelayObjects.FromSession(obj);
                bytes += relayObject.ChargedBytes;
                if (bytes > maxBytes) return new UpstreamFetchResult(objects, Complete: false);
                objects.Add(relayObject);
            }
            return new UpstreamFetchResult(objects, Complete: response.EndOfRanges.Count == 0);
        }
        catch (MoqRequestException e)
        {
            return new UpstreamFetchResult([], false, new RequestRefusal(e.Code, e.Error.Reason));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogDebug("{Peer}: upstream FETCH of {Track} ended early: {Error}", Name, track, e.Message);
            return new UpstreamFetchResult(objects, Complete: false);
        }
    }

    public async ValueTask CloseAsync(MoqSessionError code, string reason) => await Session.CloseAsync(code, reason).ConfigureAwait(false);

    private void Remember(MoqTrackPublication publication, IRelaySubscription subscription)
    {
        lock (_subscriptions) _subscriptions[publication] = subscription;
    }

    private void Forget(MoqTrackPublication publication)
    {
        lock (_subscriptions) _subscriptions.Remove(publication);
    }

    private IRelaySubscription? Find(MoqTrackPublication? publication)
    {
        if (publication is null) return null;
        lock (_subscriptions) return _subscriptions.GetValueOrDefault(publication);
    }
}
