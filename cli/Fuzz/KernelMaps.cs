using FastRelay.Bpf;
using FastRelay.Cli.Fuzz.Model;
using FastRelay.Generated;
using FastRelay.Relay;

namespace FastRelay.Cli.Fuzz;

/// <summary>
/// Writes a <see cref="RelayState"/> into a loaded object's maps and reads back what the programs changed, through the
/// struct layouts the generator recorded (<see cref="StructImage"/>). Hash entries it wrote are remembered, so the next
/// round's setup starts from empty hashes.
/// </summary>
public sealed class KernelMaps(BpfObject bpf, GeneratedProtocol protocol)
{
    private readonly List<(string Map, byte[] Key)> _written = [];

    private SharedStructLayout Layout(string cName) =>
        protocol.Structs.FirstOrDefault(s => s.CName == cName) ?? throw new InvalidOperationException($"{protocol.Name} has no struct {cName}");

    private StructImage Image(string cName, byte[]? bytes = null) => new(Layout(cName), bytes);

    private BpfMap Map(string name) => bpf.Map(name);

    private bool HasMap(string name) => protocol.Maps.Any(m => m.Name == name);

    private static byte[] U32(uint v) => BitConverter.GetBytes(v);

    private static byte[] U64(ulong v) => BitConverter.GetBytes(v);

    public byte[] Endpoint(FuzzEndpoint endpoint)
    {
        var image = Image("fr_endpoint").Set("family", endpoint.Family);
        var port = image.Member("port");
        port[0] = (byte)(endpoint.Port >> 8);
        port[1] = (byte)endpoint.Port;
        endpoint.Address.CopyTo(image.Member("addr"));
        return image.Bytes;
    }

    public byte[] ChannelKey(ulong id) => Image("fr_channel_key").Set("id", id).Bytes;

    /// <summary>Replaces everything the programs read with <paramref name="state"/>; the counters are not reset (the model
    /// takes the kernel's as its start: <see cref="ReadStats"/>).</summary>
    public void Write(RelayState state, int maxSubscribers)
    {
        foreach (var (map, key) in _written)
            Map(map).Delete(key);
        _written.Clear();

        Map("fr_config").Update(U32(0), Image("fr_config").Set("udp_port", state.ConfigPort).Set("flags", state.Flags)
            .Set("clone_mark", state.CloneMark).Bytes);
        for (var slot = 0u; slot < maxSubscribers; slot++)
        {
            var sub = state.Subscribers.GetValueOrDefault(slot) ?? new SubscriberSlot();
            var entry = Image("fr_subscriber").Set("active", sub.Active ? 1u : 0u).Set("ifindex", sub.IfIndex)
                .SetBytes("channel", ChannelKey(sub.Channel)).SetBytes("mac_src", sub.MacSource).SetBytes("mac_dst", sub.MacDestination)
                .SetBytes("local", Endpoint(sub.Local)).SetBytes("remote", Endpoint(sub.Remote));
            if (entry.Has("cid"))
            {
                var cid = new byte[entry.Member("cid").Length];
                sub.ConnectionId.AsSpan(0, Math.Min(cid.Length, sub.ConnectionId.Length)).CopyTo(cid);
                entry.SetBytes("cid", cid);
            }
            Map("fr_subscribers").Update(U32(slot), entry.Bytes);
            Map("fr_next_pn").Update(U32(slot), U64(state.NextPacketNumber.GetValueOrDefault(slot)));
            Map("fr_last_numbered").Update(U32(slot), U64(state.LastNumbered.GetValueOrDefault(slot)));
            Map("fr_sub_stats").Update(U32(slot), Image("fr_sub_stats").Bytes);
            var budget = state.Budgets.GetValueOrDefault(slot) ?? new BudgetEntry();
            Map("fr_budgets").Update(U32(slot), Image("fr_budget").Set("bytes", unchecked((ulong)budget.Bytes))
                .Set("enabled", budget.Enabled ? 1u : 0u).Set("reserve_per_level", budget.ReservePerLevel)
                .Set("drop_from_level", budget.DropFromLevel).Bytes);
            if (HasMap("fr_credit_limit"))
            {
                Map("fr_credit_limit").Update(U32(slot), U64(state.CreditLimit.GetValueOrDefault(slot)));
                Map("fr_credit_used").Update(U32(slot), U64(state.CreditUsed.GetValueOrDefault(slot)));
            }
        }
        foreach (var (endpoint, slot) in state.SubByEndpoint.Values)
            Put("fr_sub_by_endpoint", Endpoint(endpoint), U32(slot));
        foreach (var (id, ch) in state.Channels)
        {
            var value = Image("fr_channel").SetBytes("upstream", Endpoint(ch.Upstream)).Set("count", (uint)ch.Slots.Length)
                .Set("rotation", ch.Rotation).Set("cache_base", ch.CacheBase).Set("upstream_packets", ch.UpstreamPackets);
            for (var i = 0; i < ch.Slots.Length; i++)
                value.SetUInt32At("slots", i, ch.Slots[i]);
            Put("fr_channels", ChannelKey(id), value.Bytes);
        }
        foreach (var (parts, channel) in state.Lookup.Values)
            Put("fr_channel_lookup", LookupKey(parts), ChannelKey(channel));
        foreach (var ((slot, upstream), mapping) in state.Streams)
        {
            var key = Image("fr_stream_key").Set("slot", slot).Set("upstream_stream_id", upstream).Bytes;
            var value = Image("fr_stream_value").Set("stream_id", mapping.StreamId);
            if (value.Has("offset_delta"))
                value.Set("offset_delta", unchecked((ulong)mapping.OffsetDelta)).Set("forward_from", mapping.ForwardFrom).Set("limit", mapping.Limit);
            if (value.Has("urgency"))
                value.Set("urgency", mapping.Urgency);
            Put("fr_streams", key, value.Bytes);
        }
        foreach (var device in state.EgressDevices)
            Put("fr_egress_devices", U32(device), U32(1));
    }

