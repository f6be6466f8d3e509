using System.Net;

namespace FastRelay.Relay;

/// <summary>Who put a subscriber into the running plan, and so who may change or remove it.</summary>
public enum SubscriberOwner
{
    /// <summary>Listed in the configuration file: changed by editing the file (reloaded on change / SIGHUP).</summary>
    File,

    /// <summary>Added at run time (the control API): removed and re-budgeted the same way; a reload keeps it.</summary>
    Api,
}

/// <summary>Why a run-time change of the plan was refused.</summary>
public enum PlanEditProblem
{
    /// <summary>The channel or subscriber named does not exist.</summary>
    NotFound,

    /// <summary>It exists but the change is not this source's to make (owned by the file, already there, no free slot).</summary>
    Conflict,
}

/// <summary>A run-time change that was refused; <see cref="Field"/> names the request's field at fault.</summary>
public sealed class PlanEditException(PlanEditProblem problem, string field, string message) : Exception(message)
{
    public PlanEditProblem Problem { get; } = problem;
    public string Field { get; } = field;
}

/// <summary>
/// The plan a <see cref="RelayHost"/> runs, made of two sources that must not fight: the configuration file's plan and
/// subscribers added at run time (the control API). The rule is one owner per subscriber:
/// <list type="bullet">
/// <item>Channels (their id, allowed sender, streams) come from the file only; run-time subscribers join a channel the
/// file has.</item>
/// <item>A subscriber listed in the file is the file's: a run-time removal or budget change of it is refused (edit the
/// file), so the next reload cannot silently undo it.</item>
/// <item>A run-time subscriber lives beside the file's until it is removed the same way: a reload keeps it, with its
/// options. If the file starts listing the same address in the same channel, the file's entry takes over (the newer,
/// persistent statement wins), and if the file drops the channel, its run-time subscribers go with it; both are
/// reported by <see cref="ApplyFile"/>.</item>
/// <item>Run-time subscribers outlive a restart when a store is given: <paramref name="persist"/> is told the whole set
/// after every change of it (under the lock, so saves never interleave), and <see cref="Restore"/> brings a saved set
/// back at start, by the same rules as <see cref="Add"/>.</item>
/// </list>
/// Every change goes through one lock and ends in one <see cref="RelayHost.Apply"/> of the merged plan, which writes only
/// what differs.
/// </summary>
/// <param name="persist">Saves the run-time subscribers (channel → subscribers); null: they live in memory only.</param>
public sealed class RelayPlanSources(RelayHost host, Action<IReadOnlyDictionary<ulong, IReadOnlyList<SubscriberPlan>>>? persist = null)
{
    private readonly object _gate = new();
    private readonly Dictionary<ulong, List<SubscriberPlan>> _added = new();
    private RelayPlan _file = RelayPlan.Empty;

    public RelayHost Host => host;

    /// <summary>The configuration file's plan as last applied.</summary>
    public RelayPlan FilePlan
    {
        get
        {
            lock (_gate)
                return _file;
        }
    }

