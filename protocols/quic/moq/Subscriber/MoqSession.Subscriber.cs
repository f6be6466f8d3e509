using FastRelay.Protocols.Moq.Subscriber;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Messages;

namespace FastRelay.Protocols.Moq.Session;

// The subscriber role: requests we send for tracks, fetches, track status and namespaces, and where their data goes.
public sealed partial class MoqSession
{
    private readonly Dictionary<ulong, MoqSubscription> _subscriptionsByAlias = new();
    private readonly Dictionary<ulong, MoqFetchResponse> _fetchesByRequestId = new();
    private readonly HashSet<MoqNamespaceSubscription> _namespaceSubscriptions = new();

    /// <summary>
    /// SUBSCRIBE: asks for the track's new objects. <paramref name="parameters"/> carries the filter
    /// (<see cref="MoqLocationFilter.NextGroupStart"/>, <see cref="MoqLocationFilter.LargestObject"/>,
    /// <see cref="MoqLocationFilter.AbsoluteStart"/>, <see cref="MoqLocationFilter.AbsoluteRange"/>), SUBSCRIBER_PRIORITY,
    /// GROUP_ORDER, FORWARD, delivery timeouts, tokens. Returns once SUBSCRIBE_OK arrived; throws
    /// <see cref="MoqRequestException"/> on REQUEST_ERROR.
    /// </summary>
    public async Task<MoqSubscription> SubscribeAsync(MoqFullTrackName track, MoqMessageParameters? parameters = null, CancellationToken cancellationToken = default)
    {
        var request = new MoqSubscribe(AllocateRequestId(), track, parameters ?? new MoqMessageParameters());
        var stream = await OpenRequestAsync(request, fin: false, cancellationToken).ConfigureAwait(false);
        var answer = await ReadAnswerAsync(stream, cancellationToken).ConfigureAwait(false);
        if (answer is not MoqSubscribeOk ok) throw new MoqProtocolException(MoqError.Protocol($"{answer.Type} in answer to SUBSCRIBE"));
        if (HasUnknownMandatoryProperty(ok.TrackProperties))
        {
            // §"Mandatory Track Properties": we must not process such a track; cancel the subscription.
            stream.Cancel(MoqStreamResetCode.Cancelled);
            throw new MoqRequestException(new MoqRequestError(MoqRequestErrorCode.UnsupportedExtension, "the track has a mandatory property we do not understand"));
        }
        var subscription = new MoqSubscription(this, stream, request.RequestId, track, ok.TrackAlias, ok.Parameters, ok.TrackProperties, fromPublish: false, _options.ObjectQueueLength,
            _options.InlineSubscriptionDelivery);
        RegisterSubscription(subscription);
        ReaderStarted();
        _ = GuardAsync(() => RunSubscriptionAsync(subscription));
        return subscription;
    }

    /// <summary>Standalone FETCH of [<paramref name="start"/>, <paramref name="end"/>) (End.Object 0 = all of End.Group).</summary>
    public Task<MoqFetchResponse> FetchAsync(MoqFullTrackName track, MoqLocation start, MoqLocation end, MoqMessageParameters? parameters = null,
        CancellationToken cancellationToken = default) =>
        SendFetchAsync(MoqFetch.CreateStandalone(AllocateRequestId(), track, start, end, parameters), cancellationToken);

    /// <summary>
    /// Joining FETCH for <paramref name="subscription"/>: the objects just before where it started. Relative: the
    /// last <paramref name="joiningStart"/> groups before the joining point; absolute: from group <paramref name="joiningStart"/>.
    /// </summary>
    public Task<MoqFetchResponse> JoiningFetchAsync(MoqSubscription subscription, ulong joiningStart, bool relative = true,
        MoqMessageParameters? parameters = null, CancellationToken cancellationToken = default) =>
        SendFetchAsync(MoqFetch.CreateJoining(AllocateRequestId(), relative, subscription.RequestId, joiningStart, parameters), cancellationToken);

