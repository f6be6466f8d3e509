using System.Net;
using FastRelay.Bpf;
using FastRelay.Generated;
using FastRelay.Net;
using Microsoft.Extensions.Logging;

namespace FastRelay.Relay;

/// <summary>Finds where a subscriber's copies go (device, MACs, relay address). The default resolves the route and the
/// neighbour (<see cref="SubscriberRoutes"/>); a protocol with its own handshake binds from what it learnt there.</summary>
public delegate KernelSubscriber SubscriberBinder(int slot, ulong channel, SubscriberPlan subscriber, CancellationToken cancellationToken);

/// <summary>What one <see cref="RelayHost.Apply"/> changed in the kernel.</summary>
public sealed record PlanChange(int Added, int Removed, int Updated, int ChannelsWritten, int ChannelsDeleted, int Pending)
{
    public bool IsEmpty => Added + Removed + Updated + ChannelsWritten + ChannelsDeleted == 0;

    public override string ToString() =>
        $"{Added} added, {Removed} removed, {Updated} updated, {ChannelsWritten} channel entries written, {ChannelsDeleted} deleted" +
        (Pending > 0 ? $", {Pending} waiting for a route" : "");
}

/// <summary>One subscriber as the host holds it: its slot (-1 while its route is unresolved) and counters.</summary>
public sealed record HostedSubscriber(ulong Channel, SubscriberPlan Plan, int Slot, string? Problem, KernelSubscriberCounters Counters);

/// <summary>
/// The generic relay host: for any generated protocol, it keeps the kernel's fan-out maps equal to a
/// <see cref="RelayPlan"/>. <see cref="Apply"/> diffs the new plan against the current one and writes only the entries
/// that differ (a subscriber added: its slot, then its channel's slot list; removed: the channel's list first, so no new
/// copy is made for it, then its slot is zeroed), so a reload never interrupts the others' streams. Subscribers whose
/// route cannot be resolved yet wait and are retried by <see cref="Tick"/>, which also refills budgets and drains the
/// registration ring. Thread-safe: one lock around every change.
/// </summary>
public sealed class RelayHost : IDisposable
{
    private readonly object _gate = new();
    private readonly IFanOutPlane _tables;
    private readonly ushort _port;
    private readonly ILogger _log;
    private readonly SubscriberBinder _bind;
    private readonly bool[] _slotUsed;
    private readonly Dictionary<ulong, HostedChannel> _channels = new();
    private long _lastTick = Environment.TickCount64;

    private sealed class HostedChannel(ChannelPlan plan)
    {
        public ChannelPlan Plan = plan;
        public readonly Dictionary<IPEndPoint, Member> Members = new();
        public List<int> WrittenSlots = [];
        public IPEndPoint? WrittenUpstream;

        /// <summary>The stream mappings every bound member's slot holds in fr_streams.</summary>
        public IReadOnlyList<KeyValuePair<ulong, ulong>> WrittenStreams = [];
        public bool Written;
    }

    private sealed class Member(SubscriberPlan plan)
    {
        public SubscriberPlan Plan = plan;
        public int Slot = -1;
        public string? Problem;
    }

    /// <summary>A host over the kernel fast path of a loaded object.</summary>
    public RelayHost(BpfObject bpf, GeneratedProtocol protocol, ushort port, ILogger log, SubscriberBinder? bind = null)
        : this(KernelPlane(bpf, protocol, port), protocol, port, log,
            bind ?? ((slot, channel, sub, ct) => SubscriberRoutes.Resolve(slot, channel, sub.Address, port, sub.ConnectionId, ct)))
    {
    }

    /// <summary>A host over any plane; <paramref name="bind"/> finds where a subscriber's copies go.</summary>
    /// <param name="slots">How many subscriber slots the plane has (at most, and by default, the protocol's MaxSubscribers).</param>
    public RelayHost(IFanOutPlane plane, GeneratedProtocol protocol, ushort port, ILogger log, SubscriberBinder bind, int? slots = null)
    {
        Features = ProtocolFeatures.Of(protocol);
        Refuse(Features);
        _tables = plane;
        _port = port;
        _log = log;
        _bind = bind;
        _slotUsed = new bool[Math.Clamp(slots ?? protocol.MaxSubscribers, 1, protocol.MaxSubscribers)];
    }

    private static FastPathTables KernelPlane(BpfObject bpf, GeneratedProtocol protocol, ushort port)
    {
        var features = ProtocolFeatures.Of(protocol);
        Refuse(features);
        var tables = new FastPathTables(bpf, features);
        tables.SetConfig(port);
        return tables;
    }

    public ProtocolFeatures Features { get; }

    /// <summary>The kernel maps (fast-path hosts only).</summary>
    public FastPathTables Tables => _tables as FastPathTables ?? throw new InvalidOperationException($"a {_tables.Mode} host has no kernel maps");

    public IFanOutPlane Plane => _tables;

    public ushort Port => _port;

    public RelayPlan Plan { get; private set; } = RelayPlan.Empty;


