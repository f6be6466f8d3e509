using FastRelay.Net;
using System.Net;
using System.Net.Sockets;
using FastRelay.Bpf;
using FastRelay.Relay;
using FastRelay.Protocols.CustomUdp.Wire;
using Microsoft.Extensions.Logging;
using static FastRelay.Protocols.CustomUdp.CustomUdpHeaderFastPath;
using IRegistrationSink = FastRelay.Relay.IRegistrationSink;

namespace FastRelay.Protocols.CustomUdp.Relay;

/// <summary>
/// The fast path: copies are made by the generated TC programs; the fan-out maps they read are written by the runtime's
/// <see cref="FastPathTables"/> (the same code as for every generated protocol), and this class adds what the custom-UDP
/// relay needs on top: the registration events decoded for NACK repair, reads of the kernel cache, and the cross-family
/// fallback below. The ring buffer is drained
/// in batches every few milliseconds (events are submitted without wakeup), never per packet.
/// A subscriber whose address family differs from its channel's upstream gets kernel copies too: the egress program
/// translates them into its family (FR_CONFIG_TRANSLATE_FAMILY). Only a packet whose translated copy would not fit the
/// subscriber's device MTU (IPv4 to IPv6 adds 20 bytes) gets no kernel copy; upstream ingress then passes the original up
/// and this socket sends it, and the egress program numbers it like any packet of the relay's own stack.
/// Registrations are drained when the relay core calls <see cref="Tick"/> (it does so on its own receive thread, at
/// least every 100 ms, and before answering a NACK): a thread of their own cost a wake-up each time.
/// The kernel keeps the last packets of each channel (fr_cache) and, as the relay needs nothing else from them, drops
/// the originals it fanned out instead of passing them up: this process then receives only control traffic, originals
/// of packets a cross-family subscriber gets from this socket (see above) and packets too large for the kernel cache.
/// </summary>
public sealed class KernelDataPlane : IFanOutPlane, IUpstreamHistory, IDisposable
{
    private readonly Maps _maps;
    private readonly FastPathTables _tables;
    private readonly IRegistrationSink _sink;
    private readonly ILogger? _log;
    private readonly object _eventGate = new();
    private readonly Socket _socket;
    private readonly object _crossGate = new();

    /// <summary>A subscriber whose family differs from its channel's upstream: the kernel serves it, except packets that
    /// translated would not fit its device's MTU (read at activation), which the socket sends.</summary>
    private sealed class CrossFamilySlot(AddressFamily family, SocketAddress address, int? mtu)
    {
        public AddressFamily Family { get; } = family;
        public SocketAddress Address { get; } = address;

        /// <summary>The kernel's own rule (fr_family_verdict): its IP header + UDP header + payload within the device MTU.
        /// An unknown device (no MTU) fails the kernel's check too.</summary>
        public bool KernelServes(int payloadLength) =>
            mtu is { } m && (Family == AddressFamily.InterNetworkV6 ? 40 : 20) + 8 + payloadLength <= m;
        public long Budget;
        public BudgetSetting Setting;
    }

    private readonly Dictionary<int, CrossFamilySlot> _slots = new();
    private readonly Dictionary<ushort, (AddressFamily Upstream, int[] Slots)> _channels = new();

    // Derived from the two above whenever either changes, so a packet costs one lookup (normally of an empty array).
    private readonly Dictionary<ushort, CrossFamilySlot[]> _crossFamilyByChannel = new();

    public KernelDataPlane(BpfObject bpf, Socket socket, IRegistrationSink sink, ILogger? log = null)
    {
        _socket = socket;
        _maps = new Maps(bpf);
        _sink = sink;
        _log = log;
        _tables = new FastPathTables(bpf, ProtocolFeatures.Of(Protocol), OnEvent);
    }

    public string Mode => "fastpath";

    public Maps Maps => _maps;

    /// <summary>The relay port, run registration (NACK repair only needs to know where a subscriber's numbering stops
    /// following the publisher's, so the kernel sends an event per break instead of one per copy) and consumed originals
    /// (the relay needs nothing from an original the kernel fanned out and cached), copies translated for subscribers of
    /// the other IP family, and this instance's clone tag (another relay on the host must not take its clones for its
    /// own).</summary>
    public void SetConfig(ushort udpPort) => _tables.SetConfig(udpPort, consumeCached: true);