    /// <summary>Replaces the file's part of the plan. Run-time subscribers of channels the file still has are kept;
    /// <paramref name="dropped"/> says which were not and why. Throws <see cref="ArgumentException"/> (and changes
    /// nothing) when the merged plan does not fit the protocol.</summary>
    public PlanChange ApplyFile(RelayPlan file, out IReadOnlyList<string> dropped, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var notes = new List<string>();
            var kept = new Dictionary<ulong, List<SubscriberPlan>>();
            foreach (var (channel, subscribers) in _added)
            {
                var fileChannel = file.Channels.FirstOrDefault(c => c.Id == channel);
                if (fileChannel is null)
                {
                    notes.AddRange(subscribers.Select(s => $"{s.Address} (added through the API) left with channel {channel}, which the file no longer has"));
                    continue;
                }
                var keep = new List<SubscriberPlan>();
                foreach (var subscriber in subscribers)
                {
                    if (fileChannel.Subscribers.Any(f => f.Address.Equals(subscriber.Address)))
                        notes.Add($"{subscriber.Address} in channel {channel} is now listed in the file: the file's entry applies");
                    else
                        keep.Add(subscriber);
                }
                if (keep.Count > 0)
                    kept[channel] = keep;
            }
            var total = file.Channels.Sum(c => c.Subscribers.Count) + kept.Values.Sum(l => l.Count);
            if (total > host.Features.Protocol.MaxSubscribers)
                throw new ArgumentException($"the file's subscribers and the {kept.Values.Sum(l => l.Count)} added through the API make {total}; " +
                                            $"{host.Features.Protocol.Name} has {host.Features.Protocol.MaxSubscribers} slots (remove some through the API first)");
            var change = host.Apply(Merge(file, kept), cancellationToken);
            _file = file;
            var changed = notes.Count > 0;
            _added.Clear();
            foreach (var (channel, list) in kept)
                _added[channel] = list;
            if (changed)
                Persist();
            dropped = notes;
            return change;
        }
    }

    /// <summary>Brings back run-time subscribers saved by an earlier run (call after the first <see cref="ApplyFile"/>).
    /// Each is added by the rules of <see cref="Add"/>; one that no longer fits (its channel left the file, the file
    /// lists its address now, a duplicate, no free slot) is left out and named in <paramref name="dropped"/>, and the
    /// store is rewritten without it.</summary>
    public PlanChange Restore(IReadOnlyDictionary<ulong, IReadOnlyList<SubscriberPlan>> saved, out IReadOnlyList<string> dropped,
        CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var notes = new List<string>();
            var added = CopyAdded();
            var total = _file.Channels.Sum(c => c.Subscribers.Count) + added.Values.Sum(l => l.Count);
            foreach (var (channel, subscribers) in saved.OrderBy(c => c.Key))
            {
                var fileChannel = _file.Channels.FirstOrDefault(c => c.Id == channel);
                foreach (var subscriber in subscribers)
                {
                    var list = added.TryGetValue(channel, out var existing) ? existing : [];
                    string? problem = fileChannel is null ? $"channel {channel} is not in the configuration file any more"
                        : fileChannel.Subscribers.Any(s => s.Address.Equals(subscriber.Address)) ? "the configuration file lists it now: the file's entry applies"
                        : list.Any(s => s.Address.Equals(subscriber.Address)) ? "listed twice"
                        : total + 1 > host.Features.Protocol.MaxSubscribers ? $"no free slot ({host.Features.Protocol.Name} has {host.Features.Protocol.MaxSubscribers})"
                        : null;
                    if (problem is not null)
                    {
                        notes.Add($"{subscriber.Address} (added through the API) in channel {channel} not restored: {problem}");
                        continue;
                    }
                    added[channel] = [.. list, subscriber];
                    total++;
                }
            }
            var change = host.Apply(Merge(_file, added), cancellationToken);
            _added.Clear();
            foreach (var (channel, list) in added)
                _added[channel] = list;
            if (notes.Count > 0)
                Persist();
            dropped = notes;
            return change;
        }
    }

    /// <summary>The run-time subscribers by channel, as a store saves them.</summary>
    public IReadOnlyDictionary<ulong, IReadOnlyList<SubscriberPlan>> Added
    {
        get
        {
            lock (_gate)
                return Snapshot();
        }
    }

    /// <summary>Adds a run-time subscriber to a channel of the file.</summary>
    public PlanChange Add(ulong channel, SubscriberPlan subscriber, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var fileChannel = FileChannel(channel);
            if (fileChannel.Subscribers.Any(s => s.Address.Equals(subscriber.Address)))
                throw new PlanEditException(PlanEditProblem.Conflict, "address", $"{subscriber.Address} is already a subscriber of channel {channel} (listed in the configuration file)");
            var list = _added.TryGetValue(channel, out var existing) ? existing : [];
            if (list.Any(s => s.Address.Equals(subscriber.Address)))
                throw new PlanEditException(PlanEditProblem.Conflict, "address", $"{subscriber.Address} is already a subscriber of channel {channel} (added through the API)");
            var total = _file.Channels.Sum(c => c.Subscribers.Count) + _added.Values.Sum(l => l.Count);
            if (total + 1 > host.Features.Protocol.MaxSubscribers)
                throw new PlanEditException(PlanEditProblem.Conflict, "address", $"no free slot: {host.Features.Protocol.Name} has {host.Features.Protocol.MaxSubscribers} and all are taken");
            var added = CopyAdded();
            added[channel] = [.. list, subscriber];
            return Commit(added, cancellationToken);
        }
    }

    /// <summary>Removes a run-time subscriber; a file's subscriber is refused (edit the file).</summary>
    public PlanChange Remove(ulong channel, IPEndPoint address, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var index = OwnedIndex(channel, address);
            var added = CopyAdded();
            added[channel].RemoveAt(index);
            if (added[channel].Count == 0)
                added.Remove(channel);
            return Commit(added, cancellationToken);
        }
    }

    /// <summary>Sets (or with null clears) a run-time subscriber's budget; a file's subscriber is refused (edit the file).</summary>
    public PlanChange SetBudget(ulong channel, IPEndPoint address, BudgetPlan? budget, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var index = OwnedIndex(channel, address);
            var added = CopyAdded();
            added[channel][index] = added[channel][index] with { Budget = budget };
            return Commit(added, cancellationToken);
        }
    }

    /// <summary>Who owns the subscriber; null when it is not in the plan.</summary>
    public SubscriberOwner? OwnerOf(ulong channel, IPEndPoint address)
    {
        lock (_gate)
        {
            if (_file.Channels.FirstOrDefault(c => c.Id == channel) is { } c && c.Subscribers.Any(s => s.Address.Equals(address)))
                return SubscriberOwner.File;
            return _added.TryGetValue(channel, out var list) && list.Any(s => s.Address.Equals(address)) ? SubscriberOwner.Api : null;
        }
    }

    private ChannelPlan FileChannel(ulong channel) =>
        _file.Channels.FirstOrDefault(c => c.Id == channel)
        ?? throw new PlanEditException(PlanEditProblem.NotFound, "channel",
            $"no channel {channel}: channels come from the configuration file (it has {(_file.Channels.Count == 0 ? "none" : string.Join(", ", _file.Channels.Select(c => c.Id)))})");

    private int OwnedIndex(ulong channel, IPEndPoint address)
    {
        var fileChannel = FileChannel(channel);
        if (fileChannel.Subscribers.Any(s => s.Address.Equals(address)))
            throw new PlanEditException(PlanEditProblem.Conflict, "address",
                $"{address} in channel {channel} is listed in the configuration file: change it there (the API changes only the subscribers it added)");
        var index = _added.TryGetValue(channel, out var list) ? list.FindIndex(s => s.Address.Equals(address)) : -1;
        return index >= 0 ? index : throw new PlanEditException(PlanEditProblem.NotFound, "address", $"{address} is not a subscriber of channel {channel}");
    }

    private Dictionary<ulong, List<SubscriberPlan>> CopyAdded() => _added.ToDictionary(kv => kv.Key, kv => kv.Value.ToList());

    /// <summary>Applies the file's plan with <paramref name="added"/> and keeps it only when the host took it.</summary>
    private PlanChange Commit(Dictionary<ulong, List<SubscriberPlan>> added, CancellationToken cancellationToken)
    {
        var change = host.Apply(Merge(_file, added), cancellationToken);
        _added.Clear();
        foreach (var (channel, list) in added)
            _added[channel] = list;
        Persist();
        return change;
    }

    private IReadOnlyDictionary<ulong, IReadOnlyList<SubscriberPlan>> Snapshot() =>
        _added.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<SubscriberPlan>)kv.Value.ToList());

    private void Persist() => persist?.Invoke(Snapshot());

    private static RelayPlan Merge(RelayPlan file, Dictionary<ulong, List<SubscriberPlan>> added) =>
        new(file.Channels.Select(c => added.TryGetValue(c.Id, out var extra) && extra.Count > 0
            ? c with { Subscribers = [.. c.Subscribers, .. extra] }
            : c).ToList());
}
