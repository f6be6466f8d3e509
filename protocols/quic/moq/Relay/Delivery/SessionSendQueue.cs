using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Tracks;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Moq.Relay.Delivery;

/// <summary>
/// One downstream session's bounded send queue. Tracks hand it objects without waiting (so a slow subscriber never
/// slows the upstream read or other subscribers); each downstream subgroup stream drains on its own task in stream
/// order, and the transport sends streams in SendPriority order. The bytes queued here (not yet accepted by the
/// transport) are bounded: when an object would exceed the bound, whole subgroups are dropped, lowest priority first
/// (draft-19 §"Priorities", §"Closing Subgroup Streams"): a dropped subgroup that had started is reset, never left
/// with a hole, and its later objects are not sent.
/// </summary>
internal sealed class SessionSendQueue
{
    private readonly object _lock = new();
    private readonly List<OutgoingSubgroup> _live = [];
    private readonly ILogger _logger;
    private readonly string _sessionName;
    private long _queuedBytes;

    private readonly RelayCounters _relayWide;

    public SessionSendQueue(long maxQueuedBytes, string sessionName, RelayCounters relayWide, ILogger logger)
    {
        MaxQueuedBytes = maxQueuedBytes;
        _relayWide = relayWide;
        _sessionName = sessionName;
        _logger = logger;
    }

    public long MaxQueuedBytes { get; }

    public long QueuedBytes { get { lock (_lock) return _queuedBytes; } }

    public int OpenSubgroups { get { lock (_lock) return _live.Count; } }

    public long ObjectsSent;
    public long BytesSent;
    public long ObjectsDropped;
    public long SubgroupsDropped;

    /// <summary>A new downstream subgroup for <paramref name="subscription"/> (its stream opens with the first write).</summary>
    public OutgoingSubgroup Open(DownstreamSubscription subscription, in RelayObject first)
    {
        var og = new OutgoingSubgroup(subscription, first.Group, first.Subgroup, first.PublisherPriority);
        lock (_lock)
        {
            _live.Add(og);
            subscription.OpenSubgroups++;
        }
        return og;
    }

    /// <summary>Queues one object; drops subgroups (maybe this one) when the bound would be exceeded. Never waits.</summary>
    public void Enqueue(OutgoingSubgroup og, in RelayObject obj)
    {
        List<OutgoingSubgroup>? dropped = null;
        bool startDrain = false;
        lock (_lock)
        {
            if (og.Dropped || og.Closed || og.End != SubgroupEnd.None)
            {
                Interlocked.Increment(ref ObjectsDropped);
                Interlocked.Increment(ref _relayWide.ObjectsDropped);
                return;
            }
            long charge = obj.ChargedBytes;
            while (_queuedBytes + charge > MaxQueuedBytes)
            {
                var victim = LowestPriorityWithQueueLocked(og);
                if (victim is null)
                {
                    // Nothing queued ranks below this subgroup: it is the one the subscriber cannot keep up with.
                    DropLocked(og, MoqStreamResetCode.TooFarBehind);
                    (dropped ??= []).Add(og);
                    Interlocked.Increment(ref ObjectsDropped);
                    Interlocked.Increment(ref _relayWide.ObjectsDropped);
                    break;
                }
                DropLocked(victim, MoqStreamResetCode.TooFarBehind);
                (dropped ??= []).Add(victim);
            }
            if (!og.Dropped)
            {
                og.Queue.Enqueue(obj);
                og.QueuedBytes += charge;
                _queuedBytes += charge;
                if (!og.Draining)
                {
                    og.Draining = true;
                    startDrain = true;
                }
            }
        }
        if (dropped is not null)
            AfterDrops(dropped);
        if (startDrain)
            _ = DrainAsync(og);
    }

    /// <summary>The upstream subgroup ended: FIN (all objects arrived) or reset (with <paramref name="resetCode"/>);
    /// applied after what is queued.</summary>
    public void Close(OutgoingSubgroup og, bool finished, MoqStreamResetCode resetCode = MoqStreamResetCode.Cancelled)
    {
        bool startDrain = false;
        lock (_lock)
        {
            if (og.Dropped || og.Closed || og.End != SubgroupEnd.None) return;
            og.End = finished ? SubgroupEnd.Finish : SubgroupEnd.Reset;
            og.ResetCode = resetCode;
            if (!og.Draining)
            {
                og.Draining = true;
                startDrain = true;
            }
        }
        if (startDrain)
            _ = DrainAsync(og);
    }

    /// <summary>Resets every subgroup of <paramref name="subscription"/> (it was cancelled, or its session is going).</summary>
    public void ResetAll(DownstreamSubscription subscription, MoqStreamResetCode code)
    {
        var dropped = new List<OutgoingSubgroup>();
        lock (_lock)
        {
            for (int i = _live.Count - 1; i >= 0; i--)
            {
                var og = _live[i];
                if (og.Subscription != subscription) continue;
                DropLocked(og, code);
                dropped.Add(og);
            }
        }
        foreach (var og in dropped)
            ResetWriter(og);
    }

    /// <summary>A subscription's group anchor moved: re-rank its open streams' transport priorities.</summary>
    public void Rerank(DownstreamSubscription subscription)
    {
        List<(Ports.IDownstreamSubgroupWriter, int)> changes = [];
        lock (_lock)
        {
            foreach (var og in _live)
            {
                if (og.Subscription != subscription) continue;
                og.Rank = og.Rank with { SubscriberPriority = subscription.SubscriberPriority };
                if (og.Writer is { } w)
                    changes.Add((w, og.Rank.ToSendPriority(subscription.GroupAnchor)));
            }
        }
        foreach (var (writer, priority) in changes)
            writer.SendPriority = priority;
    }

