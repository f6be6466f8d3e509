using System.Net;
using System.Net.Sockets;
using FastRelay.Bpf;
using FastRelay.Generated;

namespace FastRelay.Relay;

/// <summary>Where one subscriber's copies go, as the egress program rewrites them: the slot it owns, its channel, the
/// two endpoints, the device and both MACs (from <see cref="SubscriberRoutes"/>), and its own connection id when the
/// protocol has one.</summary>
public sealed record KernelSubscriber(
    int Slot,
    ulong Channel,
    IPEndPoint Remote,
    IPEndPoint Local,
    int IfIndex,
    byte[] SourceMac,
    byte[] DestinationMac,
    byte[]? ConnectionId = null);

/// <summary>What the kernel counted for one subscriber slot (fr_sub_stats).</summary>
public readonly record struct KernelSubscriberCounters(ulong ForwardedPackets, ulong ForwardedBytes, ulong DroppedBudget, ulong DroppedInactive, ulong ReceivedPackets);

/// <summary>
/// The fan-out maps of any generated protocol, written through the layouts the generator recorded rather than through
/// a protocol's typed mirrors: fr_config, fr_channels (channel → upstream and slots), fr_subscribers and
/// fr_sub_by_endpoint (slot → where copies go), fr_next_pn / fr_last_numbered / fr_sub_stats / fr_budgets (per-slot state
/// reset on activation). This is the part of a relay that every protocol shares; what a protocol adds (handshakes,
/// repair, stream mappings) stays with it. Map entries are written in the order the kernel needs to never see a
/// half-made subscriber: everything first, the active flag last; on removal the active flag first.
/// </summary>
public sealed class FastPathTables : IFanOutPlane, IDisposable
{
    private readonly BpfObject _bpf;
    private readonly ProtocolFeatures _features;
    private readonly RingBufferReader _events;
    private readonly Dictionary<ulong, int> _cacheRings = new();
    private long _registrations;

    /// <param name="onEvent">Gets every fr_events record as the ring is drained (a protocol that answers repairs by
    /// number decodes them); null: they are only counted.</param>
    public FastPathTables(BpfObject bpf, ProtocolFeatures features, RingBufferRecordHandler? onEvent = null)
    {
        _bpf = bpf;
        _features = features;
        // The programs register breaks in each subscriber's numbering; a full ring only costs the kernel lost-event
        // counts, so it is drained (on every Tick) and counted even when nobody reads the records.
        _events = new RingBufferReader(bpf.Map("fr_events"), record =>
        {
            _registrations++;
            onEvent?.Invoke(record);
        });
    }

    public string Mode => "fastpath";

    /// <summary>Registration events drained from the kernel so far.</summary>
    public long Registrations => Interlocked.Read(ref _registrations);

    public void Tick() => DrainEvents();

    /// <summary>Delivers what the registration ring holds; returns how many records there were.</summary>
    public int DrainEvents() => _events.Consume();

    public IReadOnlyDictionary<string, ulong> PlaneCounters() => KernelCounters();

    public void Dispose() => _events.Dispose();

    public ProtocolFeatures Features => _features;

    private GeneratedProtocol Protocol => _features.Protocol;

    /// <summary>fr_config: the relay port, registration of numbering breaks only (nothing here needs every copy
    /// registered), translation of copies for subscribers of the other IP family, and this instance's clone tag.</summary>
    /// <param name="consumeCached">Let the kernel drop originals it fanned out and kept in its cache (a relay that reads
    /// the cache instead of receiving them; only with a kernel cache).</param>
    public void SetConfig(ushort udpPort, bool consumeCached = false)
    {
        var config = Image("fr_config")
            .Set("udp_port", udpPort)
            .Set("flags", _features.ConfigRegisterRuns | _features.ConfigTranslateFamily | (consumeCached && _features.KernelCache ? _features.ConfigConsumeCached : 0))
            .Set("clone_mark", CloneMarks.ForInstance(_bpf.Program(Protocol.Programs[0]), _features.MarkMagicMask));
        _bpf.Map("fr_config").Update(BitConverter.GetBytes(0u), config.Bytes);
    }

