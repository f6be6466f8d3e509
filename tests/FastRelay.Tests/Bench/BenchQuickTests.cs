using FastRelay.Cli.Bench;
using FastRelay.Tests.EndToEnd;
using FastRelay.Tests.Lab;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Bench;

/// <summary>`fastrelay bench --quick` works end to end: every path measured at every fan-out, JSON and plots written.
/// Nothing is asserted about timings: this proves the bench runs, docs/benchmarks.md holds the figures.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class BenchQuickTests(ITestOutputHelper output)
{
    [LabFact(needsClang: true)]
    public async Task The_quick_bench_measures_every_path_and_writes_json_and_plots()
    {
        var outDir = Directory.CreateTempSubdirectory("fastrelay-bench-test-").FullName;
        try
        {
            // The --quick settings as a user gets them: 1.5 s runs leave about 0.9 s of measured window after the handshake
            // and warm-up (with 1 s runs, a 0.4 s window sometimes saw no BPF run-time change at all).
            var options = BenchOptions.Quick(new BenchOptions { FanOuts = [1, 2], OutDir = outDir, Progress = output.WriteLine });

            var report = await new BenchRunner(options).RunAsync(CancellationToken.None);
            output.WriteLine(BenchTable.Format(report));

            Assert.Equal(8, report.Summaries.Count);
            foreach (var path in Enum.GetValues<BenchPath>())
            foreach (var fanOut in new[] { 1, 2 })
            {
                var summary = Assert.Single(report.Summaries, s => s.Path == path && s.FanOut == fanOut);
                Assert.True(summary.First.Received > 0, $"{path} at fan-out {fanOut} measured nothing");
                Assert.Equal(fanOut > 1, summary.Last is not null);
            }
            Assert.NotNull(report.Summaries.Single(s => s.Path == BenchPath.CRelay && s.FanOut == 2).SyscallsPerPacket);
            Assert.NotNull(report.Summaries.Single(s => s.Path == BenchPath.FastPath && s.FanOut == 2).KernelNanosecondsPerCopy);
            Assert.Equal(2, report.Ratios.Count);
            foreach (var file in new[] { "report.json", "delay-cdf.svg", "delay-vs-fanout.svg", "cpu-per-copy-vs-fanout.svg" })
                Assert.True(new FileInfo(Path.Combine(outDir, file)).Length > 200, file + " missing or empty");
            Assert.Contains("<polyline", File.ReadAllText(Path.Combine(outDir, "delay-cdf.svg")));
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }
}