    private OutgoingSubgroup? LowestPriorityWithQueueLocked(OutgoingSubgroup than)
    {
        OutgoingSubgroup? worst = null;
        foreach (var og in _live)
        {
            if (og == than || og.QueuedBytes == 0 || og.Dropped) continue;
            if (og.Rank.CompareTo(than.Rank) <= 0) continue;
            if (worst is null || og.Rank.CompareTo(worst.Rank) > 0)
                worst = og;
        }
        return worst;
    }

    private void DropLocked(OutgoingSubgroup og, MoqStreamResetCode code)
    {
        if (og.Dropped) return;
        og.Dropped = true;
        og.ResetCode = code;
        long dropped = og.Queue.Count;
        _queuedBytes -= og.QueuedBytes;
        og.QueuedBytes = 0;
        og.Queue.Clear();
        Interlocked.Add(ref ObjectsDropped, dropped);
        Interlocked.Add(ref _relayWide.ObjectsDropped, dropped);
        Interlocked.Add(ref og.Subscription.ObjectsDropped, dropped);
        if (code == MoqStreamResetCode.TooFarBehind)
            Interlocked.Increment(ref SubgroupsDropped);
        CloseLocked(og);
    }

    private void CloseLocked(OutgoingSubgroup og)
    {
        if (og.Closed) return;
        og.Closed = true;
        _live.Remove(og);
        og.Subscription.OpenSubgroups--;
    }

    private void AfterDrops(List<OutgoingSubgroup> dropped)
    {
        foreach (var og in dropped)
        {
            if (og.ResetCode == MoqStreamResetCode.TooFarBehind)
                _logger.LogDebug("{Session}: dropped subgroup {Group}/{Subgroup} of {Track} (send queue full)",
                    _sessionName, og.Group, og.Subgroup, og.Subscription.Track.Name);
            ResetWriter(og);
        }
        foreach (var og in dropped)
            og.Subscription.AfterSubgroupClosed();
    }

    /// <summary>Resets a dropped subgroup's stream; one still being opened is reset by its drain task when the open
    /// completes (it sees Dropped).</summary>
    private static void ResetWriter(OutgoingSubgroup og)
    {
        var writer = og.Writer;
        if (writer is null) return;
        try
        {
            writer.Reset(og.ResetCode);
        }
        catch (Exception)
        {
            // The session is already gone: nothing left to reset.
        }
    }

    private async Task DrainAsync(OutgoingSubgroup og)
    {
        var subscription = og.Subscription;
        try
        {
            while (true)
            {
                RelayObject next;
                SubgroupEnd end = SubgroupEnd.None;
                lock (_lock)
                {
                    if (og.Dropped)
                    {
                        og.Draining = false;
                        break;
                    }
                    if (og.Queue.Count == 0)
                    {
                        og.Draining = false;
                        if (og.End == SubgroupEnd.None)
                            return;
                        end = og.End;
                        CloseLocked(og);
                    }
                    next = og.Queue.Count > 0 ? og.Queue.Peek() : default;
                }
                if (end != SubgroupEnd.None)
                {
                    if (og.Writer is { } w)
                    {
                        if (end == SubgroupEnd.Finish) w.Complete();
                        else w.Reset(og.ResetCode);
                    }
                    subscription.AfterSubgroupClosed();
                    return;
                }
                if (og.Writer is null)
                {
                    // FIRST_OBJECT when the stream starts with object 0: nothing can precede it in any subgroup. A stream
                    // that starts later (a subscriber joining mid-group, or a layer subgroup) leaves the bit clear: the
                    // relay does not carry the upstream header's bit, so it cannot claim more than it knows.
                    var writer = await subscription.Port.OpenSubgroupAsync(og.Group, og.Subgroup, og.PublisherPriority,
                        og.Rank.ToSendPriority(subscription.GroupAnchor), firstObject: next.ObjectId == 0, subscription.Cancellation).ConfigureAwait(false);
                    bool dropped;
                    lock (_lock)
                    {
                        og.Writer = writer;
                        dropped = og.Dropped;
                    }
                    if (dropped)
                    {
                        ResetWriter(og);
                        lock (_lock) og.Draining = false;
                        return;
                    }
                }
                await og.Writer!.WriteAsync(next, subscription.Cancellation).ConfigureAwait(false);
                long charge = next.ChargedBytes;
                lock (_lock)
                {
                    if (og.Dropped) continue;
                    og.Queue.Dequeue();
                    og.QueuedBytes -= charge;
                    _queuedBytes -= charge;
                }
                Interlocked.Increment(ref ObjectsSent);
                Interlocked.Increment(ref _relayWide.ObjectsOut);
                Interlocked.Add(ref BytesSent, next.Payload.Length);
                Interlocked.Increment(ref subscription.ObjectsSent);
                Interlocked.Add(ref subscription.BytesSent, next.Payload.Length);
            }
        }
        catch (Exception e)
        {
            // The stream or session failed (peer STOP_SENDING, session closed): this subgroup is over for this subscriber.
            bool closedNow;
            lock (_lock)
            {
                og.Draining = false;
                closedNow = !og.Dropped;
                if (closedNow) DropLocked(og, MoqStreamResetCode.Cancelled);
            }
            if (closedNow)
            {
                _logger.LogDebug("{Session}: subgroup {Group}/{Subgroup} of {Track} ended: {Error}",
                    _sessionName, og.Group, og.Subgroup, subscription.Track.Name, e.Message);
                ResetWriter(og);
                subscription.AfterSubgroupClosed();
            }
        }
    }
}