    /// <summary>Writes a channel's entry: who may send to it (null = anyone) and the slots that get copies. What the
    /// kernel keeps in the entry (rotation, upstream counters) survives the update.</summary>
    public void SetChannel(ulong channel, IPEndPoint? upstream, IReadOnlyList<int> slots)
    {
        if (slots.Count > Protocol.MaxSubscribers)
            throw new ArgumentException($"{slots.Count} subscribers for channel {channel}: {Protocol.Name} has {Protocol.MaxSubscribers} slots");
        var key = ChannelKey(channel);
        var map = _bpf.Map("fr_channels");
        var value = Image("fr_channel");
        map.TryLookup(key, value.Bytes);
        value.SetBytes("upstream", upstream is null ? Image("fr_endpoint").Bytes : Endpoint(upstream));
        value.Set("count", (uint)slots.Count);
        for (var i = 0; i < slots.Count; i++)
            value.SetUInt32At("slots", i, (uint)slots[i]);
        if (_features.KernelCache)
            value.Set("cache_base", (uint)(CacheRing(channel) * _features.CachePackets));
        map.Update(key, value.Bytes);
    }

    /// <summary>The fr_cache ring a channel got (each channel one of MaxChannels for good: a channel is never moved to
    /// another ring, so what the kernel cached for it stays where a reader looks).</summary>
    public int CacheRing(ulong channel)
    {
        lock (_cacheRings)
        {
            if (!_cacheRings.TryGetValue(channel, out var ring))
            {
                if (_cacheRings.Count >= Protocol.MaxChannels)
                    throw new InvalidOperationException($"{Protocol.Name} has cache rings for {Protocol.MaxChannels} channels");
                _cacheRings[channel] = ring = _cacheRings.Count;
            }
            return ring;
        }
    }

    /// <summary>The ring of a channel that has one; false for a channel never written.</summary>
    public bool TryCacheRing(ulong channel, out int ring)
    {
        lock (_cacheRings)
            return _cacheRings.TryGetValue(channel, out ring);
    }

    public bool DeleteChannel(ulong channel) => _bpf.Map("fr_channels").Delete(ChannelKey(channel));

    public void Activate(KernelSubscriber subscriber)
    {
        var slot = BitConverter.GetBytes((uint)subscriber.Slot);
        // Numbering and counters start fresh; the slot becomes active last.
        _bpf.Map("fr_next_pn").Update(slot, new byte[8]);
        _bpf.Map("fr_last_numbered").Update(slot, new byte[8]);
        _bpf.Map("fr_sub_stats").Update(slot, Image("fr_sub_stats").Bytes);
        _bpf.Map("fr_budgets").Update(slot, Image("fr_budget").Bytes);
        var entry = Image("fr_subscriber")
            .Set("active", 0)
            .Set("ifindex", (uint)subscriber.IfIndex)
            .SetBytes("channel", ChannelKey(subscriber.Channel))
            .SetBytes("mac_src", subscriber.SourceMac.AsSpan(0, 6))
            .SetBytes("mac_dst", subscriber.DestinationMac.AsSpan(0, 6))
            .SetBytes("local", Endpoint(subscriber.Local))
            .SetBytes("remote", Endpoint(subscriber.Remote));
        if (_features.HasConnectionId)
        {
            var cid = new byte[_features.ConnectionIdLength];
            subscriber.ConnectionId?.AsSpan(0, Math.Min(cid.Length, subscriber.ConnectionId.Length)).CopyTo(cid);
            entry.SetBytes("cid", cid);
        }
        var subscribers = _bpf.Map("fr_subscribers");
        subscribers.Update(slot, entry.Bytes);
        _bpf.Map("fr_sub_by_endpoint").Update(Endpoint(subscriber.Remote), slot);
        entry.Set("active", 1);
        subscribers.Update(slot, entry.Bytes);
    }

    /// <summary>Zeroes the slot and removes its endpoint entry: nothing of a removed subscriber stays in the maps.</summary>
    public void Deactivate(int slot)
    {
        var key = BitConverter.GetBytes((uint)slot);
        var subscribers = _bpf.Map("fr_subscribers");
        var entry = Image("fr_subscriber");
        if (subscribers.TryLookup(key, entry.Bytes) && entry.Get("active") != 0)
        {
            var remote = entry.Member("remote").ToArray();
            entry.Set("active", 0);
            subscribers.Update(key, entry.Bytes);
            _bpf.Map("fr_sub_by_endpoint").Delete(remote);
        }
        subscribers.Update(key, Image("fr_subscriber").Bytes);
        _bpf.Map("fr_budgets").Update(key, Image("fr_budget").Bytes);
    }

    /// <summary>fr_streams: copies of <paramref name="upstreamStream"/> to this slot carry <paramref name="downstreamStream"/>
    /// (protocols that translate stream ids; without an entry the kernel does not forward the copy).</summary>
    public void SetStream(int slot, ulong upstreamStream, ulong downstreamStream) =>
        _bpf.Map("fr_streams").Update(StreamKey(slot, upstreamStream), Image("fr_stream_value").Set("stream_id", downstreamStream).Bytes);

    public bool DeleteStream(int slot, ulong upstreamStream) => _bpf.Map("fr_streams").Delete(StreamKey(slot, upstreamStream));

