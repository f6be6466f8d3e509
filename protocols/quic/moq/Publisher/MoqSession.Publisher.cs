using FastRelay.Protocols.Moq.Publisher;
using FastRelay.Protocols.Moq.Subscriber;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Messages;

namespace FastRelay.Protocols.Moq.Session;

// The publisher role: answering the peer's requests through the handler, PUBLISH and PUBLISH_NAMESPACE of ours.
public sealed partial class MoqSession
{
    private readonly Dictionary<ulong, MoqTrackPublication> _publications = new();
    private readonly HashSet<object> _openResponders = new(); // announcers and peer namespaces, to end them on close
    private long _nextTrackAlias;
    private int _peerNamespaces;

    /// <summary>
    /// PUBLISH: offers a track to the peer, which answers PUBLISH_OK with its subscription parameters. Returns where to
    /// write the objects; throws <see cref="MoqRequestException"/> when the peer refuses (e.g. UNINTERESTED).
    /// </summary>
    public async Task<MoqTrackPublication> PublishAsync(MoqFullTrackName track, MoqMessageParameters? parameters = null,
        IReadOnlyList<MoqKeyValuePair>? trackProperties = null, byte publisherPriority = 128, CancellationToken cancellationToken = default)
    {
        ulong id = AllocateRequestId();
        ulong alias = AllocateTrackAlias();
        var request = new MoqPublish(id, track, alias, parameters ?? new MoqMessageParameters(), trackProperties ?? Array.Empty<MoqKeyValuePair>());
        var stream = await OpenRequestAsync(request, fin: false, cancellationToken).ConfigureAwait(false);
        var answer = await ReadAnswerAsync(stream, cancellationToken).ConfigureAwait(false);
        if (answer is not MoqRequestOk ok) throw new MoqProtocolException(MoqError.Protocol($"{answer.Type} in answer to PUBLISH"));
        var publication = new MoqTrackPublication(this, stream, id, track, alias, ok.Parameters, publisherPriority,
            request.Parameters.GroupOrder ?? MoqGroupOrder.Ascending);
        RegisterPublication(publication);
        _ = GuardAsync(() => RunPublicationAsync(publication));
        return publication;
    }

    /// <summary>PUBLISH_NAMESPACE: tells the peer we have tracks under <paramref name="ns"/>. Dispose the result to withdraw.</summary>
    public async Task<MoqPublishedNamespace> PublishNamespaceAsync(MoqTrackNamespace ns, MoqMessageParameters? parameters = null,
        CancellationToken cancellationToken = default)
    {
        ulong id = AllocateRequestId();
        var stream = await OpenRequestAsync(new MoqPublishNamespace(id, ns, parameters ?? new MoqMessageParameters()), fin: false, cancellationToken).ConfigureAwait(false);
        var answer = await ReadAnswerAsync(stream, cancellationToken).ConfigureAwait(false);
        if (answer is not MoqRequestOk) throw new MoqProtocolException(MoqError.Protocol($"{answer.Type} in answer to PUBLISH_NAMESPACE"));
        var published = new MoqPublishedNamespace(stream, id, ns);
        lock (_lock) _openResponders.Add(published);
        _ = GuardAsync(async () =>
        {
            try { await DrainUntilCancelledAsync(stream).ConfigureAwait(false); }
            finally
            {
                published.OnCancelled();
                lock (_lock) _openResponders.Remove(published);
            }
        });
        return published;
    }

    internal ulong AllocateTrackAlias() => (ulong)(Interlocked.Increment(ref _nextTrackAlias) - 1);

    internal void RegisterPublication(MoqTrackPublication publication)
    {
        lock (_lock) _publications[publication.RequestId] = publication;
    }

    internal void ForgetPublication(MoqTrackPublication publication)
    {
        lock (_lock) _publications.Remove(publication.RequestId);
    }

    /// <summary>A PUBLISH we accepted becomes a subscription of ours under the publisher's alias.</summary>
    internal MoqSubscription AcceptPublished(MoqRequestStream stream, MoqPublish publish)
    {
        var subscription = new MoqSubscription(this, stream, publish.RequestId, publish.Track, publish.TrackAlias, publish.Parameters,
            publish.TrackProperties, fromPublish: true, _options.ObjectQueueLength, _options.InlineSubscriptionDelivery);
        RegisterSubscription(subscription);
        return subscription;
    }

