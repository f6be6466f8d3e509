using System.Threading.Channels;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using FastRelay.Protocols.Moq.Wire.Messages;

namespace FastRelay.Protocols.Moq.Subscriber;

/// <summary>
/// The subscriber's side of an established subscription (from our SUBSCRIBE, or from a PUBLISH we accepted).
/// Objects from its subgroup streams and datagrams arrive on <see cref="Objects"/> in arrival order; the publisher's
/// PUBLISH_DONE completes <see cref="Done"/>, and the object stream ends once the streams it counted have closed.
/// <see cref="Events"/> is the same sequence with each subgroup stream's end (FIN or reset) in its place, for consumers
/// that forward subgroups; read one or the other, not both.
/// </summary>
public sealed class MoqSubscription : IAsyncDisposable
{
    /// <summary>DEFAULT_PUBLISHER_PRIORITY Track Property (§"DEFAULT PUBLISHER PRIORITY").</summary>
    public const ulong DefaultPublisherPriorityProperty = 0x0E;

    private readonly Channel<MoqSubscriptionEvent> _objects;
    private readonly TaskCompletionSource<MoqPublishDone?> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<MoqGoAway> _goAway = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _updateLock = new(1, 1);
    private readonly object _lock = new();
    private TaskCompletionSource<MoqControlMessage>? _pendingUpdate;
    private int _openStreams, _streamsSeen;
    private MoqPublishDone? _publishDone;
    private bool _cancelled;

    internal MoqSubscription(MoqSession session, MoqRequestStream stream, ulong requestId, MoqFullTrackName track, ulong trackAlias,
        MoqMessageParameters parameters, IReadOnlyList<MoqKeyValuePair> trackProperties, bool fromPublish, int queueLength, bool inlineDelivery = false)
    {
        Session = session;
        Stream = stream;
        RequestId = requestId;
        Track = track;
        TrackAlias = trackAlias;
        Parameters = parameters;
        TrackProperties = trackProperties;
        IsFromPublish = fromPublish;
        var priority = trackProperties.FirstOrDefault(p => p.Type == DefaultPublisherPriorityProperty);
        PublisherPriority = priority.Type == DefaultPublisherPriorityProperty && priority.IntValue <= 255 ? (byte)priority.IntValue : (byte)128;
        _objects = Channel.CreateBounded<MoqSubscriptionEvent>(new BoundedChannelOptions(queueLength)
        {
            SingleReader = true, FullMode = BoundedChannelFullMode.Wait, AllowSynchronousContinuations = inlineDelivery,
        });
        Objects = new ObjectsOnlyReader(_objects.Reader);
    }

    public MoqSession Session { get; }
    internal MoqRequestStream Stream { get; }
    public ulong RequestId { get; }
    public MoqFullTrackName Track { get; }
    public ulong TrackAlias { get; }

    /// <summary>Parameters of the publisher's answer (SUBSCRIBE_OK) or of its PUBLISH: LARGEST_OBJECT, EXPIRES, ...</summary>
    public MoqMessageParameters Parameters { get; }
    public IReadOnlyList<MoqKeyValuePair> TrackProperties { get; }

    /// <summary>The largest object the publisher had when it answered; null if it had none.</summary>
    public MoqLocation? LargestObject => Parameters.LargestObject;

    /// <summary>Priority for objects whose header inherits it (DEFAULT_PUBLISHER_PRIORITY, else 128).</summary>
    public byte PublisherPriority { get; }

    /// <summary>True when the publisher started this subscription with PUBLISH.</summary>
    public bool IsFromPublish { get; }

    /// <summary>Received objects, each with its group, subgroup (null for datagrams), object ID, priority, status, properties and payload.</summary>
    public ChannelReader<MoqObject> Objects { get; }

    public IAsyncEnumerable<MoqObject> ReadObjectsAsync(CancellationToken cancellationToken = default) => Objects.ReadAllAsync(cancellationToken);

    /// <summary>Objects and subgroup stream ends (FIN, reset) in arrival order; ends like <see cref="Objects"/>.</summary>
    public ChannelReader<MoqSubscriptionEvent> Events => _objects.Reader;

    /// <summary>PUBLISH_DONE from the publisher; null when the subscription ended without one (cancelled, session closed).</summary>
    public Task<MoqPublishDone?> Done => _done.Task;

    /// <summary>GOAWAY for this request alone: re-subscribe at the URI it names (or on this session).</summary>
    public Task<MoqGoAway> GoAway => _goAway.Task;