    /// <summary>Descriptor features this host does not drive yet: they need a protocol's own control plane.</summary>
    /// <remarks>A kernel cache is no obstacle: the host does not ask the kernel to keep originals (FR_CONFIG_CONSUME_CACHED
    /// stays clear), so the cache stays unused and every original goes up as without one.</remarks>
    public static string? Unsupported(ProtocolFeatures features) =>
        features.LooksUpChannel ? "its channel is looked up from ChannelKey fields: the lookup entries come from a protocol's control plane"
        : features.HasStreamOffset ? "it carries stream data ([StreamOffset]): flow control needs a protocol's control plane"
        : null;

    private static void Refuse(ProtocolFeatures features)
    {
        if (Unsupported(features) is { } why)
            throw new NotSupportedException($"the generic relay host cannot serve {features.Protocol.Name}: {why}");
    }

    /// <summary>Makes the kernel match <paramref name="plan"/>, writing only the entries that differ from the current plan.</summary>
    public PlanChange Apply(RelayPlan plan, CancellationToken cancellationToken = default)
    {
        Validate(plan);
        lock (_gate)
        {
            int added = 0, removed = 0, updated = 0, written = 0, deleted = 0;
            var wanted = plan.Channels.ToDictionary(c => c.Id);

            // Channels that go away: their list first (no new copies), then their slots, then the entry.
            foreach (var (id, channel) in _channels.Where(c => !wanted.ContainsKey(c.Key)).ToList())
            {
                if (_tables.DeleteChannel(id))
                    deleted++;
                foreach (var member in channel.Members.Values)
                    removed += Release(channel, member);
                _channels.Remove(id);
            }

            foreach (var target in plan.Channels)
            {
                if (!_channels.TryGetValue(target.Id, out var channel))
                    _channels[target.Id] = channel = new HostedChannel(target);
                channel.Plan = target;
                if (!channel.WrittenStreams.SequenceEqual(target.StreamList))
                    updated += RewriteStreams(channel);
                var wantedMembers = target.Subscribers.ToDictionary(s => s.Address);

                // Removed subscribers leave the slot list before their slot is cleared.
                var leaving = channel.Members.Where(m => !wantedMembers.ContainsKey(m.Key)).ToList();
                foreach (var (address, _) in leaving)
                    channel.Members.Remove(address);
                if (leaving.Count > 0 && WriteChannel(channel))
                    written++;
                foreach (var (_, member) in leaving)
                    removed += Release(channel, member);

                foreach (var subscriber in target.Subscribers)
                {
                    if (channel.Members.TryGetValue(subscriber.Address, out var member))
                    {
                        if (member.Plan.SameOptions(subscriber))
                            continue;
                        member.Plan = subscriber;
                        if (member.Slot >= 0)
                        {
                            Bind(channel, member, cancellationToken); // same slot, new options
                            updated++;
                        }
                        continue;
                    }
                    member = new Member(subscriber);
                    channel.Members[subscriber.Address] = member;
                    if (Bind(channel, member, cancellationToken))
                        added++;
                }
                if (WriteChannel(channel))
                    written++;
            }
            Plan = plan;
            var change = new PlanChange(added, removed, updated, written, deleted, PendingCount());
            if (!change.IsEmpty)
                _log.LogInformation("relay plan applied: {Change}", change);
            return change;
        }
    }

