using System.Globalization;
using System.Text;
using FastRelay.Cli.Bench.Moq.Floor;

namespace FastRelay.Cli.Bench.Moq;

/// <summary>The MoQ bench report as a terminal table or Markdown (docs/benchmarks.md).</summary>
public static class MoqBenchTable
{
    public static string Format(MoqBenchReport report, bool markdown = false)
    {
        var text = new StringBuilder();
        var header = new[] { "fan-out", "objects/s sent", "mean bytes", "delivered", "lost", "p50 µs", "p90 µs", "p99 µs", "max µs", "egress Mbit/s", "relay CPU %", "ns/object", "ns/byte", "cycles/byte", "kernel share", "TC ns/packet", "ns/object +TC", "syscalls/object", "syscalls/kernel packet" };
        var rows = report.Points.Select(p => new[]
        {
            p.FanOut.ToString(CultureInfo.InvariantCulture), F(p.PublishedObjectsPerSecond, "0.#"), F(p.MeanObjectBytes, "0"), p.Delivered.ToString(CultureInfo.InvariantCulture),
            p.Lost.ToString(CultureInfo.InvariantCulture), p.LatencyP50Us.ToString(CultureInfo.InvariantCulture), p.LatencyP90Us.ToString(CultureInfo.InvariantCulture),
            p.LatencyP99Us.ToString(CultureInfo.InvariantCulture), p.LatencyMaxUs.ToString(CultureInfo.InvariantCulture), F(p.EgressMegabitsPerSecond, "0.##"),
            F(p.RelayCpuPercent, "0.#"), F(p.RelayCpuNanosecondsPerObject, "0"), F(p.RelayCpuNanosecondsPerByte, "0.##"), F(p.RelayCyclesPerByte, "0.#"),
            p.KernelShare is { } k ? k.ToString("P1", CultureInfo.InvariantCulture) : "-",
            F(p.KernelNanosecondsPerPacket, "0"), F(p.RelayCpuWithKernelNanosecondsPerObject, "0"),
            F(p.RelaySyscallsPerObject, "0.###"), F(p.RelaySyscallsPerKernelPacket, "0.###"),
        }).ToList();
        Table(text, header, rows, markdown);
        foreach (var p in report.Points.Where(p => p.KernelSealedCopies is > 0 || p.KernelSealTooBig is > 0 || p.KernelSealFailed is > 0))
            text.AppendLine($"fan-out {p.FanOut}: kernel copies sealed for encrypted subscribers {p.KernelSealedCopies}, refused (no room for the 16-byte tag) " +
                            $"{p.KernelSealTooBig}, dropped because sealing failed {p.KernelSealFailed}");
        foreach (var p in report.Points.Where(p => p.RelayTopSyscalls is { Count: > 0 }))
            text.AppendLine($"fan-out {p.FanOut}: relay syscalls {string.Join(", ", p.RelayTopSyscalls!.Select(c => $"{c.Name} {c.Count}"))} (of {p.RelaySyscalls})");
        if (report.Floor is { } floor)
        {
            text.AppendLine();
            FormatFloor(text, floor, [("relay", report)], markdown);
        }
        else if (report.FloorSkipped is { } why)
            text.AppendLine("kernel floor: skipped (" + why + ")");
        if (report.Sweep.Count > 0)
        {
            text.AppendLine();
            Table(text, ["asked objects/s", "sent objects/s", "delivered/s per subscriber", "lost", "p99 µs", "relay CPU %"],
                report.Sweep.Select(s => new[]
                {
                    F(s.RequestedObjectsPerSecond, "0"), F(s.PublishedObjectsPerSecond, "0.#"), F(s.DeliveredObjectsPerSecondPerSubscriber, "0.#"),
                    s.Lost.ToString(CultureInfo.InvariantCulture), s.LatencyP99Us.ToString(CultureInfo.InvariantCulture), F(s.RelayCpuPercent, "0.#"),
                }).ToList(), markdown);
        }
        text.AppendLine();
        text.AppendLine(report.MaxLossFreeObjectsPerSecond is { } max
            ? $"highest loss-free rate achieved: {max.ToString("0.#", CultureInfo.InvariantCulture)} objects/s per subscriber"
            : report.Sweep.Count > 0 ? "highest loss-free rate: none of the sweep's rates was loss-free" : "rate sweep: skipped");
        text.AppendLine($"relay: {report.Method.Relay}; CPU clock {(report.Method.CpuMhz is { } mhz ? $"{mhz:0} MHz ({report.Method.CpuMhzSource})" : "unknown: no cycles")}");
        text.AppendLine("anchor: " + report.Anchor);
        return text.ToString();
    }

    /// <summary>The kernel-floor rows (one per fan-out, the relay table's columns where they mean the same), with what each
    /// of <paramref name="relays"/> adds to the floor's p50 at that fan-out, and the floor's notes.</summary>
    public static void FormatFloor(StringBuilder text, MoqFloorReport floor, IReadOnlyList<(string Label, MoqBenchReport Report)> relays, bool markdown)
    {
        text.AppendLine("kernel floor (no relay process):");
        string[] header = ["fan-out", "objects/s sent", "mean bytes", "datagrams/object", "delivered", "lost", "p50 µs", "p90 µs", "p99 µs", "max µs",
            "TC ns/packet", "ns/object +TC", .. relays.Select(r => $"{r.Label} p50 − floor p50 µs")];
        var rows = floor.Points.Select(p => (string[])
        [
            p.FanOut.ToString(CultureInfo.InvariantCulture), F(p.PublishedObjectsPerSecond, "0.#"), F(p.MeanObjectBytes, "0"), F(p.DatagramsPerObject, "0.##"),
            p.Delivered.ToString(CultureInfo.InvariantCulture), p.Lost.ToString(CultureInfo.InvariantCulture), p.LatencyP50Us.ToString(CultureInfo.InvariantCulture),
            p.LatencyP90Us.ToString(CultureInfo.InvariantCulture), p.LatencyP99Us.ToString(CultureInfo.InvariantCulture), p.LatencyMaxUs.ToString(CultureInfo.InvariantCulture),
            F(p.KernelNanosecondsPerPacket, "0"), F(p.KernelNanosecondsPerObject, "0"),
            .. relays.Select(r => r.Report.Points.FirstOrDefault(x => x.FanOut == p.FanOut) is { } relay && floor.AddedP50Us(relay) is { } added
                ? added.ToString(CultureInfo.InvariantCulture) : "-"),
        ]).ToList();
        Table(text, header, rows, markdown);
        text.AppendLine(MoqFloorReport.Notes + " (its \"ns/object +TC\" is TC time alone)");
    }

    internal static void Table(StringBuilder text, string[] header, List<string[]> rows, bool markdown)
    {
        if (markdown)
        {
            text.AppendLine("| " + string.Join(" | ", header) + " |");
            text.AppendLine("|" + string.Concat(header.Select(_ => "---|")));
            foreach (var row in rows) text.AppendLine("| " + string.Join(" | ", row) + " |");
            return;
        }
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Select(r => r[i].Length).DefaultIfEmpty(0).Max())).ToArray();
        text.AppendLine(string.Join("  ", header.Select((h, i) => h.PadLeft(widths[i]))));
        foreach (var row in rows) text.AppendLine(string.Join("  ", row.Select((c, i) => c.PadLeft(widths[i]))));
    }

    private static string F(double? value, string format) =>
        value is { } v && !double.IsNaN(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "-";
}
