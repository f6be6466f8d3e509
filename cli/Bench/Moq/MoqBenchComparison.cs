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
    double? FastPathOverFloorKernelNs = null)
{
    /// <summary>`bench --encrypted`: the clear-text fast path at this fan-out (null otherwise), see <see cref="MoqBenchClearTextColumns"/>.</summary>
    public MoqBenchClearTextColumns? ClearText { get; init; }
}

/// <summary>`bench --encrypted`: one fan-out of the clear-text fast path (subscribers with 0xBAAD) beside the sealed one
/// (the row's fast path, whose subscribers kept full protection): its p50/p99, its CPU per copy with TC, its TC time per
/// kernel packet and kernel share, what sealing adds (p50 difference, CPU and TC ratios sealed / clear), and the sealed
/// run's seal counters (copies sealed, copies refused for want of room for the tag, copies dropped because sealing
/// failed).</summary>
public sealed record MoqBenchClearTextColumns(
    long ClearP50Us,
    long ClearP99Us,
    double? ClearNsPerObject,
    double? ClearKernelNsPerPacket,
    double? ClearKernelShare,
    long ClearLost,
    long SealedMinusClearP50Us,
    double? SealedOverClearCpuPerCopy,
    double? SealedOverClearKernelNs,
    long? SealedCopies,
    long? SealTooBig,
    long? SealFailed = null);

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

    /// <summary>`bench --encrypted`: <see cref="Userspace"/> and <see cref="FastPath"/> served subscribers with full 1-RTT
    /// protection (the fast path sealing its kernel copies), and this third run in the same lab is the clear-text fast
    /// path (every client with 0xBAAD), as the plain compare mode's fast path. Null in the plain compare mode.</summary>
    public MoqBenchReport? ClearTextFastPath { get; init; }

    /// <summary>The subscribers of the userspace and fast-path runs were encrypted (`bench --encrypted`).</summary>
    public bool Encrypted => ClearTextFastPath is not null;

    public static MoqBenchComparison From(MoqBenchReport userspace, MoqBenchReport fastPath, MoqFloorReport? floor = null, string? floorSkipped = null,
        MoqBenchReport? clearTextFastPath = null) =>
        new(userspace, fastPath, userspace.Points.Join(fastPath.Points, u => u.FanOut, f => f.FanOut, (u, f) => new MoqBenchComparisonRow(
            u.FanOut, u.LatencyP50Us, f.LatencyP50Us, Ratio(u.LatencyP50Us, f.LatencyP50Us), u.LatencyP99Us, f.LatencyP99Us,
            // The fast path's CPU per copy with its kernel time added where it was measured: the kernel does the copying.
            u.RelayCpuNanosecondsPerObject, f.RelayCpuWithKernelNanosecondsPerObject ?? f.RelayCpuNanosecondsPerObject,
            Ratio(u.RelayCpuNanosecondsPerObject, f.RelayCpuWithKernelNanosecondsPerObject ?? f.RelayCpuNanosecondsPerObject),
            f.KernelShare, u.RelaySyscallsPerObject, f.RelaySyscallsPerObject, f.RelaySyscallsPerKernelPacket, u.Lost, f.Lost,
            floor?.At(u.FanOut)?.LatencyP50Us, floor?.At(u.FanOut)?.LatencyP99Us, floor?.AddedP50Us(u), floor?.AddedP50Us(f),
            f.KernelNanosecondsPerPacket, floor?.At(u.FanOut)?.KernelNanosecondsPerPacket,
            Ratio(f.KernelNanosecondsPerPacket, floor?.At(u.FanOut)?.KernelNanosecondsPerPacket))
            {
                ClearText = clearTextFastPath?.Points.FirstOrDefault(c => c.FanOut == u.FanOut) is { } c ? ClearTextColumns(f, c) : null,
            }).ToList())
        {
            Floor = floor,
            FloorSkipped = floorSkipped,
            ClearTextFastPath = clearTextFastPath,
        };

    private static MoqBenchClearTextColumns ClearTextColumns(MoqBenchPoint sealedRun, MoqBenchPoint clear) => new(
        clear.LatencyP50Us, clear.LatencyP99Us, clear.RelayCpuWithKernelNanosecondsPerObject ?? clear.RelayCpuNanosecondsPerObject,
        clear.KernelNanosecondsPerPacket, clear.KernelShare, clear.Lost, sealedRun.LatencyP50Us - clear.LatencyP50Us,
        Ratio(sealedRun.RelayCpuWithKernelNanosecondsPerObject ?? sealedRun.RelayCpuNanosecondsPerObject, clear.RelayCpuWithKernelNanosecondsPerObject ?? clear.RelayCpuNanosecondsPerObject),
        Ratio(sealedRun.KernelNanosecondsPerPacket, clear.KernelNanosecondsPerPacket), sealedRun.KernelSealedCopies, sealedRun.KernelSealTooBig,
        sealedRun.KernelSealFailed);

    private static double? Ratio(double? a, double? b) => a is { } x && b is { } y && y > 0 ? Math.Round(x / y, 2) : null;

    public string ToJson() => JsonSerializer.Serialize(this, MoqBenchReport.Json);

    public string Format(bool markdown = false)
    {
        var text = new StringBuilder();
        text.AppendLine(Encrypted ? "userspace relay, encrypted subscribers (lab):" : "userspace relay (lab):");
        text.AppendLine(MoqBenchTable.Format(Userspace, markdown));
        text.AppendLine(Encrypted ? "fast-path relay, encrypted subscribers: kernel copies sealed (lab):" : "fast-path relay (lab):");
        text.AppendLine(MoqBenchTable.Format(FastPath, markdown));
        if (ClearTextFastPath is { } clear)
        {
            text.AppendLine("fast-path relay, clear-text subscribers (0xBAAD) (lab):");
            text.AppendLine(MoqBenchTable.Format(clear, markdown));
        }
        if (Floor is { } floor)
            MoqBenchTable.FormatFloor(text, floor, ClearTextFastPath is { } c ? [("user", Userspace), ("sealed", FastPath), ("clear", c)] : [("user", Userspace), ("fast", FastPath)], markdown);
        else if (FloorSkipped is { } why)
            text.AppendLine("kernel floor: skipped (" + why + ")");
        text.AppendLine();
        text.AppendLine(Encrypted ? "sealed fast path against userspace, both serving encrypted subscribers, same lab, same run:" : "fast path against userspace, same lab, same run:");
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
        if (Encrypted)
        {
            text.AppendLine();
            text.AppendLine("encrypted subscribers: userspace relay, sealed fast path and the clear-text fast path, same lab, same run:");
            MoqBenchTable.Table(text, ["fan-out", "p50 µs user", "p50 µs sealed", "p50 µs clear", "p99 µs user", "p99 µs sealed", "p99 µs clear",
                    "ns/copy user", "ns/copy sealed +TC", "ns/copy clear +TC", "TC ns/packet sealed", "TC ns/packet clear", "kernel share sealed", "kernel share clear",
                    "sealed − clear p50 µs", "CPU/copy sealed/clear", "TC sealed/clear", "copies sealed", "refused: no room for tag", "seal failed", "lost user/sealed/clear"],
                Rows.Where(r => r.ClearText is not null).Select(r =>
                {
                    var c = r.ClearText!;
                    return new[]
                    {
                        I(r.FanOut), I(r.UserspaceP50Us), I(r.FastPathP50Us), I(c.ClearP50Us), I(r.UserspaceP99Us), I(r.FastPathP99Us), I(c.ClearP99Us),
                        F(r.UserspaceNsPerObject, "0"), F(r.FastPathNsPerObject, "0"), F(c.ClearNsPerObject, "0"),
                        F(r.FastPathKernelNsPerPacket, "0"), F(c.ClearKernelNsPerPacket, "0"), P(r.KernelShare), P(c.ClearKernelShare),
                        I(c.SealedMinusClearP50Us), F(c.SealedOverClearCpuPerCopy, "0.##"), F(c.SealedOverClearKernelNs, "0.##"),
                        N(c.SealedCopies), N(c.SealTooBig), N(c.SealFailed), $"{I(r.UserspaceLost)}/{I(r.FastPathLost)}/{I(c.ClearLost)}",
                    };
                }).ToList(), markdown);
        }
        return text.ToString();
    }

    private static string P(double? share) => share is { } k ? k.ToString("P1", CultureInfo.InvariantCulture) : "-";

    private static string N(long? value) => value is { } v ? I(v) : "-";
    private static string I(long value) => value.ToString(CultureInfo.InvariantCulture);
    private static string F(double? value, string format) => value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "-";
}
