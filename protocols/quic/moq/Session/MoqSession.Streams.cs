using FastRelay.Protocols.Moq.Publisher;
using FastRelay.Protocols.Moq.Subscriber;
using FastRelay.Protocols.Moq.Transport;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using FastRelay.Protocols.Moq.Wire.Messages;

namespace FastRelay.Protocols.Moq.Session;

// Inbound streams: classification by type and dispatch (control, subgroup, fetch, padding, requests).
public sealed partial class MoqSession
{
    private readonly MoqBufferBudget _bufferBudget;

    private int MaxDataStreamBuffer => _options.MaxStreamBuffer + _options.DataLimits.MaxObjectPayload + _options.DataLimits.MaxPropertiesLength;

    private async Task HandleUnidirectionalStreamAsync(IMoqStream stream)
    {
        using var reader = new MoqStreamReader(stream, MaxDataStreamBuffer, _bufferBudget);
        try { await ReadUnidirectionalStreamAsync(reader).ConfigureAwait(false); }
        catch (MoqBufferBudgetException) { stream.StopSending((ulong)MoqStreamResetCode.ExcessiveLoad); }
    }

    private async Task ReadUnidirectionalStreamAsync(MoqStreamReader reader)
    {
        var stream = reader.Stream;
        MoqStreamKind kind;
        MoqSubgroupHeader? subgroup;
        ulong fetchRequestId;
        int consumed;
        while (true)
        {
            var status = MoqStreamHeader.TryParse(reader.Buffered.Span, out kind, out subgroup, out fetchRequestId, out consumed, out var error);
            if (status == MoqParseStatus.Complete) break;
            if (status == MoqParseStatus.Malformed) throw new MoqProtocolException(error);
            if (!await reader.FillMoreAsync(_cts.Token).ConfigureAwait(false))
            {
                if (reader.Count == 0) return; // an empty stream says nothing
                throw new MoqProtocolException(MoqError.Protocol("stream ended inside its header"));
            }
        }
        IMoqSubgroupStreamTap? tap = null;
        if (kind == MoqStreamKind.Subgroup && _options.SubgroupTap is { } tapper)
        {
            // Everything read so far is still buffered (nothing was consumed before the header): the header's raw bytes,
            // then whatever of the objects came with it.
            tap = tapper.OnSubgroupStream(stream.Id, subgroup!, reader.Buffered.Span[..consumed]);
            if (tap is not null && reader.Count > consumed)
                tap.OnBytes(consumed, reader.Buffered.Span[consumed..]);
            reader.Tap = tap;
        }
        reader.Consume(consumed);
        if (tap is not null)
        {
            try { await ReadDataStreamAsync(reader, kind, subgroup, fetchRequestId).ConfigureAwait(false); }
            finally { tap.OnEnd(reader.IsFinished && reader.Count == 0); }
            return;
        }
        await ReadDataStreamAsync(reader, kind, subgroup, fetchRequestId).ConfigureAwait(false);
    }

    private async Task ReadDataStreamAsync(MoqStreamReader reader, MoqStreamKind kind, MoqSubgroupHeader? subgroup, ulong fetchRequestId)
    {
        var stream = reader.Stream;
        if (kind == MoqStreamKind.Control)
        {
            await HandleControlStreamAsync(reader).ConfigureAwait(false);
            return;
        }
        if (!await WaitForSetupAsync().ConfigureAwait(false))
        {
            stream.StopSending((ulong)MoqStreamResetCode.ExcessiveLoad);
            return;
        }
        if (Interlocked.Increment(ref _inboundDataStreams) > _options.MaxInboundDataStreams)
        {
            Interlocked.Decrement(ref _inboundDataStreams);
            stream.StopSending((ulong)MoqStreamResetCode.ExcessiveLoad);
            return;
        }
        try
        {
            switch (kind)
            {
                case MoqStreamKind.Padding:
                    // Discard everything (§"Padding Streams") without keeping it.
                    do reader.Consume(reader.Count); while (await reader.FillMoreAsync(_cts.Token).ConfigureAwait(false));
                    break;
                case MoqStreamKind.Subgroup:
                    await ReceiveSubgroupAsync(reader, subgroup!).ConfigureAwait(false);
                    break;
                case MoqStreamKind.Fetch:
                    await ReceiveFetchStreamAsync(reader, fetchRequestId).ConfigureAwait(false);
                    break;
            }
        }
        finally { Interlocked.Decrement(ref _inboundDataStreams); }
    }