    private void FailPublications()
    {
        MoqTrackPublication[] publications;
        object[] responders;
        lock (_lock)
        {
            publications = _publications.Values.ToArray();
            responders = _openResponders.ToArray();
        }
        foreach (var p in publications) p.OnCancelled();
        foreach (var r in responders)
        {
            switch (r)
            {
                case MoqNamespaceAnnouncer a: a.OnCancelled(); break;
                case MoqPeerNamespace n: n.OnWithdrawn(); break;
                case MoqPublishedNamespace p: p.OnCancelled(); break;
                case MoqTracksResponder t: t.OnCancelled(); break;
            }
        }
    }

    private async Task DispatchRequestAsync(MoqControlMessage first, MoqRequestStream stream)
    {
        var handler = _options.Handler ?? NoHandler.Instance;
        var token = _cts.Token;
        switch (first)
        {
            case MoqSubscribe subscribe:
            {
                var request = new MoqIncomingSubscribe(this, stream, subscribe);
                await AnswerAsync(request, () => handler.OnSubscribeAsync(request, token)).ConfigureAwait(false);
                if (request.Publication is { } publication) await RunPublicationAsync(publication).ConfigureAwait(false);
                break;
            }
            case MoqFetch fetch:
            {
                MoqTrackPublication? joined = null;
                if (fetch.Joining is { } joining)
                {
                    lock (_lock) _publications.TryGetValue(joining.JoiningRequestId, out joined);
                    if (joined is null)
                    {
                        await RejectAsync(stream, MoqRequestErrorCode.InvalidJoiningRequestId, "no such subscription").ConfigureAwait(false);
                        return;
                    }
                    if (!joined.Forward)
                    {
                        await RejectAsync(stream, MoqRequestErrorCode.InvalidRange, "the joined subscription has Forward 0").ConfigureAwait(false);
                        return;
                    }
                }
                var request = new MoqIncomingFetch(this, stream, fetch, joined);
                await AnswerAsync(request, () => handler.OnFetchAsync(request, token)).ConfigureAwait(false);
                break;
            }
            case MoqTrackStatus status:
            {
                var request = new MoqIncomingTrackStatus(this, stream, status);
                await AnswerAsync(request, () => handler.OnTrackStatusAsync(request, token)).ConfigureAwait(false);
                break;
            }
            case MoqSubscribeNamespace subscribeNamespace:
            {
                var request = new MoqIncomingSubscribeNamespace(this, stream, subscribeNamespace);
                await AnswerAsync(request, () => handler.OnSubscribeNamespaceAsync(request, token)).ConfigureAwait(false);
                if (request.Announcer is { } announcer)
                {
                    lock (_lock) _openResponders.Add(announcer);
                    try { await DrainUntilCancelledAsync(stream).ConfigureAwait(false); }
                    finally
                    {
                        announcer.OnCancelled();
                        lock (_lock) _openResponders.Remove(announcer);
                    }
                }
                break;
            }
            case MoqPublishNamespace publishNamespace:
            {
                if (Interlocked.Increment(ref _peerNamespaces) > _options.MaxPeerNamespaces)
                {
                    Interlocked.Decrement(ref _peerNamespaces);
                    await RejectAsync(stream, MoqRequestErrorCode.ExcessiveLoad, "too many namespaces").ConfigureAwait(false);
                    return;
                }
                try
                {
                    var request = new MoqIncomingPublishNamespace(this, stream, publishNamespace);
                    await AnswerAsync(request, () => handler.OnPublishNamespaceAsync(request, token)).ConfigureAwait(false);
                    if (request.Accepted is { } accepted)
                    {
                        lock (_lock) _openResponders.Add(accepted);
                        try { await DrainUntilCancelledAsync(stream).ConfigureAwait(false); }
                        finally
                        {
                            accepted.OnWithdrawn();
                            lock (_lock) _openResponders.Remove(accepted);
                        }
                    }
                }
                finally { Interlocked.Decrement(ref _peerNamespaces); }
                break;
            }
            case MoqPublish publish:
            {
                if (HasUnknownMandatoryProperty(publish.TrackProperties))
                {
                    await RejectAsync(stream, MoqRequestErrorCode.UnsupportedExtension, "mandatory track property not understood").ConfigureAwait(false);
                    return;
                }
                var request = new MoqIncomingPublish(this, stream, publish);
                await AnswerAsync(request, () => handler.OnPublishAsync(request, token)).ConfigureAwait(false);
                if (request.Subscription is { } subscription)
                {
                    ReaderStarted();
                    await RunSubscriptionAsync(subscription).ConfigureAwait(false);
                }
                break;
            }
            case MoqSubscribeTracks subscribeTracks:
            {
                var request = new MoqIncomingSubscribeTracks(this, stream, subscribeTracks);
                await AnswerAsync(request, () => handler.OnSubscribeTracksAsync(request, token)).ConfigureAwait(false);
                if (request.Responder is { } responder)
                {
                    lock (_lock) _openResponders.Add(responder);
                    try { await DrainUntilCancelledAsync(stream).ConfigureAwait(false); }
                    finally
                    {
                        responder.OnCancelled();
                        lock (_lock) _openResponders.Remove(responder);
                    }
                }
                break;
            }
        }
    }