    private void Put(string map, byte[] key, byte[] value)
    {
        Map(map).Update(key, value);
        _written.Add((map, key));
    }

    /// <summary>The fr_channel_lookup_key of the parts: its members in order, one per ChannelKey field.</summary>
    public byte[] LookupKey(KeyPart[] parts)
    {
        var layout = Layout("fr_channel_lookup_key");
        var image = new StructImage(layout);
        var members = layout.Fields.Where(f => !f.CName.StartsWith("_pad", StringComparison.Ordinal)).ToList();
        if (members.Count != parts.Length)
            throw new InvalidOperationException($"{protocol.Name}: fr_channel_lookup_key has {members.Count} members, the descriptor {parts.Length} ChannelKey fields");
        for (var i = 0; i < parts.Length; i++)
        {
            if (parts[i].Bytes is { } bytes)
                image.SetBytes(members[i].CName, bytes);
            else
                image.Set(members[i].CName, parts[i].Integer);
        }
        return image.Bytes;
    }

    public Dictionary<string, ulong> ReadStats() => FastPathTables.SumCounters(Map("fr_stats"), Layout("fr_stats"));

    public Dictionary<string, ulong> ReadSubStats(uint slot)
    {
        var image = Image("fr_sub_stats");
        Map("fr_sub_stats").TryLookup(U32(slot), image.Bytes);
        return image.Layout.Fields.Where(f => !f.CName.StartsWith('_') && f.CName != "last_received_ns").ToDictionary(f => f.CName, f => image.Get(f.CName));
    }

    public ulong ReadU64(string map, uint slot)
    {
        var value = new byte[8];
        Map(map).TryLookup(U32(slot), value);
        return BitConverter.ToUInt64(value);
    }

    public bool HasCredit => HasMap("fr_credit_used");

    public (long Bytes, bool Found) ReadBudget(uint slot)
    {
        var image = Image("fr_budget");
        var found = Map("fr_budgets").TryLookup(U32(slot), image.Bytes);
        return (unchecked((long)image.Get("bytes")), found);
    }

    public (uint Rotation, ulong UpstreamPackets)? ReadChannel(ulong id)
    {
        var image = Image("fr_channel");
        return Map("fr_channels").TryLookup(ChannelKey(id), image.Bytes) ? ((uint)image.Get("rotation"), image.Get("upstream_packets")) : null;
    }

    public CacheEntry? ReadCache(uint index)
    {
        var image = Image("fr_cache_entry");
        if (!Map("fr_cache").TryLookup(U32(index), image.Bytes))
            return null;
        var length = (int)Math.Min(image.Get("length"), (ulong)image.Member("data").Length);
        return new CacheEntry(image.Get("upstream_packet_number"), image.Member("data")[..length].ToArray());
    }

    /// <summary>Decodes an fr_event record into the model's shape (members the protocol lacks read 0).</summary>
    public ModelEvent DecodeEvent(ReadOnlySpan<byte> record)
    {
        var layout = Layout("fr_event");
        var image = new StructImage(layout, record[..layout.Size].ToArray());
        ulong Get(string m) => image.Has(m) ? image.Get(m) : 0;
        return new ModelEvent(Get("packet_number"), Get("upstream_packet_number"), Get("stream_id"), Get("upstream_stream_id"),
            Get("stream_offset"), (uint)Get("slot"), (uint)Get("length"), (uint)Get("data_length"), (byte)Get("origin"),
            (byte)Get("urgency"), (byte)Get("fin"), (byte)Get("reason"));
    }
}