    private async Task<MoqFetchResponse> SendFetchAsync(MoqFetch request, CancellationToken cancellationToken)
    {
        // Register first: the publisher may open the FETCH_HEADER stream before FETCH_OK arrives.
        MoqFetchResponse response = null!;
        var stream = await OpenRequestAsync(request, fin: true, cancellationToken, s =>
        {
            response = new MoqFetchResponse(this, s, request, _options.ObjectQueueLength);
            lock (_lock) _fetchesByRequestId[request.RequestId] = response;
            SignalRoutesChanged();
        }).ConfigureAwait(false);
        try
        {
            var answer = await ReadAnswerAsync(stream, cancellationToken).ConfigureAwait(false);
            response.Ok = answer as MoqFetchOk ?? throw new MoqProtocolException(MoqError.Protocol($"{answer.Type} in answer to FETCH"));
            return response;
        }
        catch
        {
            ForgetFetch(response);
            response.CompleteObjects(null);
            throw;
        }
    }

    /// <summary>TRACK_STATUS: the track's state without subscribing. Returns TRACK_STATUS_OK (LARGEST_OBJECT, Track Properties).</summary>
    public async Task<MoqRequestOk> TrackStatusAsync(MoqFullTrackName track, MoqMessageParameters? parameters = null, CancellationToken cancellationToken = default)
    {
        var stream = await OpenRequestAsync(new MoqTrackStatus(AllocateRequestId(), track, parameters ?? new MoqMessageParameters()), fin: true, cancellationToken).ConfigureAwait(false);
        var answer = await ReadAnswerAsync(stream, cancellationToken).ConfigureAwait(false);
        return answer as MoqRequestOk ?? throw new MoqProtocolException(MoqError.Protocol($"{answer.Type} in answer to TRACK_STATUS"));
    }

    /// <summary>SUBSCRIBE_NAMESPACE: follow the namespaces published under <paramref name="prefix"/>.</summary>
    public async Task<MoqNamespaceSubscription> SubscribeNamespaceAsync(MoqTrackNamespace prefix, MoqMessageParameters? parameters = null,
        CancellationToken cancellationToken = default)
    {
        ulong id = AllocateRequestId();
        var stream = await OpenRequestAsync(new MoqSubscribeNamespace(id, prefix, parameters ?? new MoqMessageParameters()), fin: false, cancellationToken).ConfigureAwait(false);
        var answer = await ReadAnswerAsync(stream, cancellationToken).ConfigureAwait(false);
        if (answer is not MoqRequestOk) throw new MoqProtocolException(MoqError.Protocol($"{answer.Type} in answer to SUBSCRIBE_NAMESPACE"));
        var subscription = new MoqNamespaceSubscription(this, stream, id, prefix, _options.MaxPeerNamespaces);
        lock (_lock) _namespaceSubscriptions.Add(subscription);
        _ = GuardAsync(() => RunNamespaceSubscriptionAsync(subscription));
        return subscription;
    }

    /// <summary>
    /// Mandatory Track Properties (0x4000..0x7FFF) must be understood to process a track. This session understands
    /// none, so any is a reason to refuse; <see cref="MoqSessionOptions.UnderstoodMandatoryProperties"/> lists exceptions.
    /// </summary>
    internal bool HasUnknownMandatoryProperty(IReadOnlyList<MoqKeyValuePair> trackProperties) =>
        trackProperties.Any(p => Wire.Data.MoqObjectProperties.IsMandatoryTrackProperty(p.Type) && !_options.UnderstoodMandatoryProperties.Contains(p.Type));

