using System.Globalization;
using System.Text;

namespace FastRelay.Cli.Bench;

/// <summary>
/// Writes the report's figures as SVG (no plotting dependency): delay CDFs per path at the smallest fan-out, delay vs
/// fan-out, and CPU per copy vs fan-out, plus report.json. SVG opens in any browser and renders on GitHub.
/// </summary>
public static class BenchPlots
{
    private static readonly Dictionary<BenchPath, string> Colours = new()
    {
        [BenchPath.Floor] = "#777777",
        [BenchPath.FastPath] = "#d62728",
        [BenchPath.Userspace] = "#1f77b4",
        [BenchPath.CRelay] = "#2ca02c",
    };

    public static void Write(BenchReport report, string outDir)
    {
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "report.json"), report.ToJson());
        WriteCdf(report, Path.Combine(outDir, "delay-cdf.svg"));
        WriteVersusFanOut(report, Path.Combine(outDir, "delay-vs-fanout.svg"), "one-way delay (µs), first subscriber: p50 solid, p99 dashed",
            s => s.First.P50Us, s => s.First.P99Us);
        WriteVersusFanOut(report, Path.Combine(outDir, "cpu-per-copy-vs-fanout.svg"), "relay CPU per delivered copy (µs)",
            s => s.RelayCpuMicrosecondsPerCopy, null);
    }

    private static void WriteCdf(BenchReport report, string file)
    {
        var fanOut = report.Samples.Min(s => s.FanOut);
        var series = new List<(string Name, string Colour, double[] X, double[] Y)>();
        foreach (var group in report.Samples.Where(s => s.FanOut == fanOut && s.DelaySamplesFile is not null).GroupBy(s => s.Path))
        {
            var delays = group.SelectMany(s => ReadDelays(s.DelaySamplesFile!)).Order().ToArray();
            if (delays.Length == 0)
                continue;
            var points = Math.Min(400, delays.Length);
            var x = new double[points];
            var y = new double[points];
            for (var i = 0; i < points; i++)
            {
                var q = (i + 1) / (double)points;
                x[i] = delays[Math.Min(delays.Length - 1, (int)(q * delays.Length))] / 1000.0;
                y[i] = q;
            }
            series.Add((group.Key.ToString(), Colours[group.Key], x, y));
        }
        File.WriteAllText(file, Svg($"delay CDF, fan-out {fanOut} (µs, log scale)", series, logX: true, yLabel: "fraction"));
    }

    private static IEnumerable<double> ReadDelays(string file)
    {
        if (!File.Exists(file))
            yield break;
        var bytes = File.ReadAllBytes(file);
        for (var i = 0; i + 8 <= bytes.Length; i += 8)
            yield return BitConverter.ToUInt64(bytes, i);
    }

    private static void WriteVersusFanOut(BenchReport report, string file, string title, Func<BenchSummary, double?> solid, Func<BenchSummary, double?>? dashed)
    {
        var series = new List<(string, string, double[], double[])>();
        foreach (var group in report.Summaries.GroupBy(s => s.Path))
        {
            foreach (var (f, suffix) in new[] { (solid, ""), (dashed, " p99") })
            {
                if (f is null)
                    continue;
                var points = group.Where(s => f(s).HasValue).OrderBy(s => s.FanOut).ToList();
                if (points.Count > 0)
                    series.Add((group.Key + suffix, Colours[group.Key], points.Select(p => (double)p.FanOut).ToArray(), points.Select(p => f(p)!.Value).ToArray()));
            }
        }
        File.WriteAllText(file, Svg(title, series, logX: true, yLabel: "", logY: true));
    }

    private static string Svg(string title, List<(string Name, string Colour, double[] X, double[] Y)> series, bool logX, string yLabel, bool logY = false)
    {
        const double W = 720, H = 420, L = 70, R = 160, T = 40, B = 50;
        var all = series.SelectMany(s => s.X.Zip(s.Y)).Where(p => (!logX || p.First > 0) && (!logY || p.Second > 0)).ToList();
        if (all.Count == 0)
            return $"<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{H}'><text x='20' y='30'>{title}: no data</text></svg>";
        double Tx(double v) => logX ? Math.Log10(v) : v;
        double Ty(double v) => logY ? Math.Log10(v) : v;
        var (x0, x1) = (all.Min(p => Tx(p.First)), all.Max(p => Tx(p.First)));
        var (y0, y1) = (logY ? all.Min(p => Ty(p.Second)) : 0, all.Max(p => Ty(p.Second)));
        if (x1 - x0 < 1e-9) { x0 -= 0.5; x1 += 0.5; }
        if (y1 - y0 < 1e-9) { y1 = y0 + 1; }
        string Px(double v) => (L + (Tx(v) - x0) / (x1 - x0) * (W - L - R)).ToString("0.0", CultureInfo.InvariantCulture);
        string Py(double v) => (H - B - (Ty(v) - y0) / (y1 - y0) * (H - T - B)).ToString("0.0", CultureInfo.InvariantCulture);
        var svg = new StringBuilder();
        svg.Append($"<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{H}' font-family='sans-serif' font-size='12'>");
        svg.Append($"<rect width='{W}' height='{H}' fill='white'/><text x='{L}' y='24' font-size='14'>{title}</text>");
        svg.Append($"<line x1='{L}' y1='{H - B}' x2='{W - R}' y2='{H - B}' stroke='black'/><line x1='{L}' y1='{T}' x2='{L}' y2='{H - B}' stroke='black'/>");
        foreach (var tick in Ticks(x0, x1, logX))
            svg.Append($"<text x='{Px(tick)}' y='{H - B + 16}' text-anchor='middle'>{tick.ToString("0.##", CultureInfo.InvariantCulture)}</text>");
        foreach (var tick in Ticks(y0, y1, logY))
            svg.Append($"<text x='{L - 6}' y='{Py(tick)}' text-anchor='end'>{tick.ToString("0.##", CultureInfo.InvariantCulture)}</text>");
        svg.Append($"<text x='14' y='{T + 10}'>{yLabel}</text>");
        var legend = 0;
        foreach (var (name, colour, xs, ys) in series)
        {
            var dash = name.EndsWith(" p99") ? " stroke-dasharray='5,4'" : "";
            var points = string.Join(' ', xs.Zip(ys).Where(p => (!logX || p.First > 0) && (!logY || p.Second > 0)).Select(p => $"{Px(p.First)},{Py(p.Second)}"));
            svg.Append($"<polyline fill='none' stroke='{colour}' stroke-width='2'{dash} points='{points}'/>");
            svg.Append($"<line x1='{W - R + 10}' y1='{T + 14 + legend * 18}' x2='{W - R + 34}' y2='{T + 14 + legend * 18}' stroke='{colour}' stroke-width='2'{dash}/>");
            svg.Append($"<text x='{W - R + 40}' y='{T + 18 + legend * 18}'>{name}</text>");
            legend++;
        }
        svg.Append("</svg>");
        return svg.ToString();
    }

    private static IEnumerable<double> Ticks(double lo, double hi, bool log)
    {
        if (log)
        {
            for (var e = Math.Floor(lo); e <= Math.Ceiling(hi); e++)
            {
                var v = Math.Pow(10, e);
                if (Math.Log10(v) >= lo - 1e-9 && Math.Log10(v) <= hi + 1e-9)
                    yield return v;
            }
            yield break;
        }
        for (var i = 0; i <= 4; i++)
            yield return lo + (hi - lo) * i / 4;
    }
}