    private async Task ReceiveSubgroupAsync(MoqStreamReader reader, MoqSubgroupHeader header)
    {
        var subscription = await WaitForRouteAsync(() => FindSubscription(header.TrackAlias)).ConfigureAwait(false);
        if (subscription is null)
        {
            reader.Stream.StopSending((ulong)MoqStreamResetCode.Cancelled);
            return;
        }
        subscription.OnStreamOpened();
        // The stream's subgroup (known from its first object) and how the stream ended: the subscription reports the
        // end after the objects, so a consumer forwarding the subgroup finishes or resets it exactly then.
        ulong group = 0, subgroupId = 0;
        bool delivered = false;
        MoqSubscriptionEvent? end = null;
        try
        {
            var objects = new MoqSubgroupObjectReader(header, subscription.PublisherPriority, _options.DataLimits);
            while (true)
            {
                var status = objects.TryRead(reader.Buffered, out var obj, out int consumed, out int needed, out var error);
                switch (status)
                {
                    case MoqParseStatus.Complete:
                        var owned = Own(obj);
                        reader.Consume(consumed);
                        (group, subgroupId) = (owned.GroupId, owned.SubgroupId ?? 0);
                        if (!await subscription.DeliverAsync(owned, _cts.Token).ConfigureAwait(false))
                        {
                            reader.Stream.StopSending((ulong)MoqStreamResetCode.Cancelled);
                            return; // the subscription ended: nobody to tell
                        }
                        delivered = true;
                        break;
                    case MoqParseStatus.NeedMoreData:
                        if (!await reader.FillAsync(needed, _cts.Token).ConfigureAwait(false))
                        {
                            if (reader.Count == 0)
                            {
                                end = MoqSubscriptionEvent.Finished(group, subgroupId); // FIN between objects: complete
                                return;
                            }
                            throw new MoqProtocolException(MoqError.Protocol("subgroup stream ended inside an object"));
                        }
                        break;
                    case MoqParseStatus.TooLarge:
                        reader.Stream.StopSending((ulong)MoqStreamResetCode.ExcessiveLoad);
                        end = MoqSubscriptionEvent.Reset(group, subgroupId, null);
                        return;
                    default:
                        throw new MoqProtocolException(error);
                }
            }
        }
        catch (Exception e) when (e is not MoqProtocolException and not OperationCanceledException)
        {
            // Reset by the peer (its code), or cut by the connection's close after what had arrived was read.
            end = MoqSubscriptionEvent.Reset(group, subgroupId, MoqStreamErrors.PeerResetCode(e));
            throw;
        }
        finally
        {
            if (delivered && end is { } ended)
            {
                try { await subscription.DeliverAsync(ended, _cts.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { /* the session ended: the subscription ends with it */ }
            }
            subscription.OnStreamClosed();
        }
    }

    private async Task ReceiveFetchStreamAsync(MoqStreamReader reader, ulong requestId)
    {
        var fetch = await WaitForRouteAsync(() => FindFetch(requestId)).ConfigureAwait(false);
        if (fetch is null)
        {
            reader.Stream.StopSending((ulong)MoqStreamResetCode.Cancelled);
            return;
        }
        var objects = new MoqFetchObjectReader(fetch.GroupOrder, _options.DataLimits);
        using var forget = new FetchRouteRelease(this, fetch);
        try
        {
            while (true)
            {
                var status = objects.TryRead(reader.Buffered, out var obj, out var endOfRange, out int consumed, out int needed, out var error);
                switch (status)
                {
                    case MoqParseStatus.Complete:
                        var owned = obj is null ? null : Own(obj);
                        reader.Consume(consumed);
                        if (owned is not null && !await fetch.DeliverAsync(owned, _cts.Token).ConfigureAwait(false))
                        {
                            reader.Stream.StopSending((ulong)MoqStreamResetCode.Cancelled);
                            return;
                        }
                        if (endOfRange is { } range) fetch.OnEndOfRange(range);
                        break;
                    case MoqParseStatus.NeedMoreData:
                        if (!await reader.FillAsync(needed, _cts.Token).ConfigureAwait(false))
                        {
                            if (reader.Count == 0) { fetch.CompleteObjects(null); return; }
                            throw new MoqProtocolException(MoqError.Protocol("fetch stream ended inside an object"));
                        }
                        break;
                    case MoqParseStatus.TooLarge:
                        reader.Stream.StopSending((ulong)MoqStreamResetCode.ExcessiveLoad);
                        fetch.CompleteObjects(new IOException("a fetched object was over the local size limit"));
                        return;
                    default:
                        throw new MoqProtocolException(error);
                }
            }
        }
        catch (Exception e) when (e is not MoqProtocolException)
        {
            fetch.CompleteObjects(e);
            throw;
        }
    }

    /// <summary>One FETCH_HEADER stream per fetch: once it ended, its Request ID routes nothing more.</summary>
    private readonly struct FetchRouteRelease(MoqSession session, MoqFetchResponse fetch) : IDisposable
    {
        public void Dispose() => session.ForgetFetch(fetch);
    }

    /// <summary>Copies an object out of a receive buffer (payload and byte-valued properties).</summary>
    private static MoqObject Own(MoqObject obj) => obj with
    {
        // Taken as the object completes: what a subscriber measures as its arrival should not include the hand-offs
        // to the application that follow.
        ReceivedTimestamp = System.Diagnostics.Stopwatch.GetTimestamp(),
        Payload = obj.Payload.ToArray(),
        Properties = obj.Properties.Count == 0 ? Array.Empty<MoqKeyValuePair>()
            : obj.Properties.Select(p => p.IsBytes ? MoqKeyValuePair.FromBytes(p.Type, p.BytesValue.ToArray()) : p).ToArray(),
    };

    private readonly object _routeSignalLock = new();
    private TaskCompletionSource _routesChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Wakes data streams waiting for a Track Alias or fetch Request ID that was just registered.</summary>
    internal void SignalRoutesChanged()
    {
        TaskCompletionSource old;
        lock (_routeSignalLock)
        {
            old = _routesChanged;
            _routesChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        old.TrySetResult();
    }

    /// <summary>
    /// Data may arrive before the SUBSCRIBE_OK / PUBLISH / FETCH that names its alias or request: wait a bounded time
    /// for the route (§"Track Alias"), then give up.
    /// </summary>
    private async Task<T?> WaitForRouteAsync<T>(Func<T?> find) where T : class
    {
        var deadline = DateTime.UtcNow + _options.UnknownAliasWait;
        while (true)
        {
            Task changed;
            lock (_routeSignalLock) changed = _routesChanged.Task;
            var found = find();
            if (found is not null) return found;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) return null;
            try { await changed.WaitAsync(left, _cts.Token).ConfigureAwait(false); }
            catch (TimeoutException) { return find(); }
        }
    }

    private async Task HandleRequestStreamAsync(IMoqStream stream)
    {
        var requestStream = new MoqRequestStream(stream, _options.MaxStreamBuffer);
        var first = await requestStream.ReadAsync(_cts.Token).ConfigureAwait(false);
        if (first is null) return;
        if (!MoqMessageTypes.StartsRequestStream(first.Type))
            throw new MoqProtocolException(MoqError.Protocol($"{first.Type} cannot open a request stream"));
        UsePeerRequestId(((IMoqRequestMessage)first).RequestId);
        if (!await WaitForSetupAsync().ConfigureAwait(false))
        {
            requestStream.Cancel(MoqStreamResetCode.ExcessiveLoad);
            return;
        }
        if (_goAwaySent)
        {
            await RejectAsync(requestStream, MoqRequestErrorCode.GoingAway, "going away").ConfigureAwait(false);
            return;
        }
        if (Interlocked.Increment(ref _inboundRequests) > _options.MaxInboundRequests)
        {
            Interlocked.Decrement(ref _inboundRequests);
            await RejectAsync(requestStream, MoqRequestErrorCode.ExcessiveLoad, "too many open requests", retryInterval: 1001).ConfigureAwait(false);
            return;
        }
        try
        {
            await DispatchRequestAsync(first, requestStream).ConfigureAwait(false);
        }
        finally { Interlocked.Decrement(ref _inboundRequests); }
    }

    internal static async Task RejectAsync(MoqRequestStream stream, MoqRequestErrorCode code, string reason, ulong retryInterval = 0)
    {
        await stream.WriteAsync(new MoqRequestError(code, reason, retryInterval), fin: true).ConfigureAwait(false);
    }
}
