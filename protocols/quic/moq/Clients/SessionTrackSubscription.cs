using System.Runtime.CompilerServices;
using System.Threading.Channels;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Subscriber;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;

namespace FastRelay.Protocols.Moq.Clients;

/// <summary>
/// The subscriber tool's subscription on a real session: SUBSCRIBE with the start filter, priority and token, and a
/// joining FETCH when asked; both object streams merged into one, status objects (End of Group / Track) left out.
/// An object's receive time is when the session had all its bytes (<see cref="MoqObject.ReceivedTimestamp"/>), not when
/// it reached this reader: the hand-offs between are the application's plumbing, not the network's or the relay's.
/// </summary>
internal sealed class SessionTrackSubscription : IMoqTrackSubscription
{
    private readonly MoqSession _session;
    private readonly MoqSubscription _subscription;
    private readonly MoqFetchResponse? _fetch;
    private readonly TimeProvider _time;

    private SessionTrackSubscription(MoqSession session, MoqSubscription subscription, MoqFetchResponse? fetch, TimeProvider time)
    {
        _session = session;
        _subscription = subscription;
        _fetch = fetch;
        _time = time;
    }

    public static async Task<SessionTrackSubscription> StartAsync(MoqClientEndpoint endpoint, MoqTrackName track, MoqSubscribeOptions options,
        TimeProvider time, CancellationToken cancellationToken)
    {
        var session = await MoqClientConnection.ConnectAsync(endpoint, handler: null, cancellationToken).ConfigureAwait(false);
        MoqSubscription? subscription = null;
        try
        {
            var parameters = MoqClientConnection.Parameters(endpoint);
            parameters.SubscriberPriority = options.SubscriberPriority;
            parameters.LocationFilter = options.Start switch
            {
                SubscriptionStart.NextGroup => MoqLocationFilter.NextGroupStart(),
                SubscriptionStart.Absolute a => MoqLocationFilter.AbsoluteStart(new MoqLocation(a.Group, a.Object)),
                _ => MoqLocationFilter.LargestObject(),
            };
            subscription = await session.SubscribeAsync(MoqClientConnection.FullName(track), parameters, cancellationToken).ConfigureAwait(false);
            MoqFetchResponse? fetch = null;
            // Relative Joining Start counts groups before the joining location's group (draft-19 §"Joining Fetch Range
            // Calculation": Start = {Joining Location.Group - Joining Start, 0}): N groups including the current one is N - 1.
            if (options.JoiningFetchGroups > 0)
                fetch = await session.JoiningFetchAsync(subscription, options.JoiningFetchGroups - 1, relative: true, MoqClientConnection.Parameters(endpoint), cancellationToken).ConfigureAwait(false);
            return new SessionTrackSubscription(session, subscription, fetch, time);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            if (subscription is not null) await subscription.DisposeAsync().ConfigureAwait(false);
            await MoqClientConnection.DisposeAsync(session).ConfigureAwait(false);
            throw MoqClientConnection.Refused(subscription is null ? "SUBSCRIBE to" : "joining FETCH for", track, e);
        }
    }

    /// <summary>Why the joining fetch ended early, if it did.</summary>
    public string? FetchError { get; private set; }

    public string? EndReason =>
        _subscription.Done.IsCompletedSuccessfully && _subscription.Done.Result is { } done
            ? $"PUBLISH_DONE {(MoqPublishDoneCode)done.StatusCode}{(string.IsNullOrEmpty(done.Reason) ? "" : $" ({done.Reason})")}"
            : _session.Terminated.IsCompletedSuccessfully ? $"session closed: {_session.Terminated.Result}" : null;

    public async IAsyncEnumerable<ReceivedObject> ReadObjectsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (_fetch is null)
        {
            // Only the subscription: read it directly (each queue between the session and here is one more thread
            // hand-off per object, tens of µs each on a busy machine).
            await foreach (var obj in _subscription.Objects.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                if (obj.Status == MoqObjectStatus.Normal) yield return Received(obj, viaFetch: false);
            yield break;
        }
        // One queue for both sources, so a slow joining fetch never holds up live objects (nor the other way round).
        var merged = Channel.CreateBounded<(MoqObject Object, bool ViaFetch)>(new BoundedChannelOptions(1024) { SingleReader = true });
        var pumps = new List<Task> { PumpAsync(_subscription.Objects, false, merged.Writer, cancellationToken), PumpAsync(_fetch.Objects, true, merged.Writer, cancellationToken) };
        _ = Task.WhenAll(pumps).ContinueWith(t => merged.Writer.TryComplete(t.Exception?.InnerException), TaskScheduler.Default);

        await foreach (var (obj, viaFetch) in merged.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            if (obj.Status == MoqObjectStatus.Normal) yield return Received(obj, viaFetch);
    }

    private ReceivedObject Received(MoqObject obj, bool viaFetch)
    {
        var now = RealtimeClock.NowMicroseconds(_time);
        // The session's timestamp, moved onto the wall clock the publisher stamped with.
        var receivedAt = obj.ReceivedTimestamp == 0 ? now
            : now - (long)System.Diagnostics.Stopwatch.GetElapsedTime(obj.ReceivedTimestamp).TotalMicroseconds;
        return new ReceivedObject(obj.GroupId, obj.SubgroupId ?? 0, obj.ObjectId, obj.PublisherPriority, obj.Payload, receivedAt, viaFetch);
    }

    private async Task PumpAsync(ChannelReader<MoqObject> source, bool viaFetch, ChannelWriter<(MoqObject, bool)> target, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var obj in source.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                await target.WriteAsync((obj, viaFetch), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (viaFetch && e is not OperationCanceledException)
        {
            // The fetch ended with an error (e.g. the relay reset its stream: part of the range is not cached there);
            // the objects it did deliver count, and the subscription goes on.
            FetchError = e.Message;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_fetch is not null) await _fetch.DisposeAsync().ConfigureAwait(false);
        await _subscription.DisposeAsync().ConfigureAwait(false);
        await MoqClientConnection.DisposeAsync(_session).ConfigureAwait(false);
    }
}
