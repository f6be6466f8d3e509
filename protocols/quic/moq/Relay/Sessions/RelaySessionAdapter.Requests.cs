using FastRelay.Protocols.Moq.Publisher;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Messages;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Moq.Relay.Sessions;

public sealed partial class RelaySessionAdapter
{
    private static Task Reject(MoqIncomingRequest request, RequestRefusal refusal) => request.RejectAsync(refusal.Code, refusal.Reason);

    private static Task NotSetUp(MoqIncomingRequest request) => request.RejectAsync(MoqRequestErrorCode.InternalError, "session not accepted");

    public async Task OnSubscribeAsync(MoqIncomingSubscribe request, CancellationToken cancellationToken)
    {
        if (!await StartedAsync().ConfigureAwait(false)) { await NotSetUp(request).ConfigureAwait(false); return; }
        var p = request.Parameters;
        // §"Range Filters": malformed, repeated, or more ranges than our MAX_FILTER_RANGES (none unless announced).
        if (MoqRangeFilterSet.Invalid(p.RangeFilters, Session.Options.MaxFilterRanges) is { } invalid)
        {
            await request.RejectAsync(MoqRequestErrorCode.InvalidFilter, invalid).ConfigureAwait(false);
            return;
        }
        var relayRequest = new SubscribeRequest(request.Track)
        {
            AuthorizationTokens = Tokens(p),
            SubscriberPriority = p.SubscriberPriority ?? 128,
            GroupOrder = p.GroupOrder,
            Forward = p.Forward ?? true,
            Filter = p.LocationFilter,
            RangeFilters = p.RangeFilters,
        };
        var port = new PublicationPort();
        var outcome = await _relay.SubscribeAsync(this, relayRequest, port, cancellationToken).ConfigureAwait(false);
        if (outcome.Refusal is { } refusal) { await Reject(request, refusal).ConfigureAwait(false); return; }
        var accepted = outcome.Value!;
        MoqTrackPublication publication;
        try
        {
            publication = await request.AcceptAsync(accepted.Info.Largest, accepted.Info.TrackProperties).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            port.Fail(e);
            accepted.Subscription.Cancel();
            return;
        }
        Remember(publication, accepted.Subscription);
        publication.Updated += (_, parameters) => accepted.Subscription.Update(new SubscriptionUpdate
        {
            SubscriberPriority = parameters.SubscriberPriority,
            Forward = parameters.Forward,
            Filter = parameters.LocationFilter,
            RangeFilters = parameters.RangeFilters,
        });
        port.Attach(publication);
        _ = publication.Cancelled.ContinueWith(_ =>
        {
            Forget(publication);
            accepted.Subscription.Cancel();
        }, TaskScheduler.Default);
    }

    public async Task OnFetchAsync(MoqIncomingFetch request, CancellationToken cancellationToken)
    {
        if (!await StartedAsync().ConfigureAwait(false)) { await NotSetUp(request).ConfigureAwait(false); return; }
        var p = request.Parameters;
        var relayRequest = new FetchRequest
        {
            AuthorizationTokens = Tokens(p),
            SubscriberPriority = p.SubscriberPriority ?? 128,
            GroupOrder = request.GroupOrder,
        };
        if (request.Message.Standalone is { } standalone)
            relayRequest = relayRequest with { Track = standalone.Track, Start = standalone.Start, End = standalone.End };
        else if (Find(request.JoinedSubscription) is { } joined)
            relayRequest = relayRequest with
            {
                Joining = joined,
                JoiningIsRelative = request.Message.FetchType == MoqFetchType.RelativeJoining,
                JoiningStart = request.Message.Joining!.Value.JoiningStart,
            };
        else
        {
            await request.RejectAsync(MoqRequestErrorCode.InvalidJoiningRequestId, "no such subscription").ConfigureAwait(false);
            return;
        }
        var outcome = await _relay.FetchAsync(this, relayRequest, cancellationToken).ConfigureAwait(false);
        if (outcome.Refusal is { } refusal) { await Reject(request, refusal).ConfigureAwait(false); return; }
        var fetch = outcome.Value!;
        var stream = await request.AcceptAsync(fetch.End, fetch.EndOfTrack, fetch.Info.TrackProperties).ConfigureAwait(false);
        try
        {
            foreach (var obj in fetch.Objects)
                await stream.WriteObjectAsync(RelayObjects.ToSession(obj), cancellationToken).ConfigureAwait(false);
            if (fetch.Incomplete)
                stream.Reset(MoqStreamResetCode.UnknownObjectStatus); // some of the range is not held here
            else
                await stream.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _logger.LogDebug("{Peer}: FETCH data stream ended early: {Error}", Name, e.Message);
            stream.Reset(MoqStreamResetCode.Cancelled);
        }
    }

