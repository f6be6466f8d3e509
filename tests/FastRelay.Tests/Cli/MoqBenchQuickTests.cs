using System.CommandLine;
using System.Text.Json;
using FastRelay.Cli.Commands;
using FastRelay.Tests.Moq.Clients;
using Xunit;

namespace FastRelay.Tests.Cli;

/// <summary>`fastrelay bench --profile moq --quick --json out.json` end to end: a child `fastrelay moq relay`, real QUIC
/// subscribers, a report with every fan-out. Timings are not asserted (the machine is shared); completeness is. With
/// --no-floor (the kernel floor needs a lab; MoqBenchCompareTests and MoqFloorLabTests check it), the report says it
/// was skipped and why.</summary>
[Collection(MoqTimingCollection.Name)]
public sealed class MoqBenchQuickTests
{
    [Fact]
    public async Task The_quick_moq_bench_writes_a_report_with_latency_and_relay_cpu_per_fan_out()
    {
        var json = Path.Combine(Directory.CreateTempSubdirectory("fastrelay-moq-bench-").FullName, "out.json");
        try
        {
            var root = new RootCommand { BenchCommand.Create() };
            var exit = await root.Parse(["bench", "--profile", "moq", "--quick", "--no-floor", "--json", json])
                .InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });

            Assert.Equal(0, exit);
            var report = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
            var points = report.GetProperty("points").EnumerateArray().ToList();
            Assert.Equal([1, 4], points.Select(p => p.GetProperty("fanOut").GetInt32()));
            foreach (var p in points)
            {
                var fanOut = p.GetProperty("fanOut").GetInt32();
                Assert.Equal(fanOut, p.GetProperty("subscribersConnected").GetInt32());
                Assert.True(p.GetProperty("delivered").GetInt64() > 0, p.ToString());
                Assert.Equal(0, p.GetProperty("integrityFailures").GetInt64());
                Assert.Equal(0, p.GetProperty("duplicates").GetInt64());
                Assert.True(p.GetProperty("relayCpuNanoseconds").GetInt64() > 0, p.ToString());
                Assert.True(p.GetProperty("relayCpuNanosecondsPerByte").GetDouble() > 0, p.ToString());
                Assert.True(p.GetProperty("latencyP99Us").GetInt64() >= p.GetProperty("latencyP50Us").GetInt64());
            }
            Assert.Contains("moq relay", report.GetProperty("method").GetProperty("relay").GetString());
            Assert.Equal(0, report.GetProperty("sweep").GetArrayLength()); // --quick skips the sweep
            Assert.False(report.TryGetProperty("floor", out _));
            Assert.Equal("--no-floor", report.GetProperty("floorSkipped").GetString());
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(json)!, recursive: true);
        }
    }
}
