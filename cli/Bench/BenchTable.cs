using System.Globalization;
using System.Text;

namespace FastRelay.Cli.Bench;

/// <summary>The report as a readable table (terminal) or Markdown (docs/benchmarks.md).</summary>
public static class BenchTable
{
    public static string Format(BenchReport report, bool markdown = false)
    {
        var text = new StringBuilder();
        var header = new[] { "fan-out", "path", "p50 µs", "p90", "p99", "p99.9", "max", "jitter", "lost", "last p50", "last p99", "CPU/copy µs", "kernel ns/copy", "syscalls/pkt", "loss-free pps sent", "copies/s" };
        var rows = report.Summaries.Select(s => new[]
        {
            s.FanOut.ToString(), s.Path.ToString(), F(s.First.P50Us), F(s.First.P90Us), F(s.First.P99Us), F(s.First.P999Us), F(s.First.MaxUs),
            F(s.First.JitterUs), s.First.Lost.ToString(), F(s.Last?.P50Us), F(s.Last?.P99Us), F(s.RelayCpuMicrosecondsPerCopy, "0.00"),
            F(s.KernelNanosecondsPerCopy, "0"), F(s.SyscallsPerPacket, "0.00"), F(s.MaxLossFree?.AchievedPps, "0"), F(s.MaxLossFree?.CopiesPerSecond, "0"),
        }).ToList();
        if (markdown)
        {
            text.AppendLine("| " + string.Join(" | ", header) + " |");
            text.AppendLine("|" + string.Concat(header.Select(_ => "---|")));
            foreach (var row in rows)
                text.AppendLine("| " + string.Join(" | ", row) + " |");
        }
        else
        {
            var widths = header.Select((h, i) => Math.Max(h.Length, rows.Select(r => r[i].Length).DefaultIfEmpty(0).Max())).ToArray();
            text.AppendLine(string.Join("  ", header.Select((h, i) => h.PadLeft(widths[i]))));
            foreach (var row in rows)
                text.AppendLine(string.Join("  ", row.Select((c, i) => c.PadLeft(widths[i]))));
        }
        text.AppendLine();
        text.AppendLine(markdown ? "| fan-out | fast/floor p50 | fast/floor p99 | userspace/fast p50 | userspace/fast p99 | userspace/fast CPU per copy | C relay/fast p50 | fast last/first p99 |" : "ratios (same run):");
        if (markdown)
            text.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var r in report.Ratios)
        {
            var cells = new[] { r.FanOut.ToString(), F(r.FastPathOverFloorP50), F(r.FastPathOverFloorP99), F(r.UserspaceOverFastPathP50), F(r.UserspaceOverFastPathP99),
                F(r.UserspaceOverFastPathCpuPerCopy), F(r.CRelayOverFastPathP50), F(r.LastOverFirstP99FastPath) };
            text.AppendLine(markdown
                ? "| " + string.Join(" | ", cells) + " |"
                : $"  fan-out {cells[0],2}: fast/floor p50 {cells[1]}x p99 {cells[2]}x; userspace/fast p50 {cells[3]}x p99 {cells[4]}x CPU/copy {cells[5]}x; C relay/fast p50 {cells[6]}x; fast last/first p99 {cells[7]}x");
        }
        return text.ToString();
    }

    private static string F(double? value, string format = "0.0") =>
        value is { } v && !double.IsNaN(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "-";
}