    public void SetChannel(ulong channelId, IPEndPoint? upstream, IReadOnlyList<int> slots)
    {
        var channel = checked((ushort)channelId);
        // No upstream yet: an endpoint no packet can come from (port 0), so nothing fans out. Each channel's cache ring
        // is assigned by the tables on its first write.
        _tables.SetChannel(channel, upstream ?? ChannelPlan.NoSender, slots);
        lock (_crossGate)
        {
            _channels[channel] = (upstream is null || upstream.Port == 0 ? AddressFamily.Unspecified : SocketAddresses.Plain(upstream).AddressFamily, slots.ToArray());
            RebuildCrossFamily();
        }
    }

    /// <summary>The relay never forgets a channel (its cache ring stays its own); a deleted entry just stops its fan-out.</summary>
    public bool DeleteChannel(ulong channelId)
    {
        var channel = checked((ushort)channelId);
        lock (_crossGate)
        {
            _channels.Remove(channel);
            RebuildCrossFamily();
        }
        return _tables.DeleteChannel(channel);
    }

    public void Activate(KernelSubscriber binding)
    {
        var slot = binding.Slot;
        // Counters and numbering start fresh; the slot becomes active last, so the kernel never sees a half-written one.
        _tables.Activate(binding);
        lock (_crossGate)
        {
            _slots[slot] = new CrossFamilySlot(SocketAddresses.Plain(binding.Remote).AddressFamily, SocketAddresses.For(_socket, binding.Remote),
                FastRelay.Net.NetDevice.MtuOf(binding.IfIndex));
            RebuildCrossFamily();
        }
    }

    public void Deactivate(int slot)
    {
        lock (_crossGate)
        {
            _slots.Remove(slot);
            RebuildCrossFamily();
        }
        // The whole slot is zeroed: nothing of a departed subscriber stays in the maps.
        _tables.Deactivate(slot);
    }

    /// <summary>Custom-UDP has no stream ids: nothing to translate.</summary>
    public void SetStream(int slot, ulong upstreamStream, ulong downstreamStream) =>
        throw new NotSupportedException("custom-UDP has no stream ids");

    public bool DeleteStream(int slot, ulong upstreamStream) => false;

    public void SetBudget(int slot, long bytes, uint reservePerLevel, uint dropFromLevel, bool enabled = true) =>
        SetBudget(slot, new BudgetSetting(enabled, bytes, reservePerLevel, dropFromLevel));

    /// <summary>As <see cref="FastRelay.Relay.FastPathTables.RefillBudget"/>: adds to what is left, capped at the burst.</summary>
    public void RefillBudget(int slot, long bytes, long burst, uint reservePerLevel, uint dropFromLevel)
    {
        var have = _maps.Budgets.TryLookup((uint)slot, out var current) ? current.Bytes : 0;
        SetBudget(slot, Math.Min(burst, Math.Max(have, 0) + bytes), reservePerLevel, dropFromLevel);
    }

    private void SetBudget(int slot, BudgetSetting budget)
    {
        lock (_crossGate)
        {
            if (_slots.TryGetValue(slot, out var s))
            {
                s.Budget = budget.Bytes;
                s.Setting = budget;
            }
        }
        _tables.SetBudget(slot, budget.Bytes, budget.ReservePerLevel, budget.DropFromLevel, budget.Enabled);
    }

    public void OnUpstreamDatagram(ReadOnlySpan<byte> packet, SocketAddress from)
    {
        if (!PacketHeader.TryRead(packet, out var header))
            return;
        // The kernel made every copy that fits. A cross-family subscriber whose translated copy would not fit its device
        // gets the original from this socket; the egress program numbers it. The budget rule is applied here because
        // egress applies it only to its own clones.
        lock (_crossGate)
        {
            if (!_crossFamilyByChannel.TryGetValue(header.Channel, out var targets))
                return;
            foreach (var target in targets)
                if (!target.KernelServes(packet.Length) && BudgetRule.Admit(ref target.Budget, target.Setting, header.Priority, packet.Length))
                    _socket.SendTo(packet, SocketFlags.None, target.Address);
        }
    }

    private void RebuildCrossFamily()
    {
        _crossFamilyByChannel.Clear();
        foreach (var (channel, (upstream, slots)) in _channels)
        {
            if (upstream == AddressFamily.Unspecified)
                continue;
            var targets = slots.Select(slot => _slots.GetValueOrDefault(slot)).Where(s => s is not null && s.Family != upstream).ToArray();
            if (targets.Length > 0)
                _crossFamilyByChannel[channel] = targets!;
        }
    }

    public KernelSubscriberCounters Counters(int slot) => _tables.Counters(slot);

    /// <summary>The fr_cache entry that holds (or would hold) the packet; false for a channel the relay never set up.</summary>
    private bool TryCacheIndex(ulong channel, ulong publisherSequence, out uint index)
    {
        index = 0;
        if (!_tables.TryCacheRing(channel, out var ring))
            return false;
        index = (uint)(ring * KernelCachePackets + (int)(publisherSequence % KernelCachePackets));
        return true;
    }

