using FastRelay.Net;
using System.Buffers.Binary;
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
/// The fast path: copies are made by the generated TC programs; this class only writes the maps they read (through the
/// generated typed accessors) and pumps their registration events back to the relay core. The ring buffer is drained
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
    private readonly uint _cloneMark;
    private readonly IRegistrationSink _sink;
    private readonly RingBufferReader _events;
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
        _cloneMark = FastRelay.Relay.CloneMarks.ForInstance(bpf.Program(Programs.UpstreamIngress), MarkMagicMask);
        _sink = sink;
        _log = log;
        _events = new RingBufferReader(_maps.Events, OnEvent);
    }

    public string Mode => "fastpath";

    public Maps Maps => _maps;

    /// <summary>The relay port, run registration (NACK repair only needs to know where a subscriber's numbering stops
    /// following the publisher's, so the kernel sends an event per break instead of one per copy) and consumed originals
    /// (the relay needs nothing from an original the kernel fanned out and cached), copies translated for subscribers of
    /// the other IP family, and this instance's clone tag (another relay on the host must not take its clones for its
    /// own).</summary>
    public void SetConfig(ushort udpPort) => _maps.Config.Update(0u, new Config
    {
        UdpPort = udpPort,
        Flags = ConfigRegisterRuns | ConfigConsumeCached | ConfigTranslateFamily,
        CloneMark = _cloneMark,
    });

    public void SetChannel(ulong channelId, IPEndPoint? upstream, IReadOnlyList<int> slots)
    {
        var channel = checked((ushort)channelId);
        var key = new ChannelKey { Id = channel };
        // What the kernel keeps in the entry (rotation, upstream counters) survives the update.
        _maps.Channels.TryLookup(key, out var value);
        // No upstream yet: an endpoint no packet can come from (port 0), so nothing fans out.
        value.Upstream = upstream is null ? new Endpoint { Family = 4 } : ToEndpoint(upstream);
        value.Count = (uint)Math.Min(slots.Count, MaxSubscribers);
        for (var i = 0; i < value.Count; i++)
            value.Slots[i] = (uint)slots[i];
        value.CacheBase = (uint)(CacheRing(channel) * KernelCachePackets);
        _maps.Channels.Update(key, value);
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
        return _maps.Channels.Delete(new ChannelKey { Id = channel });
    }

    public void Activate(KernelSubscriber binding)
    {
        var slot = binding.Slot;
        var key = (uint)slot;
        // Counters and numbering start fresh; the slot becomes active last, so the kernel never sees a half-written one.
        _maps.NextPacketNumbers.Update(key, 0UL);
        _maps.LastNumbered.Update(key, 0UL); // the first copy starts a run
        _maps.SubscriberStats.Update(key, default);
        _maps.Budgets.Update(key, default);
        var subscriber = new Subscriber
        {
            Active = 0,
            IfIndex = (uint)binding.IfIndex,
            // The kernel gives this slot copies of this channel only, whatever a channel entry it reads mid-update lists.
            Channel = new ChannelKey { Id = checked((ushort)binding.Channel) },
            Local = ToEndpoint(binding.Local),
            Remote = ToEndpoint(binding.Remote),
        };
        binding.SourceMac.AsSpan(0, 6).CopyTo(subscriber.MacSource);
        binding.DestinationMac.AsSpan(0, 6).CopyTo(subscriber.MacDestination);
        _maps.Subscribers.Update(key, subscriber);
        _maps.SubscribersByEndpoint.Update(ToEndpoint(binding.Remote), key);
        subscriber.Active = 1;
        _maps.Subscribers.Update(key, subscriber);
        lock (_crossGate)
        {
            _slots[slot] = new CrossFamilySlot(SocketAddresses.Plain(binding.Remote).AddressFamily, SocketAddresses.For(_socket, binding.Remote),
                FastRelay.Net.NetDevice.MtuOf(binding.IfIndex));
            RebuildCrossFamily();
        }
    }

    public void Deactivate(int slot)
    {
        var key = (uint)slot;
        if (_maps.Subscribers.TryLookup(key, out var subscriber))
            _maps.SubscribersByEndpoint.Delete(subscriber.Remote);
        lock (_crossGate)
        {
            _slots.Remove(slot);
            RebuildCrossFamily();
        }
        // Zero the whole slot: nothing of a departed subscriber stays in the maps.
        _maps.Subscribers.Update(key, default);
        _maps.Budgets.Update(key, default);
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
        _maps.Budgets.Update((uint)slot, new Budget
        {
            Bytes = budget.Bytes,
            Enabled = budget.Enabled ? 1u : 0u,
            ReservePerLevel = budget.ReservePerLevel,
            DropFromLevel = budget.DropFromLevel,
        });
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

    public KernelSubscriberCounters Counters(int slot)
    {
        var stats = _maps.SubscriberStats.TryLookup((uint)slot, out var s) ? s : default;
        return new KernelSubscriberCounters(stats.ForwardedPackets, stats.ForwardedBytes, stats.DroppedBudget, stats.DroppedInactive, stats.ReceivedPackets);
    }

    private readonly Dictionary<ushort, int> _cacheRings = new();

    /// <summary>Each channel gets one of the MaxChannels rings of fr_cache for good (the relay never forgets a channel).</summary>
    private int CacheRing(ushort channel)
    {
        lock (_cacheRings)
        {
            if (!_cacheRings.TryGetValue(channel, out var ring))
                _cacheRings[channel] = ring = _cacheRings.Count;
            return ring;
        }
    }

    /// <summary>The fr_cache entry that holds (or would hold) the packet; false for a channel the relay never set up.</summary>
    private bool TryCacheIndex(ulong channel, ulong publisherSequence, out uint index)
    {
        index = 0;
        int ring;
        lock (_cacheRings)
            if (channel > ushort.MaxValue || !_cacheRings.TryGetValue((ushort)channel, out ring))
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

    public ulong NextNumber(int slot) => _maps.NextPacketNumbers.TryLookup((uint)slot, out var next) ? next : 0;

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
        if (_events.Consume() == 0)
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

    public static Endpoint ToEndpoint(IPEndPoint endpoint)
    {
        var plain = SocketAddresses.Plain(endpoint);
        var result = new Endpoint
        {
            Family = plain.AddressFamily == AddressFamily.InterNetworkV6 ? (byte)6 : (byte)4,
            Port = BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness((ushort)plain.Port) : (ushort)plain.Port,
        };
        plain.Address.TryWriteBytes(result.Address, out _);
        return result;
    }

    public void Dispose()
    {
        lock (_eventGate)
            _events.Dispose();
    }
}