    /// <summary>
    /// SUBSCRIBE_TRACKS: asks the publisher to PUBLISH every track under <paramref name="prefix"/> (FORWARD and
    /// GROUP_ORDER in <paramref name="parameters"/> carry over). The PUBLISHes go to the handler's OnPublishAsync.
    /// </summary>
    public async Task<MoqTracksSubscription> SubscribeTracksAsync(MoqTrackNamespace prefix, MoqMessageParameters? parameters = null,
        CancellationToken cancellationToken = default)
    {
        ulong id = AllocateRequestId();
        var stream = await OpenRequestAsync(new MoqSubscribeTracks(id, prefix, parameters ?? new MoqMessageParameters()), fin: false, cancellationToken).ConfigureAwait(false);
        var answer = await ReadAnswerAsync(stream, cancellationToken).ConfigureAwait(false);
        if (answer is not MoqRequestOk) throw new MoqProtocolException(MoqError.Protocol($"{answer.Type} in answer to SUBSCRIBE_TRACKS"));
        var subscription = new MoqTracksSubscription(stream, id, prefix);
        _ = GuardAsync(async () =>
        {
            try
            {
                while (await stream.ReadAsync(_cts.Token).ConfigureAwait(false) is { } message)
                {
                    if (message is MoqPublishSkipped skipped) subscription.OnSkipped(skipped);
                    else if (message is not MoqGoAway) throw new MoqProtocolException(MoqError.Protocol($"{message.Type} on a SUBSCRIBE_TRACKS stream"));
                }
            }
            finally { subscription.End(); }
        });
        return subscription;
    }

    internal async Task<MoqRequestStream> OpenRequestAsync(MoqControlMessage request, bool fin, CancellationToken cancellationToken,
        Action<MoqRequestStream>? beforeSend = null)
    {
        var raw = await _transport.OpenStreamAsync(bidirectional: true, cancellationToken).ConfigureAwait(false);
        var stream = new MoqRequestStream(raw, _options.MaxStreamBuffer);
        beforeSend?.Invoke(stream);
        await stream.WriteAsync(request, fin, cancellationToken).ConfigureAwait(false);
        return stream;
    }