    /// <summary>Runs the handler; a request it leaves unanswered (or fails on) gets REQUEST_ERROR INTERNAL_ERROR.</summary>
    private static async Task AnswerAsync(MoqIncomingRequest request, Func<Task> handle)
    {
        try { await handle().ConfigureAwait(false); }
        catch (Exception) when (!request.IsAnswered)
        {
            await request.RejectAsync(MoqRequestErrorCode.InternalError, "the request handler failed").ConfigureAwait(false);
            return;
        }
        if (!request.IsAnswered) await request.RejectAsync(MoqRequestErrorCode.InternalError, "the request was not answered").ConfigureAwait(false);
    }

    /// <summary>
    /// After SUBSCRIBE_OK / PUBLISH_OK: REQUEST_UPDATEs are applied and answered with REQUEST_OK; a FIN from the subscriber
    /// just ends its direction; a reset is the subscriber unsubscribing.
    /// </summary>
    private async Task RunPublicationAsync(MoqTrackPublication publication)
    {
        try
        {
            while (true)
            {
                var message = await publication.Stream.ReadAsync(_cts.Token).ConfigureAwait(false);
                switch (message)
                {
                    case null:
                        // The subscriber finished its direction; nothing more can come. Hold the request until it ends.
                        await publication.Ended.WaitAsync(_cts.Token).ConfigureAwait(false);
                        return;
                    case MoqRequestUpdate update:
                        UsePeerRequestId(update.RequestId);
                        publication.ApplyUpdate(update.Parameters);
                        await publication.Stream.WriteAsync(new MoqRequestOk(new MoqMessageParameters(), Array.Empty<MoqKeyValuePair>())).ConfigureAwait(false);
                        break;
                    case MoqGoAway:
                        break;
                    default:
                        throw new MoqProtocolException(MoqError.Protocol($"{message.Type} on a subscription stream"));
                }
            }
        }
        catch (Exception e) when (e is not MoqProtocolException)
        {
            publication.OnCancelled();
            ForgetPublication(publication);
        }
    }

    /// <summary>Reads a responder's request stream to its end: REQUEST_UPDATE is answered; a reset ends it.</summary>
    private async Task DrainUntilCancelledAsync(MoqRequestStream stream)
    {
        try
        {
            while (true)
            {
                var message = await stream.ReadAsync(_cts.Token).ConfigureAwait(false);
                switch (message)
                {
                    case null:
                        await Task.Delay(Timeout.Infinite, _cts.Token).ConfigureAwait(false); // FIN is not cancellation
                        return;
                    case MoqRequestUpdate update:
                        UsePeerRequestId(update.RequestId);
                        await stream.WriteAsync(new MoqRequestOk()).ConfigureAwait(false);
                        break;
                    case MoqGoAway:
                        break;
                    default:
                        throw new MoqProtocolException(MoqError.Protocol($"{message.Type} on a namespace request stream"));
                }
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException) { /* reset: withdrawn */ }
    }

    private sealed class NoHandler : IMoqRequestHandler
    {
        public static readonly NoHandler Instance = new();
    }
}
