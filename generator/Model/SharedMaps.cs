using System.Collections.Generic;
using System.Linq;

namespace FastRelay.Generator.Model;

/// <summary>The BPF maps of one protocol. Defined here once, emitted into the C header (SEC(".maps")) and as typed
/// C# accessors, so the two sides cannot disagree on a name, a key or a value.</summary>
internal static class SharedMaps
{
    public const int RingBufferBytes = 1 << 20;

    /// <summary>Devices one relay can attach its egress program to (fr_egress_devices): far more than a host's
    /// subscriber-facing devices, and a hash of this size costs a few kB.</summary>
    public const int MaxEgressDevices = 256;

    public static EquatableArray<SharedMap> Build(DescriptorSpec spec, EquatableArray<SharedStruct> structs, bool streamTranslation,
        bool channelLookup, bool flowControl)
    {
        SharedStruct S(string cName) => structs.First(s => s.CName == cName);
        var maxSubs = spec.MaxSubscribers;

        SharedMap Keyed(string cName, string clrName, string type, string keyC, int keySize, string keyClr,
            SharedStruct value, string maxExpr, int max, string comment) =>
            new(cName, clrName, type, keyC, keySize, keyClr, "struct " + value.CName, value.Size, value.ClrName, maxExpr, max, comment);

        SharedMap Slot(string cName, string clrName, SharedStruct value, string comment) =>
            Keyed(cName, clrName, "BPF_MAP_TYPE_ARRAY", "__u32", 4, "uint", value, "FR_MAX_SUBSCRIBERS", maxSubs, comment);

        var maps = new List<SharedMap>
        {
            Keyed("fr_config", "Config", "BPF_MAP_TYPE_ARRAY", "__u32", 4, "uint", S("fr_config"), "1", 1,
                "Relay-wide settings (entry 0)."),
            Slot("fr_subscribers", "Subscribers", S("fr_subscriber"),
                "Subscriber slots; only userspace activates one."),
            new("fr_sub_by_endpoint", "SubscribersByEndpoint", "BPF_MAP_TYPE_HASH", "struct fr_endpoint", S("fr_endpoint").Size, "Endpoint",
                "__u32", 4, "uint", "FR_MAX_SUBSCRIBERS", maxSubs, "A subscriber's endpoint → its slot (egress numbering, ingress liveness)."),
            spec.EncryptedSubscribers
                // Mappable: for an encrypted slot the stack takes its numbers from this counter (an atomic add on the mapped
                // memory) before it seals, since a sealed packet cannot be renumbered.
                ? new("fr_next_pn", "NextPacketNumbers", "BPF_MAP_TYPE_ARRAY", "__u32", 4, "uint", "__u64", 8, "ulong",
                    "FR_MAX_SUBSCRIBERS", maxSubs, "Next packet number per slot: one counter for the kernel's copies and the stack's packets (userspace maps it: BPF_F_MMAPABLE).")
                    { MapFlags = "BPF_F_MMAPABLE" }
                : new("fr_next_pn", "NextPacketNumbers", "BPF_MAP_TYPE_ARRAY", "__u32", 4, "uint", "__u64", 8, "ulong",
                    "FR_MAX_SUBSCRIBERS", maxSubs, "Next packet number per slot; the kernel is the numbering authority."),
            new("fr_last_numbered", "LastNumbered", "BPF_MAP_TYPE_ARRAY", "__u32", 4, "uint", "__u64", 8, "ulong",
                "FR_MAX_SUBSCRIBERS", maxSubs, "Per slot: the last packet numbered (FR_CONFIG_REGISTER_RUNS); userspace zeroes it on activation."),
            // Mappable: the QUIC fast path credits a budget with every ACK its subscriber sends (memory, not a syscall).
            Slot("fr_budgets", "Budgets", S("fr_budget"), "Per-subscriber byte budgets for priority drop (userspace maps it: BPF_F_MMAPABLE).")
                with { MapFlags = "BPF_F_MMAPABLE" },
            Slot("fr_sub_stats", "SubscriberStats", S("fr_sub_stats"), "Per-subscriber counters."),
            Keyed("fr_channels", "Channels", "BPF_MAP_TYPE_HASH", "struct fr_channel_key", S("fr_channel_key").Size, "ChannelKey",
                S("fr_channel"), "FR_MAX_CHANNELS", spec.MaxChannels, "Channel → upstream and subscriber slots."),
        };
        maps.Add(new("fr_egress_devices", "EgressDevices", "BPF_MAP_TYPE_HASH", "__u32", 4, "uint", "__u32", 4, "uint",
            MaxEgressDevices.ToString(), MaxEgressDevices,
            "ifindex → 1 where the host attached fr_subscriber_egress; upstream ingress clones to no other device."));
        if (channelLookup)
            maps.Add(new("fr_channel_lookup", "ChannelLookup", "BPF_MAP_TYPE_HASH", "struct fr_channel_lookup_key", S("fr_channel_lookup_key").Size,
                "ChannelLookupKey", "struct fr_channel_key", S("fr_channel_key").Size, "ChannelKey", "FR_CHANNEL_LOOKUP_ENTRIES", spec.ChannelLookupEntries,
                "Header values (the ChannelKey fields) → channel; written by userspace once it knows what they carry."));
        if (flowControl)
        {
            maps.Add(new("fr_credit_limit", "CreditLimits", "BPF_MAP_TYPE_ARRAY", "__u32", 4, "uint", "__u64", 8, "ulong", "FR_MAX_SUBSCRIBERS", maxSubs,
                "Per slot: stream data bytes the kernel may forward in total (userspace raises it as connection credit arrives; it maps it: BPF_F_MMAPABLE).")
                { MapFlags = "BPF_F_MMAPABLE" });
            maps.Add(new("fr_credit_used", "CreditUsed", "BPF_MAP_TYPE_ARRAY", "__u32", 4, "uint", "__u64", 8, "ulong", "FR_MAX_SUBSCRIBERS", maxSubs,
                "Per slot: stream data bytes forwarded (kernel, compare-and-swap, never past the limit); userspace zeroes it on activation and reads it as memory (BPF_F_MMAPABLE).")
                { MapFlags = "BPF_F_MMAPABLE" });
        }
        if (spec.KernelCachePackets > 0)
            maps.Add(Keyed("fr_cache", "Cache", "BPF_MAP_TYPE_ARRAY", "__u32", 4, "uint", S("fr_cache_entry"),
                "FR_MAX_CHANNELS * FR_CACHE_PACKETS", spec.MaxChannels * spec.KernelCachePackets,
                "Kernel cache: FR_CACHE_PACKETS entries per channel from its cache_base, indexed by upstream packet number."));
        if (streamTranslation)
            maps.Add(Keyed("fr_streams", "Streams", "BPF_MAP_TYPE_HASH", "struct fr_stream_key", S("fr_stream_key").Size, "StreamKey",
                S("fr_stream_value"), "FR_MAX_SUBSCRIBERS * " + ModelBuilder.StreamEntriesPerSubscriber,
                maxSubs * ModelBuilder.StreamEntriesPerSubscriber,
                flowControl ? "(slot, upstream stream) → subscriber stream id, offset delta, forward-from and flow-control limit."
                    : "(slot, upstream stream) → subscriber stream id."));
        maps.Add(new SharedMap("fr_events", "Events", "BPF_MAP_TYPE_RINGBUF", "", 0, null, "", 0, null,
            RingBufferBytes.ToString(), RingBufferBytes, "Registration events (struct fr_event), submitted without wakeup."));
        maps.Add(Keyed("fr_stats", "Stats", "BPF_MAP_TYPE_PERCPU_ARRAY", "__u32", 4, "uint", S("fr_stats"), "1", 1,
            "Relay-wide counters, per CPU."));
        return maps.ToEquatableArray();
    }
}
