using System.Globalization;
using System.Text;
using System.Text.Json;
using FastRelay.Cli.Bench.Moq.Floor;

namespace FastRelay.Cli.Bench.Moq;

/// <summary>One fan-out of the userspace MoQ relay against the fast-path one, measured in the same lab and run.</summary>
public sealed record MoqBenchComparisonRow(
    int FanOut,
    long UserspaceP50Us,
    long FastPathP50Us,
    double? P50Ratio,
    long UserspaceP99Us,
    long FastPathP99Us,
    double? UserspaceNsPerObject,
    double? FastPathNsPerObject,
    double? CpuPerCopyRatio,
    double? KernelShare,
    double? UserspaceSyscallsPerObject,
    double? FastPathSyscallsPerObject,
    double? FastPathSyscallsPerKernelPacket,
    long UserspaceLost,
    long FastPathLost,
    long? FloorP50Us = null,
    long? FloorP99Us = null,
    long? UserspaceAboveFloorP50Us = null,
    long? FastPathAboveFloorP50Us = null,
    double? FastPathKernelNsPerPacket = null,
    double? FloorKernelNsPerPacket = null,
    double? FastPathOverFloorKernelNs = null);

/// <summary>`bench --profile moq --relay-mode compare`: both reports and the ratios the thesis-relay issue names
/// (p50 latency userspace / fast path, relay CPU per delivered copy userspace / fast path — the fast path's with the
/// kernel time of its TC programs added when bpf_stats could be turned on — kernel share), and against the kernel floor
/// measured after both in the same lab: the floor's p50/p99, what each relay adds to the floor's p50, and the fast path's
/// TC ns per packet against the floor's.</summary>
public sealed record MoqBenchComparison(MoqBenchReport Userspace, MoqBenchReport FastPath, IReadOnlyList<MoqBenchComparisonRow> Rows)
{
    /// <summary>The kernel floor (null when skipped: see <see cref="FloorSkipped"/>).</summary>
    public MoqFloorReport? Floor { get; init; }
    public string? FloorSkipped { get; init; }

    public static MoqBenchComparison From(MoqBenchReport userspace, MoqBenchReport fastPath, MoqFloorReport? floor = null, string? floorSkipped = null) =>
        new(userspace, fastPath, userspace.Points.Join(fastPath.Points, u => u.FanOut, f => f.FanOut, (u, f) => new MoqBenchComparisonRow(
            u.FanOut, u.LatencyP50Us, f.LatencyP50Us, Ratio(u.LatencyP50Us, f.LatencyP50Us), u.LatencyP99Us, f.LatencyP99Us,
            // The fast path's CPU per copy with its kernel time added where it was measured: the kernel does the copying.
            u.RelayCpuNanosecondsPerObject, f.RelayCpuWithKernelNanosecondsPerObject ?? f.RelayCpuNanosecondsPerObject,
            Ratio(u.RelayCpuNanosecondsPerObject, f.RelayCpuWithKernelNanosecondsPerObject ?? f.RelayCpuNanosecondsPerObject),
            f.KernelShare, u.RelaySyscallsPerObject, f.RelaySyscallsPerObject, f.RelaySyscallsPerKernelPacket, u.Lost, f.Lost,
            floor?.At(u.FanOut)?.LatencyP50Us, floor?.At(u.FanOut)?.LatencyP99Us, floor?.AddedP50Us(u), floor?.AddedP50Us(f),
            f.KernelNanosecondsPerPacket, floor?.At(u.FanOut)?.KernelNanosecondsPerPacket,
            Ratio(f.KernelNanosecondsPerPacket, floor?.At(u.FanOut)?.KernelNanosecondsPerPacket))).ToList())
        {
            Floor = floor,
            FloorSkipped = floorSkipped,
        };

    private static double? Ratio(double? a, double? b) => a is { } x && b is { } y && y > 0 ? Math.Round(x / y, 2) : null;

    public string ToJson() => JsonSerializer.Serialize(this, MoqBenchReport.Json);

    public string Format(bool markdown = false)
    {
        var text = new StringBuilder();
        text.AppendLine("userspace relay (lab):");
        text.AppendLine(MoqBenchTable.Format(Userspace, markdown));
        text.AppendLine("fast-path relay (lab):");
        text.AppendLine(MoqBenchTable.Format(FastPath, markdown));
        if (Floor is { } floor)
            MoqBenchTable.FormatFloor(text, floor, [("user", Userspace), ("fast", FastPath)], markdown);
        else if (FloorSkipped is { } why)
            text.AppendLine("kernel floor: skipped (" + why + ")");
        text.AppendLine();
        text.AppendLine("fast path against userspace, same lab, same run:");
        MoqBenchTable.Table(text, ["fan-out", "p50 µs user", "p50 µs fast", "p50 ratio", "p99 µs user", "p99 µs fast", "ns/copy user", "ns/copy fast (+TC)", "CPU/copy ratio", "kernel share", "syscalls/copy user", "syscalls/copy fast", "syscalls/kernel packet", "lost user", "lost fast",
            "p50 µs floor", "p99 µs floor", "user − floor p50 µs", "fast − floor p50 µs", "TC ns/packet fast", "TC ns/packet floor", "TC ratio fast/floor"],
            Rows.Select(r => new[]
            {
                I(r.FanOut), I(r.UserspaceP50Us), I(r.FastPathP50Us), F(r.P50Ratio, "0.##"), I(r.UserspaceP99Us), I(r.FastPathP99Us),
                F(r.UserspaceNsPerObject, "0"), F(r.FastPathNsPerObject, "0"), F(r.CpuPerCopyRatio, "0.##"),
                r.KernelShare is { } k ? k.ToString("P1", CultureInfo.InvariantCulture) : "-",
                F(r.UserspaceSyscallsPerObject, "0.###"), F(r.FastPathSyscallsPerObject, "0.###"), F(r.FastPathSyscallsPerKernelPacket, "0.###"),
                I(r.UserspaceLost), I(r.FastPathLost),
                N(r.FloorP50Us), N(r.FloorP99Us), N(r.UserspaceAboveFloorP50Us), N(r.FastPathAboveFloorP50Us),
                F(r.FastPathKernelNsPerPacket, "0"), F(r.FloorKernelNsPerPacket, "0"), F(r.FastPathOverFloorKernelNs, "0.##"),
            }).ToList(), markdown);
        return text.ToString();
    }

    private static string N(long? value) => value is { } v ? I(v) : "-";
    private static string I(long value) => value.ToString(CultureInfo.InvariantCulture);
    private static string F(double? value, string format) => value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "-";
}