    /// <summary>
    /// The first answer on a request stream. REQUEST_ERROR becomes <see cref="MoqRequestException"/>; a stream that
    /// ends or is reset without an answer is a failed request (§"Graceful Request Stream Closure").
    /// </summary>
    private async Task<MoqControlMessage> ReadAnswerAsync(MoqRequestStream stream, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _cts.Token);
        MoqControlMessage? answer;
        try
        {
            do answer = await stream.ReadAsync(linked.Token).ConfigureAwait(false);
            while (answer is MoqGoAway); // a GOAWAY before the answer only hints at migration
        }
        catch (MoqProtocolException e)
        {
            Fail(e.Error);
            throw new MoqSessionClosedException(e.Error);
        }
        catch (Exception) when (_terminated.Task.IsCompleted)
        {
            throw new MoqSessionClosedException(_terminated.Task.Result);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            stream.Cancel(MoqStreamResetCode.Cancelled); // the caller gave up: so does the request
            throw;
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            throw new MoqRequestException(new MoqRequestError(MoqRequestErrorCode.InternalError, "the request stream was reset"));
        }
        if (answer is MoqRequestError error) throw new MoqRequestException(error);
        return answer ?? throw new MoqRequestException(new MoqRequestError(MoqRequestErrorCode.InternalError, "the request stream ended without an answer"));
    }

    private void RegisterSubscription(MoqSubscription subscription)
    {
        lock (_lock)
        {
            if (_subscriptionsByAlias.ContainsKey(subscription.TrackAlias))
            {
                var error = new MoqError(MoqSessionError.DuplicateTrackAlias, "track alias already in use");
                Fail(error);
                throw new MoqSessionClosedException(error);
            }
            _subscriptionsByAlias[subscription.TrackAlias] = subscription;
        }
        SignalRoutesChanged();
    }

    /// <summary>Reads what follows the answer on a subscription's stream: PUBLISH_DONE, update answers, GOAWAY.</summary>
    /// <remarks>The caller counted this reader (<see cref="ReaderStarted"/>): a close drain waits for PUBLISH_DONE too.</remarks>
    internal async Task RunSubscriptionAsync(MoqSubscription subscription)
    {
        try
        {
            while (true)
            {
                var message = await subscription.Stream.ReadAsync(_cts.Token).ConfigureAwait(false);
                switch (message)
                {
                    case null:
                        // After PUBLISH_DONE the FIN is expected: the objects end once the counted streams drained.
                        // Without PUBLISH_DONE the request failed (§"Graceful Request Stream Closure").
                        if (!subscription.Done.IsCompleted && !TransportClosing) subscription.End(null, null);
                        return;
                    case MoqPublishDone done:
                        subscription.OnPublishDone(done, _options.PublishDoneLinger);
                        await subscription.Stream.FinishAsync().ConfigureAwait(false);
                        break;
                    case MoqRequestOk or MoqRequestError:
                        subscription.OnResponse(message);
                        break;
                    case MoqGoAway goAway:
                        subscription.OnGoAway(goAway);
                        break;
                    default:
                        throw new MoqProtocolException(MoqError.Protocol($"{message.Type} on a subscription stream"));
                }
            }
        }
        catch (Exception e) when (e is not MoqProtocolException)
        {
            // After PUBLISH_DONE the objects end once the counted streams drained (or the linger passed); when the
            // connection is closing, the session ends the subscription after reading the data streams it still has.
            if (!subscription.Done.IsCompleted && !TransportClosing) subscription.End(null, null);
            throw;
        }
        finally
        {
            ForgetSubscriptionLater(subscription);
            ReaderEnded();
        }
    }

    /// <summary>Objects may trail PUBLISH_DONE: keep the alias routable for the linger time, then drop it.</summary>
    private void ForgetSubscriptionLater(MoqSubscription subscription) =>
        _ = Task.Delay(_options.PublishDoneLinger).ContinueWith(_ => ForgetSubscription(subscription), TaskScheduler.Default);

    private async Task RunNamespaceSubscriptionAsync(MoqNamespaceSubscription subscription)
    {
        try
        {
            while (true)
            {
                var message = await subscription.Stream.ReadAsync(_cts.Token).ConfigureAwait(false);
                switch (message)
                {
                    case null: return;
                    case MoqNamespace ns: subscription.OnNamespace(ns.Suffix); break;
                    case MoqNamespaceDone done: subscription.OnNamespaceDone(done.Suffix); break;
                    case MoqGoAway: break;
                    default: throw new MoqProtocolException(MoqError.Protocol($"{message.Type} on a SUBSCRIBE_NAMESPACE stream"));
                }
            }
        }
        finally
        {
            subscription.End();
            lock (_lock) _namespaceSubscriptions.Remove(subscription);
        }
    }

    internal MoqSubscription? FindSubscription(ulong alias)
    {
        lock (_lock) return _subscriptionsByAlias.GetValueOrDefault(alias);
    }

    internal MoqFetchResponse? FindFetch(ulong requestId)
    {
        lock (_lock) return _fetchesByRequestId.GetValueOrDefault(requestId);
    }

    internal void ForgetSubscription(MoqSubscription subscription)
    {
        lock (_lock)
        {
            if (_subscriptionsByAlias.TryGetValue(subscription.TrackAlias, out var current) && current == subscription)
                _subscriptionsByAlias.Remove(subscription.TrackAlias);
        }
    }

    internal void ForgetFetch(MoqFetchResponse fetch)
    {
        lock (_lock)
        {
            if (_fetchesByRequestId.TryGetValue(fetch.RequestId, out var current) && current == fetch) _fetchesByRequestId.Remove(fetch.RequestId);
        }
    }

    private void FailAllRequests(MoqError error)
    {
        MoqSubscription[] subscriptions;
        MoqFetchResponse[] fetches;
        MoqNamespaceSubscription[] namespaces;
        lock (_lock)
        {
            subscriptions = _subscriptionsByAlias.Values.ToArray();
            fetches = _fetchesByRequestId.Values.ToArray();
            namespaces = _namespaceSubscriptions.ToArray();
        }
        var closed = new MoqSessionClosedException(error);
        foreach (var s in subscriptions) s.End(null, error.Code == MoqSessionError.NoError ? null : closed);
        foreach (var f in fetches) f.CompleteObjects(error.Code == MoqSessionError.NoError ? null : closed);
        foreach (var n in namespaces) n.End();
        FailPublications();
    }
}
