using System.Text.Json;
using System.Text.Json.Serialization;

namespace FastRelay.Protocols.Moq.Relay.Status;

/// <summary>
/// A snapshot of a running MoQ relay: what <c>fastrelay moq status</c> prints. The relay host rewrites it to its status
/// file (JSON) every second; anyone can read it without talking to the relay.
/// </summary>
public sealed record MoqRelayStatus(
    string Name,
    int ProcessId,
    IReadOnlyList<string> Listening,
    string? Upstream,
    bool AuthOpen,
    DateTimeOffset Started,
    DateTimeOffset Updated,
    IReadOnlyList<MoqSessionStatus> Sessions,
    IReadOnlyList<MoqTrackStatus> Tracks,
    MoqRelayTotals Totals,
    MoqFastPathStatus? FastPath = null)
{
    public string ToJson() => JsonSerializer.Serialize(this, MoqRelayStatusJson.Default.MoqRelayStatus);

    public static MoqRelayStatus? FromJson(string json) => JsonSerializer.Deserialize(json, MoqRelayStatusJson.Default.MoqRelayStatus);
}

public sealed record MoqSessionStatus(
    string Name,
    string Transport,
    string Remote,
    double AgeSeconds,
    int Subscriptions,
    int PublishedNamespaces,
    int PublishedTracks,
    long ObjectsSent,
    long BytesSent,
    long ObjectsDropped,
    long SubgroupsDropped,
    long QueuedBytes);

public sealed record MoqTrackStatus(
    string Track,
    string State,
    string? Source,
    bool Pushed,
    string? Largest,
    int Subscribers,
    long CacheBytes,
    int CacheGroups,
    long ObjectsIn,
    long BytesIn,
    long ObjectsOut,
    long Dropped);

public sealed record MoqRelayTotals(
    long SessionsAccepted,
    long SessionsRefused,
    long RequestsRefused,
    long SubscriptionsAccepted,
    long UpstreamSubscriptions,
    long FetchesServed,
    long CacheBytes,
    long CacheLimitBytes,
    long ObjectsIn,
    long ObjectsOut,
    long ObjectsDropped);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
/// <summary>The QUIC kernel fast path (relay run with it on): subscriber connections on a kernel slot, upstream
/// subgroup streams it carried, object bytes the kernel forwarded (all slots, also departed ones), forwarded and
/// not-forwarded packet events; and the kernel's own counters (fast-path packets from publishers matched to a channel,
/// without one, clones made, copies rewritten, copies dropped for want of a stream mapping, copies not forwarded); and
/// the kernel time of the upstream ingress program, clones included, with its runs (only counted while
/// kernel.bpf_stats_enabled is 1, as `bench --profile moq` sets it).</summary>
public sealed record MoqFastPathStatus(int Slots, long TappedStreams, long KernelForwardedBytes, long ForwardedPackets, long NotForwardedPackets,
    long UpstreamMatched = 0, long UpstreamNoChannel = 0, long Clones = 0, long EgressRewritten = 0, long EgressDroppedNoStream = 0, long EgressNotForwarded = 0,
    IReadOnlyList<MoqFastPathSubscriberStatus>? Subscribers = null, long KernelRunTimeNs = 0, long KernelRuns = 0,
    MoqSealStatus? Seal = null);

/// <summary>The kernel's sealing of copies for encrypted subscribers (null where the relay's object cannot seal): copies
/// sealed; copies refused before they took a number because the 16-byte tag would take them past the device MTU (the
/// relay's stack sends those ranges); copies dropped after they took a number because sealing failed (no keys, a
/// malformed copy, a kernel crypto error: the subscriber sees a gap, the stack resends the range once it is lost).</summary>
public sealed record MoqSealStatus(long Sealed, long TooBig, long Failed);

/// <summary>One subscriber connection that was on a kernel slot (live, or ended: the most recent ones are kept): its
/// session name and remote address as in the sessions list, stream bytes the kernel forwarded to it, and stream bytes
/// of the same fast-path streams the relay sent itself (headers, bytes before a mapping, ranges the kernel never saw),
/// and the packets the relay's QUIC stack declared lost on the connection (kernel-forwarded ones included: their data
/// is sent again from the relay's copy), and the subgroups not started for it because its path was congested. Objects
/// the relay delivered on other streams count in the session's BytesSent.</summary>
public sealed record MoqFastPathSubscriberStatus(string Session, string Remote, bool Live, long KernelBytes, long UserspaceBytes, long PacketsLost = 0,
    long SubgroupsSkipped = 0)
{
    /// <summary>Share of this connection's fast-path stream bytes that the kernel forwarded (0 when none were sent).</summary>
    public double KernelShare => KernelBytes + UserspaceBytes == 0 ? 0 : (double)KernelBytes / (KernelBytes + UserspaceBytes);
}

[JsonSerializable(typeof(MoqRelayStatus))]
internal sealed partial class MoqRelayStatusJson : JsonSerializerContext;
