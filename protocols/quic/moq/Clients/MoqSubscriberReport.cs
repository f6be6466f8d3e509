using System.Globalization;
using System.Text.Json;

namespace FastRelay.Protocols.Moq.Clients;

/// <summary>What <c>moq subscribe</c> saw. Counts are objects unless named otherwise.</summary>
public sealed record MoqSubscriberReport
{
    public required string Url { get; init; }
    public required string Track { get; init; }
    public required string Start { get; init; }
    public double DurationSeconds { get; init; }
    public long Objects { get; init; }
    public long Bytes { get; init; }
    public long KeyObjects { get; init; }
    public long ViaFetch { get; init; }
    /// <summary>Distinct stamped objects whose checksum and length verified and whose header names the location they came under.</summary>
    public long Verified { get; init; }
    /// <summary>Objects without the payload header (raw input): counted, not judged.</summary>
    public long Unstamped { get; init; }
    public long ChecksumFailures { get; init; }
    public long LengthFailures { get; init; }
    public long LocationMismatches { get; init; }
    public long Duplicates { get; init; }
    /// <summary>Track sequences between the first and the last received that never arrived.</summary>
    public long MissingObjects { get; init; }
    /// <summary>Runs of consecutive missing sequences.</summary>
    public long Gaps { get; init; }
    /// <summary>Arrived after an object with a later track sequence (normal across several subgroup streams).</summary>
    public long Reordered { get; init; }
    /// <summary>Object ids that did not rise inside one subgroup (a protocol violation upstream).</summary>
    public long OutOfOrderInSubgroup { get; init; }
    /// <summary>Receive time before send time: the clocks are not the same (another host); latency not recorded.</summary>
    public long NegativeLatencies { get; init; }
    public ulong? FirstGroup { get; init; }
    public ulong? LastGroup { get; init; }
    public double ObjectsPerSecond { get; init; }
    public double BitsPerSecond { get; init; }
    /// <summary>One-way latency (receive CLOCK_REALTIME − the send time in the header) of first deliveries, µs.</summary>
    public required LatencyStats Latency { get; init; }
    /// <summary>The --expect count, if one was given.</summary>
    public long? Expected { get; init; }
    /// <summary>Why the subscription ended before the run did (track ended, session closed), null otherwise.</summary>
    public string? EndedBecause { get; init; }

    public long IntegrityFailures => ChecksumFailures + LengthFailures + LocationMismatches + OutOfOrderInSubgroup;
    public bool ExpectationMet => Expected is not { } n || Verified + Unstamped >= n;

    public string ToJson() => JsonSerializer.Serialize(this, MoqClientJsonContext.Default.MoqSubscriberReport);

    public string ToSummary()
    {
        var l = Latency;
        return string.Join(Environment.NewLine,
            string.Create(CultureInfo.InvariantCulture, $"subscriber {Url} track {Track} from {Start}: {DurationSeconds:0.00} s{(EndedBecause is null ? "" : $", ended: {EndedBecause}")}"),
            string.Create(CultureInfo.InvariantCulture, $"  received   {Objects} objects ({KeyObjects} key, {ViaFetch} via fetch), {Bytes / 1e6:0.###} MB, groups {FirstGroup?.ToString() ?? "-"}..{LastGroup?.ToString() ?? "-"}; {ObjectsPerSecond:0.#} objects/s, {BitsPerSecond / 1e6:0.###} Mbit/s"),
            $"  integrity  {Verified} verified, {Unstamped} unstamped, {ChecksumFailures} checksum, {LengthFailures} length, {LocationMismatches} location, {OutOfOrderInSubgroup} out of order in a subgroup",
            $"  sequence   {MissingObjects} missing in {Gaps} gap(s), {Duplicates} duplicate(s), {Reordered} reordered across subgroups" + (Expected is { } e ? $"; expected {e}: {(ExpectationMet ? "met" : "NOT met")}" : ""),
            l.Count == 0
                ? "  latency    no stamped objects" + (NegativeLatencies > 0 ? $" ({NegativeLatencies} negative: clocks differ)" : "")
                : string.Create(CultureInfo.InvariantCulture, $"  latency µs p50 {l.P50Us}  p90 {l.P90Us}  p99 {l.P99Us}  max {l.MaxUs}  (min {l.MinUs}, mean {l.MeanUs}, n {l.Count}{(NegativeLatencies > 0 ? $", {NegativeLatencies} negative" : "")})"));
    }
}