    public bool TryCopy(ulong channel, ulong publisherSequence, Span<byte> destination, out int length)
    {
        length = 0;
        if (!TryCacheIndex(channel, publisherSequence, out var index) || !_maps.Cache.TryLookup(index, out var entry))
            return false;
        if (entry.UpstreamPacketNumber != publisherSequence || entry.Length == 0 || entry.Length > destination.Length)
            return false;
        ReadOnlySpan<byte> data = entry.Data;
        data[..(int)entry.Length].CopyTo(destination);
        // The kernel may have started rewriting the entry while it was copied: it marks the key first, so an unchanged
        // key afterwards means the copy is whole.
        if (!_maps.Cache.TryLookup(index, out var again) || again.UpstreamPacketNumber != publisherSequence)
            return false;
        length = (int)entry.Length;
        return true;
    }

    public void AddSince(ulong channel, long sinceNs, List<ulong> into)
    {
        if (!TryCacheIndex(channel, 0, out var first))
            return;
        for (var i = 0u; i < KernelCachePackets; i++)
            if (_maps.Cache.TryLookup(first + i, out var entry) && entry.Length > 0 && entry.UpstreamPacketNumber != CacheWriting
                && (long)entry.ReceivedNs >= sinceNs)
                into.Add(entry.UpstreamPacketNumber);
    }

    public void Forget(ulong channel)
    {
        if (!TryCacheIndex(channel, 0, out var first))
            return;
        // About a thousand map updates: only when a publisher takes a channel over.
        for (var i = 0u; i < KernelCachePackets; i++)
            _maps.Cache.Update(first + i, default);
    }

    public (ulong Packets, long LastNs) UpstreamConsumed(ulong channel) =>
        channel <= ushort.MaxValue && _maps.Channels.TryLookup(new ChannelKey { Id = (ushort)channel }, out var value) ? (value.UpstreamPackets, (long)value.LastUpstreamNs) : (0, 0);

    public ulong NextNumber(int slot) => _tables.NextNumber(slot);

    /// <summary>Drains the registration ring (the relay calls it at least every
    /// <see cref="CustomUdpRelay.RegistrationDrainInterval"/> and before it answers a NACK).</summary>
    public void Tick()
    {
        lock (_eventGate)
            Drain();
    }

    private ulong _eventsLost;

    /// <summary>Delivers what the ring holds, then checks that the kernel dropped none: with run registration a lost event
    /// is a break userspace would never hear of. The kernel loses events only when the ring is full, so a drain that
    /// found it empty has nothing to check (and saves the per-CPU lookup on the idle relay's every wake-up).</summary>
    private void Drain()
    {
        if (_tables.DrainEvents() == 0)
            return;
        ulong lost = 0;
        foreach (var perCpu in _maps.Stats.LookupPerCpu(0u))
            lost += perCpu.EventsLost;
        if (lost == _eventsLost)
            return;
        _eventsLost = lost;
        _log?.LogWarning("the kernel lost registrations ({Lost} so far): NACKs for earlier packets go unanswered", lost);
        _sink.OnRegistrationsLost();
    }

    /// <summary>fr_stats summed over CPUs, every counter the generated struct has (read by reflection: a scrape is rare, and
    /// a counter added to the templates appears without a change here).</summary>
    public IReadOnlyDictionary<string, ulong> PlaneCounters()
    {
        var fields = typeof(Stats).GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
            .Where(f => f.FieldType == typeof(ulong)).ToArray();
        var totals = new ulong[fields.Length];
        foreach (var perCpu in _maps.Stats.LookupPerCpu(0u))
        {
            object boxed = perCpu;
            for (var i = 0; i < fields.Length; i++)
                totals[i] += (ulong)fields[i].GetValue(boxed)!;
        }
        return fields.Select((f, i) => (Name: SnakeCase(f.Name), Total: totals[i])).ToDictionary(c => c.Name, c => c.Total);
    }

    private static string SnakeCase(string pascal) =>
        string.Concat(pascal.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "_" : "") + char.ToLowerInvariant(c) : c.ToString()));

    private void OnEvent(ReadOnlySpan<byte> record)
    {
        // Both origins are DATA sent to a subscriber: clones, and originals the relay socket sent across families when the
        // translated copy would not fit (whose upstream_packet_number is the publisher's, as the socket sent it unchanged).
        var registration = EventReader.Decode(record);
        _sink.OnSent((int)registration.Slot, registration.PacketNumber, registration.UpstreamPacketNumber);
    }

    public void Dispose()
    {
        lock (_eventGate)
            _tables.Dispose();
    }
}
