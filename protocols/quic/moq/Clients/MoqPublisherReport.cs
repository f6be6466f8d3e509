using System.Globalization;
using System.Text.Json;

namespace FastRelay.Protocols.Moq.Clients;

/// <summary>What <c>moq publish</c> did. Rates are those actually achieved (objects and bytes over the time spent).</summary>
public sealed record MoqPublisherReport
{
    public required string Url { get; init; }
    public required string Track { get; init; }
    /// <summary>"synthetic" or "input:FRAMING".</summary>
    public required string Source { get; init; }
    public double DurationSeconds { get; init; }
    public long Objects { get; init; }
    public long Bytes { get; init; }
    public long Groups { get; init; }
    public long KeyObjects { get; init; }
    public long SubgroupsOpened { get; init; }
    public double ObjectsPerSecond { get; init; }
    public double BitsPerSecond { get; init; }
    /// <summary>Objects sent per publisher priority ("64": 10, "96": 290).</summary>
    public required SortedDictionary<string, long> ObjectsByPriority { get; init; }
    /// <summary>Latest an object was sent after its due time, µs (the publisher could not keep up, or the transport
    /// pushed back).</summary>
    public long MaxScheduleLagMicroseconds { get; init; }
    /// <summary>Objects sent more than one frame interval late.</summary>
    public long LateObjects { get; init; }
    /// <summary>Why publishing stopped early (session closed), null when it ran to its end.</summary>
    public string? StoppedBecause { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, MoqClientJsonContext.Default.MoqPublisherReport);

    public string ToSummary() => string.Join(Environment.NewLine,
        string.Create(CultureInfo.InvariantCulture, $"publisher {Url} track {Track} ({Source}): {DurationSeconds:0.00} s{(StoppedBecause is null ? "" : $", stopped: {StoppedBecause}")}"),
        string.Create(CultureInfo.InvariantCulture, $"  sent       {Objects} objects in {Groups} groups ({KeyObjects} key), {Bytes / 1e6:0.###} MB, {SubgroupsOpened} subgroup streams"),
        string.Create(CultureInfo.InvariantCulture, $"  rate       {ObjectsPerSecond:0.#} objects/s, {BitsPerSecond / 1e6:0.###} Mbit/s; {LateObjects} late, max lag {MaxScheduleLagMicroseconds} µs"),
        "  priority   " + string.Join("  ", ObjectsByPriority.Select(p => $"{p.Key}:{p.Value}")));
}
