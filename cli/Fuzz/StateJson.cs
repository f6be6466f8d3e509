using System.Text.Json.Nodes;
using FastRelay.Cli.Fuzz.Model;

namespace FastRelay.Cli.Fuzz;

/// <summary>A round's map setup as JSON, for reproducers: every map entry the fuzzer wrote, in readable form.</summary>
public static class StateJson
{
    public static JsonObject Describe(RelayState s) => new()
    {
        ["fr_config"] = new JsonObject { ["udp_port"] = s.ConfigPort, ["flags"] = s.Flags, ["clone_mark"] = $"0x{s.CloneMark:x8}" },
        ["devices"] = new JsonObject(s.DeviceMtu.Select(d => KeyValuePair.Create($"{d.Key}", (JsonNode?)$"mtu {d.Value}"))),
        ["egress_program_attached"] = new JsonArray(s.EgressAttached.Select(d => (JsonNode)d).ToArray()),
        ["fr_egress_devices"] = new JsonArray(s.EgressDevices.Select(d => (JsonNode)d).ToArray()),
        ["fr_channels"] = new JsonObject(s.Channels.Select(c => KeyValuePair.Create($"{c.Key}", (JsonNode?)new JsonObject
        {
            ["upstream"] = Endpoint(c.Value.Upstream),
            ["slots"] = new JsonArray(c.Value.Slots.Select(x => (JsonNode)x).ToArray()),
            ["rotation"] = c.Value.Rotation,
            ["cache_base"] = c.Value.CacheBase,
            ["upstream_packets"] = c.Value.UpstreamPackets,
        }))),
        ["fr_channel_lookup"] = new JsonObject(s.Lookup.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value.Channel))),
        ["fr_subscribers"] = new JsonObject(s.Subscribers.Select(x => KeyValuePair.Create($"{x.Key}", (JsonNode?)new JsonObject
        {
            ["active"] = x.Value.Active,
            ["ifindex"] = x.Value.IfIndex,
            ["channel"] = x.Value.Channel,
            ["mac_src"] = Convert.ToHexStringLower(x.Value.MacSource),
            ["mac_dst"] = Convert.ToHexStringLower(x.Value.MacDestination),
            ["local"] = Endpoint(x.Value.Local),
            ["remote"] = Endpoint(x.Value.Remote),
            ["cid"] = Convert.ToHexStringLower(x.Value.ConnectionId),
            ["next_pn"] = s.NextPacketNumber.GetValueOrDefault(x.Key),
            ["last_numbered"] = $"0x{s.LastNumbered.GetValueOrDefault(x.Key):x16}",
            ["budget"] = s.Budgets.TryGetValue(x.Key, out var b)
                ? new JsonObject { ["bytes"] = b.Bytes, ["enabled"] = b.Enabled, ["reserve_per_level"] = b.ReservePerLevel, ["drop_from_level"] = b.DropFromLevel }
                : null,
            ["credit_limit"] = s.CreditLimit.GetValueOrDefault(x.Key),
            ["credit_used"] = s.CreditUsed.GetValueOrDefault(x.Key),
        }))),
        ["fr_sub_by_endpoint"] = new JsonObject(s.SubByEndpoint.Select(e => KeyValuePair.Create(e.Value.Endpoint.ToString(), (JsonNode?)e.Value.Slot))
            .DistinctBy(e => e.Key)),
        ["fr_streams"] = new JsonArray(s.Streams.Select(m => (JsonNode)new JsonObject
        {
            ["slot"] = m.Key.Slot,
            ["upstream_stream_id"] = m.Key.UpstreamStream,
            ["stream_id"] = m.Value.StreamId,
            ["offset_delta"] = m.Value.OffsetDelta,
            ["forward_from"] = m.Value.ForwardFrom,
            ["limit"] = m.Value.Limit,
            ["urgency"] = m.Value.Urgency,
        }).ToArray()),
    };

    private static JsonNode Endpoint(FuzzEndpoint e) => new JsonObject
    {
        ["family"] = e.Family,
        ["port"] = e.Port,
        ["addr"] = Convert.ToHexStringLower(e.Address),
    };
}
