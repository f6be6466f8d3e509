using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Protocols.Moq.Subscriber;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Moq.Relay.Sessions;

/// <summary>
/// Feeds one upstream <see cref="MoqSubscription"/> (our SUBSCRIBE, or a publisher's PUBLISH) into the relay's track,
/// reading as fast as objects come (the relay never waits on subscribers, so the session's back pressure never
/// reaches the publisher through us).
/// <para>
/// The session reports each subgroup stream's objects and then its end (<see cref="MoqSubscription.Events"/>): a FIN
/// finishes the subgroup's downstream streams, a reset (or a stream cut by the connection's close) resets them, exactly
/// then, with the upstream reset code. Subgroups still open when the subscription ends had no FIN, so they are reset: a forwarded subgroup is
/// finished or reset, never left open or with a hole.
/// </para>
/// </summary>
internal sealed class UpstreamPump : IUpstreamSubscription
{
    /// <summary>Subgroups open at once per upstream subscription; past this the oldest is reset downstream.</summary>
    public const int MaxOpenSubgroups = 64;

    private readonly TaskCompletionSource<MoqSubscription> _subscription = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<MoqPublishDoneCode> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<(ulong Group, ulong Subgroup), IUpstreamSubgroupSink> _open = new();
    private readonly ILogger _logger;
    private int _cancelled;

    public UpstreamPump(ILogger logger) => _logger = logger;

    public Task<MoqPublishDoneCode> Done => _done.Task;

    /// <summary>Starts reading once the session's subscription exists.</summary>
    public void Start(MoqSubscription subscription, IUpstreamTrackSink sink)
    {
        _subscription.TrySetResult(subscription);
        _ = Task.Run(() => PumpAsync(subscription, sink));
    }

    /// <summary>The subscription never came about (refused, session gone).</summary>
    public void Abandon(MoqPublishDoneCode code) => _done.TrySetResult(code);

    public void Cancel()
    {
        if (Interlocked.Exchange(ref _cancelled, 1) != 0) return;
        if (_subscription.Task.IsCompletedSuccessfully)
            _ = _subscription.Task.Result.UnsubscribeAsync();
        else
            _done.TrySetResult(MoqPublishDoneCode.SubscriptionEnded);
    }

    private async Task PumpAsync(MoqSubscription subscription, IUpstreamTrackSink sink)
    {
        try
        {
            await foreach (var e in subscription.Events.ReadAllAsync().ConfigureAwait(false))
                Handle(sink, e);
        }
        catch (Exception e)
        {
            _logger.LogDebug("upstream {Track}: objects ended: {Error}", subscription.Track, e.Message);
        }
        var done = subscription.Done.IsCompletedSuccessfully ? subscription.Done.Result : null;
        // Whatever is still open saw no FIN: its stream was cut (or outlived the wait after PUBLISH_DONE).
        foreach (var open in _open.Values)
            open.OnClosed(false);
        _open.Clear();
        _done.TrySetResult(done is { } d ? (MoqPublishDoneCode)d.StatusCode
            : Volatile.Read(ref _cancelled) != 0 ? MoqPublishDoneCode.SubscriptionEnded : MoqPublishDoneCode.InternalError);
    }

    private void Handle(IUpstreamTrackSink sink, in MoqSubscriptionEvent e)
    {
        switch (e.Kind)
        {
            case MoqSubscriptionEventKind.Object:
                Forward(sink, e.Object!);
                break;
            case MoqSubscriptionEventKind.SubgroupFinished:
                if (_open.Remove((e.GroupId, e.SubgroupId), out var finished))
                    finished.OnClosed(true);
                break;
            case MoqSubscriptionEventKind.SubgroupReset:
                // The publisher's code goes downstream; a stream cut by the session's end (no code) is SESSION_CLOSED.
                if (_open.Remove((e.GroupId, e.SubgroupId), out var reset))
                    reset.OnReset(e.ResetCode is { } code ? (MoqStreamResetCode)code : MoqStreamResetCode.SessionClosed);
                break;
        }
    }

    private void Forward(IUpstreamTrackSink sink, MoqObject obj)
    {
        var relayObject = RelayObjects.FromSession(obj);
        if (obj.SubgroupId is not { } subgroup)
        {
            sink.OnDatagram(relayObject);
            return;
        }
        var key = (obj.GroupId, subgroup);
        if (!_open.TryGetValue(key, out var stream))
        {
            if (_open.Count >= MaxOpenSubgroups)
                CloseOldest();
            stream = sink.OpenSubgroup();
            _open.Add(key, stream);
        }
        stream.OnObject(relayObject);
    }

    private void CloseOldest()
    {
        var oldest = _open.Keys.Min();
        _open[oldest].OnClosed(false);
        _open.Remove(oldest);
    }
}