    public async Task OnTrackStatusAsync(MoqIncomingTrackStatus request, CancellationToken cancellationToken)
    {
        if (!await StartedAsync().ConfigureAwait(false)) { await NotSetUp(request).ConfigureAwait(false); return; }
        var outcome = await _relay.TrackStatusAsync(this, new SubscribeRequest(request.Track) { AuthorizationTokens = Tokens(request.Message.Parameters) }, cancellationToken).ConfigureAwait(false);
        if (outcome.Refusal is { } refusal) { await Reject(request, refusal).ConfigureAwait(false); return; }
        await request.AcceptAsync(outcome.Value!.Largest, outcome.Value.TrackProperties).ConfigureAwait(false);
    }

    public async Task OnSubscribeNamespaceAsync(MoqIncomingSubscribeNamespace request, CancellationToken cancellationToken)
    {
        if (!await StartedAsync().ConfigureAwait(false)) { await NotSetUp(request).ConfigureAwait(false); return; }
        var listener = new AnnouncerListener(_logger, Name);
        var outcome = await _relay.SubscribeNamespaceAsync(this, new NamespaceRequest(request.Prefix) { AuthorizationTokens = Tokens(request.Message.Parameters) },
            listener, cancellationToken).ConfigureAwait(false);
        if (outcome.Refusal is { } refusal) { await Reject(request, refusal).ConfigureAwait(false); return; }
        var registration = outcome.Value!;
        try
        {
            var announcer = await request.AcceptAsync().ConfigureAwait(false);
            listener.Attach(announcer);
            _ = announcer.Cancelled.ContinueWith(_ => registration.Dispose(), TaskScheduler.Default);
        }
        catch (Exception)
        {
            registration.Dispose();
        }
    }

    public async Task OnPublishNamespaceAsync(MoqIncomingPublishNamespace request, CancellationToken cancellationToken)
    {
        if (!await StartedAsync().ConfigureAwait(false)) { await NotSetUp(request).ConfigureAwait(false); return; }
        var outcome = await _relay.PublishNamespaceAsync(this, new NamespaceRequest(request.Namespace) { AuthorizationTokens = Tokens(request.Message.Parameters) },
            cancellationToken).ConfigureAwait(false);
        if (outcome.Refusal is { } refusal) { await Reject(request, refusal).ConfigureAwait(false); return; }
        var registration = outcome.Value!;
        try
        {
            var accepted = await request.AcceptAsync().ConfigureAwait(false);
            _ = accepted.Withdrawn.ContinueWith(_ => registration.Dispose(), TaskScheduler.Default);
        }
        catch (Exception)
        {
            registration.Dispose();
        }
    }

    public async Task OnPublishAsync(MoqIncomingPublish request, CancellationToken cancellationToken)
    {
        if (!await StartedAsync().ConfigureAwait(false)) { await NotSetUp(request).ConfigureAwait(false); return; }
        var p = request.Message.Parameters;
        var pump = new UpstreamPump(_logger);
        var relayRequest = new PublishRequest(request.Track, pump)
        {
            AuthorizationTokens = Tokens(p),
            Info = new UpstreamTrackInfo { Largest = p.LargestObject, TrackProperties = request.Message.TrackProperties },
        };
        var outcome = await _relay.PublishAsync(this, relayRequest, cancellationToken).ConfigureAwait(false);
        if (outcome.Refusal is { } refusal) { await Reject(request, refusal).ConfigureAwait(false); return; }
        try
        {
            // Forward 1: the relay keeps a published track's cache warm for the subscribers to come.
            var subscription = await request.AcceptAsync(new MoqMessageParameters { Forward = true }).ConfigureAwait(false);
            pump.Start(subscription, outcome.Value!);
        }
        catch (Exception)
        {
            pump.Abandon(MoqPublishDoneCode.InternalError);
        }
    }

    /// <summary>NAMESPACE / NAMESPACE_DONE in the order the relay decided them; held until REQUEST_OK was written.</summary>
    private sealed class AnnouncerListener(ILogger logger, string peer) : INamespaceListener
    {
        private readonly object _lock = new();
        private Task _chain = Task.CompletedTask;
        private readonly TaskCompletionSource<MoqNamespaceAnnouncer> _announcer = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Attach(MoqNamespaceAnnouncer announcer) => _announcer.TrySetResult(announcer);

        public void OnNamespace(MoqTrackNamespace ns) => Enqueue(a => a.AnnounceAsync(ns));

        public void OnNamespaceDone(MoqTrackNamespace ns) => Enqueue(a => a.WithdrawAsync(ns));

        private void Enqueue(Func<MoqNamespaceAnnouncer, Task<bool>> send)
        {
            lock (_lock)
                _chain = _chain.ContinueWith(async _ =>
                {
                    try { await send(await _announcer.Task.ConfigureAwait(false)).ConfigureAwait(false); }
                    catch (Exception e) { logger.LogDebug("{Peer}: namespace announcement failed: {Error}", peer, e.Message); }
                }, TaskScheduler.Default).Unwrap();
        }
    }
}