    /// <summary>
    /// REQUEST_UPDATE: changes the filter (LOCATION_FILTER), SUBSCRIBER_PRIORITY, FORWARD, delivery timeouts,
    /// NEW_GROUP_REQUEST... Returns REQUEST_OK (with LARGEST_OBJECT); throws <see cref="MoqRequestException"/> on refusal.
    /// Updates are sent one at a time, so the peer's MAX_REQUEST_UPDATES is always respected.
    /// </summary>
    public async Task<MoqRequestOk> UpdateAsync(MoqMessageParameters parameters, CancellationToken cancellationToken = default)
    {
        await _updateLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var waiter = new TaskCompletionSource<MoqControlMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_lock) _pendingUpdate = waiter;
            await Stream.WriteAsync(new MoqRequestUpdate(Session.AllocateUpdateRequestId(), parameters), cancellationToken: cancellationToken).ConfigureAwait(false);
            var answer = await waiter.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return answer as MoqRequestOk ?? throw new MoqRequestException((MoqRequestError)answer);
        }
        finally { _updateLock.Release(); }
    }

    /// <summary>Unsubscribes: cancels the request stream (RESET_STREAM + STOP_SENDING, CANCELLED) and ends <see cref="Objects"/>.</summary>
    public Task UnsubscribeAsync()
    {
        lock (_lock)
        {
            if (_cancelled) return Task.CompletedTask;
            _cancelled = true;
        }
        Stream.Cancel(MoqStreamResetCode.Cancelled);
        Session.ForgetSubscription(this);
        End(null, null);
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => new(UnsubscribeAsync());

    internal ValueTask<bool> DeliverAsync(MoqObject obj, CancellationToken cancellationToken) =>
        DeliverAsync(MoqSubscriptionEvent.ForObject(obj), cancellationToken);

    /// <summary>Queues an object or a stream end (waits while the queue is full); false once the subscription ended.</summary>
    internal async ValueTask<bool> DeliverAsync(MoqSubscriptionEvent e, CancellationToken cancellationToken)
    {
        try
        {
            await _objects.Writer.WriteAsync(e, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ChannelClosedException) { return false; }
    }

    /// <summary>Datagrams are unreliable: when the queue is full the object is dropped rather than waited for.</summary>
    internal void TryDeliverDatagram(MoqObject obj) => _objects.Writer.TryWrite(MoqSubscriptionEvent.ForObject(obj with { Payload = obj.Payload.ToArray(), ReceivedTimestamp = System.Diagnostics.Stopwatch.GetTimestamp() }));

    internal void OnStreamOpened()
    {
        lock (_lock) { _openStreams++; _streamsSeen++; }
    }

    internal void OnStreamClosed()
    {
        lock (_lock) _openStreams--;
        CompleteIfDrained();
    }

    internal void OnResponse(MoqControlMessage answer)
    {
        TaskCompletionSource<MoqControlMessage>? waiter;
        lock (_lock)
        {
            waiter = _pendingUpdate;
            _pendingUpdate = null;
        }
        if (waiter is null) throw new MoqProtocolException(MoqError.Protocol($"{answer.Type} without an outstanding REQUEST_UPDATE"));
        waiter.TrySetResult(answer);
    }

    internal void OnGoAway(MoqGoAway goAway) => _goAway.TrySetResult(goAway);

    internal void OnPublishDone(MoqPublishDone done, TimeSpan linger)
    {
        lock (_lock) _publishDone ??= done;
        _done.TrySetResult(done);
        CompleteIfDrained();
        // Streams the publisher counted may never come (reset before their header): stop waiting after a while.
        _ = Task.Delay(linger).ContinueWith(_ => _objects.Writer.TryComplete(), TaskScheduler.Default);
    }

    private void CompleteIfDrained()
    {
        lock (_lock)
        {
            if (_publishDone is null || _openStreams > 0 || (ulong)_streamsSeen < _publishDone.StreamCount) return;
        }
        _objects.Writer.TryComplete();
    }

    /// <summary>Ends the subscription without PUBLISH_DONE (cancelled, stream ended, session closed).</summary>
    internal void End(MoqPublishDone? done, Exception? error)
    {
        _done.TrySetResult(done);
        _objects.Writer.TryComplete(error);
        lock (_lock) _pendingUpdate?.TrySetException(error ?? new MoqSessionClosedException(new MoqError(MoqSessionError.NoError, "subscription ended")));
    }

    /// <summary><see cref="Events"/> seen as objects only: stream ends are skipped.</summary>
    private sealed class ObjectsOnlyReader(ChannelReader<MoqSubscriptionEvent> events) : ChannelReader<MoqObject>
    {
        public override Task Completion => events.Completion;
        public override bool CanPeek => true;

        public override bool TryRead(out MoqObject item)
        {
            while (events.TryRead(out var e))
            {
                if (e.Object is { } obj)
                {
                    item = obj;
                    return true;
                }
            }
            item = null!;
            return false;
        }

        public override bool TryPeek(out MoqObject item)
        {
            while (events.TryPeek(out var e))
            {
                if (e.Object is { } obj)
                {
                    item = obj;
                    return true;
                }
                events.TryRead(out _); // a stream end: not an object, skip it
            }
            item = null!;
            return false;
        }

        public override async ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
        {
            while (await events.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                if (TryPeek(out _)) return true;
            return false;
        }
    }
}