    private byte[] StreamKey(int slot, ulong upstreamStream) =>
        Image("fr_stream_key").Set("slot", (uint)slot).Set("upstream_stream_id", upstreamStream).Bytes;

    /// <summary>The slot's budget (fr_budget): bytes the kernel may still send at urgencies above 0, and the drop rules.
    /// Only meaningful for a descriptor with <c>PriorityDrop</c>.</summary>
    public void SetBudget(int slot, long bytes, uint reservePerLevel, uint dropFromLevel, bool enabled = true) =>
        _bpf.Map("fr_budgets").Update(BitConverter.GetBytes((uint)slot), Image("fr_budget")
            .Set("bytes", unchecked((ulong)bytes))
            .Set("enabled", enabled ? 1u : 0u)
            .Set("reserve_per_level", reservePerLevel)
            .Set("drop_from_level", dropFromLevel).Bytes);

    /// <summary>Adds <paramref name="bytes"/> to the slot's budget, capped at <paramref name="burst"/>. The kernel debits
    /// the same word concurrently; this read-then-write can lose a debit made in between, which errs towards sending,
    /// never towards dropping.</summary>
    public void RefillBudget(int slot, long bytes, long burst, uint reservePerLevel, uint dropFromLevel)
    {
        var current = Image("fr_budget");
        var have = _bpf.Map("fr_budgets").TryLookup(BitConverter.GetBytes((uint)slot), current.Bytes) ? unchecked((long)current.Get("bytes")) : 0;
        SetBudget(slot, Math.Min(burst, Math.Max(have, 0) + bytes), reservePerLevel, dropFromLevel);
    }

    public KernelSubscriberCounters Counters(int slot)
    {
        var stats = Image("fr_sub_stats");
        if (!_bpf.Map("fr_sub_stats").TryLookup(BitConverter.GetBytes((uint)slot), stats.Bytes))
            return default;
        return new KernelSubscriberCounters(stats.Get("forwarded_packets"), stats.Get("forwarded_bytes"), stats.Get("dropped_budget"),
            stats.Get("dropped_inactive"), stats.Get("received_packets"));
    }

    public ulong NextNumber(int slot)
    {
        var next = new byte[8];
        return _bpf.Map("fr_next_pn").TryLookup(BitConverter.GetBytes((uint)slot), next) ? BitConverter.ToUInt64(next) : 0;
    }

    /// <summary>Nothing to do: upstream ingress made every copy, the original only comes up for the relay's own use.</summary>
    public void OnUpstreamDatagram(ReadOnlySpan<byte> datagram, SocketAddress from)
    {
    }

    /// <summary>fr_stats summed over CPUs, by member name.</summary>
    public IReadOnlyDictionary<string, ulong> KernelCounters() => SumCounters(_bpf.Map("fr_stats"), _features.Struct("fr_stats"));

    /// <summary>Entry 0 of a per-CPU counters map (fr_stats) summed over CPUs, by member name (every 8-byte member).</summary>
    public static Dictionary<string, ulong> SumCounters(BpfMap perCpuStats, SharedStructLayout layout)
    {
        var totals = layout.Fields.Where(f => f.Size == 8 && !f.CName.StartsWith('_')).ToDictionary(f => f.CName, _ => 0UL);
        if (!perCpuStats.TryLookupPerCpu(BitConverter.GetBytes(0u), out var perCpu))
            return totals;
        foreach (var bytes in perCpu)
        {
            var image = new StructImage(layout, bytes);
            foreach (var name in totals.Keys.ToList())
                totals[name] += image.Get(name);
        }
        return totals;
    }

    /// <summary>The fr_channel_key bytes of a channel id (0 for a protocol without a channel field).</summary>
    public byte[] ChannelKey(ulong channel) => Image("fr_channel_key").Set("id", channel).Bytes;

    /// <summary>An fr_endpoint: family 4 or 6, the port in network order, the address (IPv4 in the first 4 bytes).</summary>
    public byte[] Endpoint(IPEndPoint endpoint)
    {
        var address = endpoint.Address.IsIPv4MappedToIPv6 ? endpoint.Address.MapToIPv4() : endpoint.Address;
        var image = Image("fr_endpoint").Set("family", address.AddressFamily == AddressFamily.InterNetworkV6 ? 6u : 4u);
        var port = image.Member("port");
        port[0] = (byte)(endpoint.Port >> 8);
        port[1] = (byte)endpoint.Port;
        address.TryWriteBytes(image.Member("addr"), out _);
        return image.Bytes;
    }

    private StructImage Image(string cName) => new(_features.Struct(cName));
}
