using FastRelay.Protocols.Moq.Publisher;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Wire;

namespace FastRelay.Protocols.Moq.Clients;

/// <summary>
/// The publisher tool's track on a real session: PUBLISH_NAMESPACE for the track's namespace, then every SUBSCRIBE for
/// the track (normally the relay's one upstream subscription) is accepted, and each subgroup the tool opens is opened
/// on every subscription that wants objects (FORWARD 1). A subscription that arrives mid-group starts at the next
/// subgroup opened, which is after its Largest Object: what the filter asks. Other tracks: DOES_NOT_EXIST; FETCH:
/// NOT_SUPPORTED (the relay serves fetches from its cache).
/// </summary>
internal sealed class SessionTrackPublisher : IMoqTrackPublisher, IMoqRequestHandler
{
    private readonly MoqFullTrackName _track;
    private readonly Lock _lock = new();
    private readonly List<MoqTrackPublication> _publications = [];
    // Subgroup streams not yet acknowledged by the subscriber (completed ones are pruned as new ones come).
    private readonly List<Task> _unacknowledged = [];
    private MoqSession _session = null!;
    private MoqPublishedNamespace? _namespace;
    private MoqLocation? _largest;

    private SessionTrackPublisher(MoqFullTrackName track, bool fastPath)
    {
        _track = track;
        OpensSubgroupsEarly = fastPath;
    }

    public bool OpensSubgroupsEarly { get; }

    public Task Closed => _session.Terminated;

    public int SubscriberCount { get { lock (_lock) return _publications.Count; } }