    /// <summary>Every few hundred milliseconds: retries subscribers waiting for a route, refills budgets, drains the
    /// registration ring.</summary>
    public void Tick(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var now = Environment.TickCount64;
            var elapsed = Math.Max(0, now - _lastTick);
            _lastTick = now;
            foreach (var channel in _channels.Values)
            {
                var retried = false;
                foreach (var member in channel.Members.Values.Where(m => m.Slot < 0))
                    retried |= Bind(channel, member, cancellationToken);
                if (retried)
                    WriteChannel(channel);
                foreach (var member in channel.Members.Values.Where(m => m.Slot >= 0 && m.Plan.Budget is not null))
                    Refill(member, elapsed);
            }
            _tables.Tick();
        }
    }

    public IReadOnlyList<HostedSubscriber> Subscribers()
    {
        lock (_gate)
            return _channels.Values.SelectMany(c => c.Members.Values.Select(m =>
                    new HostedSubscriber(c.Plan.Id, m.Plan, m.Slot, m.Problem, m.Slot >= 0 ? _tables.Counters(m.Slot) : default)))
                .ToList();
    }

    private int PendingCount() => _channels.Values.Sum(c => c.Members.Values.Count(m => m.Slot < 0));

    /// <summary>Writes the channel's entry when its slot list or upstream differ from what the kernel holds.</summary>
    private bool WriteChannel(HostedChannel channel)
    {
        var slots = channel.Members.Values.Where(m => m.Slot >= 0).Select(m => m.Slot).Order().ToList();
        if (channel.Written && slots.SequenceEqual(channel.WrittenSlots) && Equals(channel.WrittenUpstream, channel.Plan.Upstream))
            return false;
        _tables.SetChannel(channel.Plan.Id, channel.Plan.Upstream, slots);
        channel.WrittenSlots = slots;
        channel.WrittenUpstream = channel.Plan.Upstream;
        channel.Written = true;
        return true;
    }

    /// <summary>Takes a slot (or keeps the member's) and activates it; false when the route is not known yet.</summary>
    private bool Bind(HostedChannel channel, Member member, CancellationToken cancellationToken)
    {
        var slot = member.Slot >= 0 ? member.Slot : Array.IndexOf(_slotUsed, false);
        if (slot < 0)
        {
            member.Problem = $"no free slot: {Features.Protocol.Name} has {_slotUsed.Length}";
            return false;
        }
        KernelSubscriber binding;
        try
        {
            binding = _bind(slot, channel.Plan.Id, member.Plan, cancellationToken);
            // The plan's connection id, unless the binder brought one of its own (from a handshake).
            binding = binding with { ConnectionId = binding.ConnectionId ?? member.Plan.ConnectionId };
        }
        catch (Exception e) when (e is RouteNotFoundException or NeighbourNotResolvedException or IOException)
        {
            if (member.Problem != e.Message)
                _log.LogWarning("subscriber {Address} of channel {Channel}: {Problem}; retrying", member.Plan.Address, channel.Plan.Id, e.Message);
            member.Problem = e.Message;
            return false;
        }
        _slotUsed[slot] = true;
        member.Slot = slot;
        member.Problem = null;
        _tables.Activate(binding);
        foreach (var (upstream, downstream) in channel.WrittenStreams)
            _tables.SetStream(slot, upstream, downstream);
        if (member.Plan.Budget is { } budget)
        {
            _tables.SetBudget(slot, budget.BurstBytes, budget.ReservePerLevel, budget.DropFromLevel);
        }
        _log.LogInformation("subscriber {Address} of channel {Channel} in slot {Slot} via ifindex {IfIndex}", member.Plan.Address, channel.Plan.Id, slot, binding.IfIndex);
        return true;
    }

    private int Release(HostedChannel channel, Member member)
    {
        if (member.Slot < 0)
            return 0;
        _tables.Deactivate(member.Slot);
        foreach (var (upstream, _) in channel.WrittenStreams)
            _tables.DeleteStream(member.Slot, upstream);
        _slotUsed[member.Slot] = false;
        _log.LogInformation("subscriber {Address} removed from slot {Slot}", member.Plan.Address, member.Slot);
        member.Slot = -1;
        return 1;
    }

    /// <summary>Brings every bound member's fr_streams entries to the channel's new mappings: removed ones deleted,
    /// new and changed ones written. Returns the number of subscribers touched.</summary>
    private int RewriteStreams(HostedChannel channel)
    {
        var target = channel.Plan.StreamList;
        var gone = channel.WrittenStreams.Where(old => !target.Any(t => t.Key == old.Key)).ToList();
        var changed = target.Where(t => !channel.WrittenStreams.Contains(t)).ToList();
        var bound = channel.Members.Values.Where(m => m.Slot >= 0).ToList();
        foreach (var member in bound)
        {
            foreach (var (upstream, downstream) in changed)
                _tables.SetStream(member.Slot, upstream, downstream);
            foreach (var (upstream, _) in gone)
                _tables.DeleteStream(member.Slot, upstream);
        }
        channel.WrittenStreams = target;
        return bound.Count;
    }

    private void Refill(Member member, long elapsedMs)
    {
        var budget = member.Plan.Budget!;
        _tables.RefillBudget(member.Slot, budget.BytesPerSecond * elapsedMs / 1000, budget.BurstBytes, budget.ReservePerLevel, budget.DropFromLevel);
    }

    private void Validate(RelayPlan plan)
    {
        foreach (var channel in plan.Channels)
        {
            if (channel.Id > Features.MaxChannelId)
                throw new ArgumentException($"channel {channel.Id} does not fit {Features.Protocol.Name}'s channel key (at most {Features.MaxChannelId})");
            if (!Features.HasChannel && channel.Id != 0)
                throw new ArgumentException($"{Features.Protocol.Name} has no channel field: its only channel is 0");
            if (channel.Subscribers.Count > Features.Protocol.MaxSubscribers)
                throw new ArgumentException($"channel {channel.Id} lists {channel.Subscribers.Count} subscribers; {Features.Protocol.Name} has {Features.Protocol.MaxSubscribers} slots");
            if (channel.Subscribers.Select(s => s.Address).Distinct().Count() != channel.Subscribers.Count)
                throw new ArgumentException($"channel {channel.Id} lists a subscriber address twice");
        }
        if (plan.Channels.Select(c => c.Id).Distinct().Count() != plan.Channels.Count)
            throw new ArgumentException("a channel is listed twice");
        if (plan.Channels.Count > Features.Protocol.MaxChannels)
            throw new ArgumentException($"{plan.Channels.Count} channels; {Features.Protocol.Name} has room for {Features.Protocol.MaxChannels}");
        var total = plan.Channels.Sum(c => c.Subscribers.Count);
        if (total > Features.Protocol.MaxSubscribers)
            throw new ArgumentException($"{total} subscribers in all; {Features.Protocol.Name} has {Features.Protocol.MaxSubscribers} slots");
    }

    public void Dispose() => (_tables as IDisposable)?.Dispose();
}
