using System.Text.Json;
using System.Text.Json.Serialization;

namespace FastRelay.Cli.Bench;

/// <summary>What one receiver measured (fr_bench_recv's JSON line).</summary>
public sealed record ReceiverMeasurement(
    [property: JsonPropertyName("received")] long Received,
    [property: JsonPropertyName("lost")] long Lost,
    [property: JsonPropertyName("duplicates")] long Duplicates,
    [property: JsonPropertyName("p50_us")] double P50Us,
    [property: JsonPropertyName("p90_us")] double P90Us,
    [property: JsonPropertyName("p99_us")] double P99Us,
    [property: JsonPropertyName("p999_us")] double P999Us,
    [property: JsonPropertyName("max_us")] double MaxUs,
    [property: JsonPropertyName("mean_us")] double MeanUs,
    [property: JsonPropertyName("jitter_us")] double JitterUs);

/// <summary>One run of one path at one fan-out.</summary>
public sealed record BenchSample(
    BenchPath Path,
    int FanOut,
    int Repetition,
    long Sent,
    double SentRatePps,
    ReceiverMeasurement First,
    ReceiverMeasurement? Last,
    double? RelayCpuMicrosecondsPerCopy,
    double? KernelNanosecondsPerCopy,
    double? SyscallsPerPacket,
    string? DelaySamplesFile);

/// <summary>The median of the repetitions for one path and fan-out, plus the highest loss-free step of the sweep (rates achieved, not asked).</summary>
public sealed record BenchSummary(
    BenchPath Path,
    int FanOut,
    ReceiverMeasurement First,
    ReceiverMeasurement? Last,
    double? RelayCpuMicrosecondsPerCopy,
    double? KernelNanosecondsPerCopy,
    double? SyscallsPerPacket,
    BenchSweepStep? MaxLossFree);

/// <summary>Ratios from one run, the numbers the targets are stated in.</summary>
public sealed record BenchRatios(
    int FanOut,
    double? FastPathOverFloorP50,
    double? FastPathOverFloorP99,
    double? UserspaceOverFastPathP50,
    double? UserspaceOverFastPathP99,
    double? UserspaceOverFastPathCpuPerCopy,
    double? CRelayOverFastPathP50,
    double? LastOverFirstP99FastPath);

public sealed record BenchReport(
    DateTimeOffset Started,
    string Machine,
    BenchMethod Method,
    IReadOnlyList<BenchSample> Samples,
    IReadOnlyList<BenchSummary> Summaries,
    IReadOnlyList<BenchRatios> Ratios)
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}

/// <summary>How the figures were taken, stated in every report.</summary>
public sealed record BenchMethod(
    int RatePps,
    int PacketSize,
    double DurationSeconds,
    double WarmupSeconds,
    int Repetitions,
    bool BusyPollReceivers,
    string Pinning,
    string ChecksumOffload,
    string Clock);
