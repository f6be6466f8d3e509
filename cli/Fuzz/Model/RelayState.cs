namespace FastRelay.Cli.Fuzz.Model;

/// <summary>An fr_endpoint as the model keeps it: family 4 or 6 (0 = unset), port, 16 address bytes (IPv4 in the first 4).</summary>
public sealed record FuzzEndpoint(byte Family, ushort Port, byte[] Address)
{
    public static FuzzEndpoint Unset { get; } = new(0, 0, new byte[16]);

    public int AddressLength => Family == 6 ? 16 : 4;

    /// <summary>The bytes a frame carries for this endpoint's family.</summary>
    public byte[] WireAddress => Address.AsSpan(0, AddressLength).ToArray();

    /// <summary>Identity as a hash-map key sees it (family, port, all 16 address bytes).</summary>
    public string Key => $"{Family}/{Port}/{Convert.ToHexStringLower(Address)}";

    public override string ToString() => Family == 0 ? "unset" : $"v{Family} {Convert.ToHexStringLower(WireAddress)}:{Port}";
}

public sealed class SubscriberSlot
{
    public bool Active { get; set; }
    public uint IfIndex { get; set; }
    public ulong Channel { get; set; }
    public byte[] MacSource { get; set; } = new byte[6];
    public byte[] MacDestination { get; set; } = new byte[6];
    public FuzzEndpoint Local { get; set; } = FuzzEndpoint.Unset;
    public FuzzEndpoint Remote { get; set; } = FuzzEndpoint.Unset;
    public byte[] ConnectionId { get; set; } = [];
}

public sealed class ChannelEntry
{
    public FuzzEndpoint Upstream { get; set; } = FuzzEndpoint.Unset;
    public uint[] Slots { get; set; } = [];
    public uint Rotation { get; set; }
    public uint CacheBase { get; set; }
    public ulong UpstreamPackets { get; set; }
}

public sealed class BudgetEntry
{
    public long Bytes { get; set; }
    public bool Enabled { get; set; }
    public uint ReservePerLevel { get; set; }
    public uint DropFromLevel { get; set; }
}

public sealed class StreamMapping
{
    public ulong StreamId { get; set; }
    public long OffsetDelta { get; set; }
    public ulong ForwardFrom { get; set; }
    public ulong Limit { get; set; }
    public byte Urgency { get; set; }
}

/// <summary>One part of a channel lookup key: a byte string as on the wire, or a decoded integer.</summary>
public sealed record KeyPart(byte[]? Bytes, ulong Integer)
{
    public override string ToString() => Bytes is null ? Integer.ToString() : Convert.ToHexStringLower(Bytes);
}

/// <summary>A kept upstream packet (fr_cache entry).</summary>
public sealed record CacheEntry(ulong UpstreamPacketNumber, byte[] Data);

/// <summary>
/// Everything the relay's maps hold, as the model believes it: what the fuzzer wrote (configuration, channels,
/// subscribers, budgets, streams, credit) and what the programs change (counters, numbering, rotation, cache). The
/// fuzzer writes it into the kernel at the start of each round and compares the kernel's maps with it as packets go.
/// </summary>
public sealed class RelayState
{
    public ushort ConfigPort { get; set; }
    public uint Flags { get; set; }
    public uint CloneMark { get; set; }
    public Dictionary<ulong, ChannelEntry> Channels { get; set; } = [];
    /// <summary>Lookup key (its parts joined by '|') → channel id; with the parts for writing the kernel's key.</summary>
    public Dictionary<string, (KeyPart[] Parts, ulong Channel)> Lookup { get; set; } = [];
    public Dictionary<uint, SubscriberSlot> Subscribers { get; set; } = [];
    /// <summary>Endpoint key → slot (fr_sub_by_endpoint), with the endpoint for writing.</summary>
    public Dictionary<string, (FuzzEndpoint Endpoint, uint Slot)> SubByEndpoint { get; set; } = [];
    public Dictionary<uint, ulong> NextPacketNumber { get; set; } = [];
    public Dictionary<uint, ulong> LastNumbered { get; set; } = [];
    public Dictionary<uint, BudgetEntry> Budgets { get; set; } = [];
    public Dictionary<uint, ulong> CreditLimit { get; set; } = [];
    public Dictionary<uint, ulong> CreditUsed { get; set; } = [];
    public Dictionary<(uint Slot, ulong UpstreamStream), StreamMapping> Streams { get; set; } = [];
    /// <summary>Devices in fr_egress_devices.</summary>
    public HashSet<uint> EgressDevices { get; set; } = [];
    /// <summary>Devices whose egress hook runs this object's fr_subscriber_egress for real (not a map: where the fuzzer
    /// attached it), so that a clone sent there is rewritten inside upstream ingress's run.</summary>
    public HashSet<uint> EgressAttached { get; set; } = [];
    /// <summary>Devices that exist, with their MTU (not a map: the host's devices, which the programs ask about).</summary>
    public Dictionary<uint, int> DeviceMtu { get; set; } = [];

    /// <summary>fr_stats, summed over CPUs, by member name.</summary>
    public Dictionary<string, ulong> Stats { get; set; } = [];
    /// <summary>fr_sub_stats per slot, by member name (last_received_ns is not modelled).</summary>
    public Dictionary<uint, Dictionary<string, ulong>> SubStats { get; set; } = [];
    public Dictionary<uint, CacheEntry> Cache { get; set; } = [];

    public static string LookupKey(IEnumerable<KeyPart> parts) => string.Join('|', parts);

    public void Count(string counter, ulong n = 1) => Stats[counter] = Stats.GetValueOrDefault(counter) + n;

    public void CountSlot(uint slot, string counter, ulong n = 1)
    {
        if (!SubStats.TryGetValue(slot, out var stats))
            SubStats[slot] = stats = [];
        stats[counter] = stats.GetValueOrDefault(counter) + n;
    }
}