    public static async Task<SessionTrackPublisher> StartAsync(MoqClientEndpoint endpoint, MoqTrackName track, CancellationToken cancellationToken)
    {
        var publisher = new SessionTrackPublisher(MoqClientConnection.FullName(track), endpoint.FastPath);
        publisher._session = await MoqClientConnection.ConnectAsync(endpoint, publisher, cancellationToken).ConfigureAwait(false);
        try
        {
            publisher._namespace = await publisher._session.PublishNamespaceAsync(publisher._track.Namespace, MoqClientConnection.Parameters(endpoint), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await MoqClientConnection.DisposeAsync(publisher._session).ConfigureAwait(false);
            throw MoqClientConnection.Refused("PUBLISH_NAMESPACE for", track, e);
        }
        return publisher;
    }

    public async Task OnSubscribeAsync(MoqIncomingSubscribe request, CancellationToken cancellationToken)
    {
        if (!request.Track.Equals(_track))
        {
            await request.RejectAsync(MoqRequestErrorCode.DoesNotExist, "this publisher has one track").ConfigureAwait(false);
            return;
        }
        MoqLocation? largest;
        lock (_lock) largest = _largest;
        var publication = await request.AcceptAsync(largestObject: largest).ConfigureAwait(false);
        Writer[] ahead;
        lock (_lock)
        {
            _publications.Add(publication);
            ahead = [.. _openedAhead];
        }
        _ = publication.Cancelled.ContinueWith(_ => { lock (_lock) _publications.Remove(publication); }, TaskScheduler.Default);
        _firstSubscription.TrySetResult();
        // Subgroups opened ahead and still without objects: the new subscription gets their headers now, so a fast-path
        // relay maps those streams before their first object too.
        foreach (var writer in ahead)
            await writer.OpenOnNewSubscriptionsAsync(cancellationToken).ConfigureAwait(false);
    }

    private readonly TaskCompletionSource _firstSubscription = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task FirstSubscription => _firstSubscription.Task;

    // Subgroups opened ahead of their first object (OpensSubgroupsEarly), until that object is written.
    private readonly List<Writer> _openedAhead = [];

    public async ValueTask<IMoqSubgroupWriter> OpenSubgroupAsync(ulong groupId, ulong subgroupId, byte publisherPriority, CancellationToken cancellationToken)
    {
        if (_session.Terminated.IsCompletedSuccessfully)
            throw new MoqClientException($"the MoQ session closed: {_session.Terminated.Result}");
        var writer = new Writer(this, groupId, subgroupId, publisherPriority);
        if (OpensSubgroupsEarly)
            lock (_lock) _openedAhead.Add(writer);
        await writer.OpenOnNewSubscriptionsAsync(cancellationToken).ConfigureAwait(false);
        return writer;
    }

    private void FirstObjectWritten(Writer writer)
    {
        lock (_lock) _openedAhead.Remove(writer);
    }

    /// <summary>Opens the subgroup on every subscription that wants objects and does not have it yet (under the
    /// writer's own lock: a new subscription and the first object may both ask at once).</summary>
    private async ValueTask OpenOnAsync(Writer writer, CancellationToken cancellationToken)
    {
        MoqTrackPublication[] targets;
        lock (_lock) targets = _publications.Where(p => p.Forward && !p.Cancelled.IsCompleted && !writer.Covers(p)).ToArray();
        foreach (var publication in targets)
        {
            try
            {
                var stream = await publication.OpenSubgroupAsync(writer.GroupId, writer.SubgroupId, publisherPriority: writer.Priority, cancellationToken: cancellationToken).ConfigureAwait(false);
                writer.Add(publication, stream);
                lock (_lock)
                {
                    if (_unacknowledged.Count >= 64) _unacknowledged.RemoveAll(t => t.IsCompleted);
                    _unacknowledged.Add(stream.Delivered);
                }
            }
            catch (Exception) when (publication.Cancelled.IsCompleted || _session.Terminated.IsCompleted)
            {
                // That subscriber left while we opened; the others still get the subgroup.
            }
        }
    }

    private void Wrote(ulong group, ulong objectId)
    {
        lock (_lock)
            if (_largest is not { } l || group > l.Group || (group == l.Group && objectId > l.Object))
                _largest = new MoqLocation(group, objectId);
    }

    /// <summary>
    /// The longest the publisher waits, after PUBLISH_DONE, for the subscriber to acknowledge its subgroup streams and
    /// PUBLISH_DONE before closing (a QUIC CONNECTION_CLOSE discards whatever is not yet delivered). Normally the wait
    /// ends after one round trip, when the last acknowledgement arrives; this only bounds a peer that never acknowledges.
    /// </summary>
    public static TimeSpan CloseAcknowledgementTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public async ValueTask DisposeAsync()
    {
        MoqTrackPublication[] publications;
        lock (_lock) publications = [.. _publications];
        foreach (var p in publications)
        {
            try { await p.FinishAsync(MoqPublishDoneCode.TrackEnded, "publisher finished").ConfigureAwait(false); }
            catch (Exception) { /* the subscriber or the session is gone */ }
        }
        if (publications.Length > 0 && !_session.Terminated.IsCompleted)
        {
            Task[] pending;
            lock (_lock) pending = [.. _unacknowledged, .. publications.Select(p => p.Delivered)];
            // Delivered faults when a stream was reset or the session ended: then there is nothing more to wait for.
            var delivered = Task.WhenAll(pending).ContinueWith(_ => { }, TaskScheduler.Default);
            try { await Task.WhenAny(delivered, _session.Terminated).WaitAsync(CloseAcknowledgementTimeout).ConfigureAwait(false); }
            catch (TimeoutException) { }
        }
        if (_namespace is not null)
        {
            try { await _namespace.DisposeAsync().ConfigureAwait(false); }
            catch (Exception) { }
        }
        await MoqClientConnection.DisposeAsync(_session).ConfigureAwait(false);
    }

    /// <summary>One subgroup on every subscription that had it opened; a subscriber that fails is dropped, the others go on.
    /// A subgroup opened ahead of its first object (<see cref="IMoqTrackPublisher.OpensSubgroupsEarly"/>) is opened on
    /// the subscriptions that arrived since, when that object comes: nothing of it was sent yet, so they get it whole.</summary>
    private sealed class Writer(SessionTrackPublisher owner, ulong groupId, ulong subgroupId, byte priority) : IMoqSubgroupWriter
    {
        private readonly List<MoqSubgroupStream> _streams = [];
        private readonly List<MoqTrackPublication> _covered = [];
        private readonly SemaphoreSlim _opening = new(1, 1);
        private bool _written;

        public ulong GroupId => groupId;
        public ulong SubgroupId => subgroupId;
        public byte Priority => priority;
        public bool Covers(MoqTrackPublication publication) => _covered.Contains(publication);

        public void Add(MoqTrackPublication publication, MoqSubgroupStream stream)
        {
            _covered.Add(publication);
            _streams.Add(stream);
        }

        public async ValueTask OpenOnNewSubscriptionsAsync(CancellationToken cancellationToken)
        {
            await _opening.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (!_written) await owner.OpenOnAsync(this, cancellationToken).ConfigureAwait(false);
            }
            finally { _opening.Release(); }
        }

        public async ValueTask WriteObjectAsync(ulong objectId, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
        {
            if (!_written)
            {
                if (owner.OpensSubgroupsEarly)
                {
                    await OpenOnNewSubscriptionsAsync(cancellationToken).ConfigureAwait(false);
                    owner.FirstObjectWritten(this);
                }
                await _opening.WaitAsync(cancellationToken).ConfigureAwait(false);
                _written = true;   // from here a new subscription waits for the next subgroup
                _opening.Release();
            }
            owner.Wrote(groupId, objectId);
            for (var i = _streams.Count - 1; i >= 0; i--)
            {
                try { await _streams[i].WriteObjectAsync(objectId, payload, cancellationToken: cancellationToken).ConfigureAwait(false); }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    if (owner._session.Terminated.IsCompleted) throw new MoqClientException("the MoQ session closed", e);
                    _streams.RemoveAt(i); // that subscription's stream was reset or timed out
                }
            }
        }

        public async ValueTask CompleteAsync(CancellationToken cancellationToken)
        {
            owner.FirstObjectWritten(this);   // an ahead subgroup completed empty
            await _opening.WaitAsync(cancellationToken).ConfigureAwait(false);
            _written = true;
            _opening.Release();
            foreach (var s in _streams)
            {
                try { await s.CompleteAsync().ConfigureAwait(false); }
                catch (Exception) { }
            }
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
