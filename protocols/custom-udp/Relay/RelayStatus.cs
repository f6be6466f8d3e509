using System.Text.Json;
using System.Text.Json.Serialization;

namespace FastRelay.Protocols.CustomUdp.Relay;

/// <summary>A snapshot of a running relay, written to its status file and printed by `fastrelay status`.</summary>
public sealed record RelayStatus(
    string Name,
    string Mode,
    int Port,
    int ProcessId,
    DateTimeOffset Updated,
    IReadOnlyList<string> Attachments,
    IReadOnlyList<ChannelStatus> Channels,
    IReadOnlyList<SubscriberStatus> Subscribers,
    RelayTotals Totals)
{
    public string ToJson() => JsonSerializer.Serialize(this, RelayStatusJson.Default.RelayStatus);

    public static RelayStatus? FromJson(string json) => JsonSerializer.Deserialize(json, RelayStatusJson.Default.RelayStatus);
}

public sealed record ChannelStatus(ushort Channel, string? Upstream, int Subscribers, ulong UpstreamPackets);

public sealed record SubscriberStatus(
    int Slot,
    string Endpoint,
    ushort Channel,
    ulong Forwarded,
    ulong ForwardedBytes,
    ulong DroppedByBudget,
    ulong Repaired,
    ulong NackedSequences,
    uint RateBytesPerSecond,
    double SilentSeconds);

public sealed record RelayTotals(
    ulong UpstreamPackets,
    ulong ForeignData,
    ulong Malformed,
    ulong Challenges,
    ulong Accepted,
    ulong Refused,
    ulong Removed,
    ulong Repaired,
    ulong NacksDropped = 0, // NACKs refused because the repair worker was behind
    ulong Keepalives = 0); // FEEDBACKs of subscribers on a quiet channel answered with their REPLY (IdleKeepalive)

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(RelayStatus))]
internal sealed partial class RelayStatusJson : JsonSerializerContext;
