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
/// The session hands objects over in arrival order without the stream they came on, so subgroup streams are
/// recognised by (group, subgroup): objects of one upstream stream keep their order. A subgroup is taken as complete
/// (its downstream streams get a FIN) on its End of Group / End of Track object, when the same subgroup ID starts two
/// groups later (not one: the last objects of group g often arrive after group g+1 started, on their own stream, and
/// closing g then would split it over two downstream streams), or when the subscription ends after PUBLISH_DONE; when the session ended abnormally the open
/// subgroups are reset instead. An upstream stream reset is not visible here, so it ends like a complete subgroup.
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
        bool clean = false;
        try
        {
            await foreach (var obj in subscription.ReadObjectsAsync().ConfigureAwait(false))
                Forward(sink, obj);
            clean = true;
        }
        catch (Exception e)
        {
            _logger.LogDebug("upstream {Track}: objects ended: {Error}", subscription.Track, e.Message);
        }
        var done = subscription.Done.IsCompletedSuccessfully ? subscription.Done.Result : null;
        // After PUBLISH_DONE what is open is complete, also when the publisher's session ended right after it (a publisher
        // closes once its streams are acknowledged, which can be before we forwarded them): resetting the downstream
        // streams then would throw away objects we hold.
        bool complete = done is not null;
        foreach (var open in _open.Values)
            open.OnClosed(complete);
        _open.Clear();
        _done.TrySetResult(done is { } d ? (MoqPublishDoneCode)d.StatusCode
            : Volatile.Read(ref _cancelled) != 0 ? MoqPublishDoneCode.SubscriptionEnded : MoqPublishDoneCode.InternalError);
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
            CloseEarlierGroups(obj.GroupId, subgroup);
            if (_open.Count >= MaxOpenSubgroups)
                CloseOldest();
            stream = sink.OpenSubgroup();
            _open.Add(key, stream);
        }
        stream.OnObject(relayObject);
        if (obj.Status is MoqObjectStatus.EndOfGroup or MoqObjectStatus.EndOfTrack)
        {
            stream.OnClosed(true);
            _open.Remove(key);
        }
    }

    /// <summary>How many groups a subgroup stays open after a later group of its subgroup ID started (see the class).</summary>
    private const ulong GroupsKeptOpen = 1;

    private void CloseEarlierGroups(ulong group, ulong subgroup)
    {
        List<(ulong, ulong)>? done = null;
        foreach (var key in _open.Keys)
            if (key.Subgroup == subgroup && key.Group + GroupsKeptOpen < group)
                (done ??= []).Add(key);
        if (done is null) return;
        foreach (var key in done)
        {
            _open[key].OnClosed(true);
            _open.Remove(key);
        }
    }

    private void CloseOldest()
    {
        var oldest = _open.Keys.Min();
        _open[oldest].OnClosed(false);
        _open.Remove(oldest);
    }
}
