using System.CommandLine;
using System.Text.Json;
using FastRelay.Cli.Commands;
using FastRelay.Tests.Lab;
using FastRelay.Tests.Moq.Clients;
using Xunit;

namespace FastRelay.Tests.Cli;

/// <summary>
/// `fastrelay bench --profile moq --relay-mode compare --quick`: the userspace relay and the fast-path relay measured in
/// one lab with the same clients (the bench's publisher and subscribers started inside the lab's namespaces), and the
/// comparison rows. Timings and ratios are not asserted (the machine is shared); that both runs delivered everything,
/// and that the kernel carried the fast-path run's media, are.
/// </summary>
[Collection(MoqTimingCollection.Name)]
public sealed class MoqBenchCompareTests
{
    [LabFact(needsClang: true)]
    public async Task The_compare_mode_measures_both_relays_in_one_lab_and_the_kernel_carries_the_fast_path_run()
    {
        var json = Path.Combine(Directory.CreateTempSubdirectory("fastrelay-moq-compare-").FullName, "out.json");
        try
        {
            var root = new RootCommand { BenchCommand.Create() };
            var exit = await root.Parse(["bench", "--profile", "moq", "--relay-mode", "compare", "--quick", "--json", json])
                .InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
            Assert.Equal(0, exit);

            var report = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
            foreach (var (run, fastPath) in new[] { ("userspace", false), ("fastPath", true) })
            {
                var r = report.GetProperty(run);
                Assert.Contains(fastPath ? "--mode fastpath" : "--mode userspace", r.GetProperty("method").GetProperty("relay").GetString());
                foreach (var p in r.GetProperty("points").EnumerateArray())
                {
                    Assert.Equal(p.GetProperty("fanOut").GetInt32(), p.GetProperty("subscribersConnected").GetInt32());
                    Assert.True(p.GetProperty("delivered").GetInt64() > 0, p.ToString());
                    Assert.Equal(0, p.GetProperty("lost").GetInt64());
                    Assert.Equal(0, p.GetProperty("integrityFailures").GetInt64());
                    // Counted by a BPF counter on the relay's tgid: a relay never makes zero syscalls in a window.
                    Assert.True(p.GetProperty("relaySyscalls").GetInt64() > 0, p.ToString());
                    if (fastPath)
                    {
                        // A broken fast path carries nothing; a working one 97-100 % on a quiet machine. Under a loaded
                        // test run a group's first packets can race its stream mapping (userspace sends those), and a
                        // 2 s window holds few groups: 0.79-0.89 was seen at load 20-37.
                        Assert.True(p.GetProperty("kernelShare").GetDouble() >= 0.7, p.ToString());
                        Assert.True(p.GetProperty("kernelForwardedPackets").GetInt64() > 0, p.ToString());
                        Assert.True(p.GetProperty("relaySyscallsPerKernelPacket").GetDouble() > 0, p.ToString());
                        // The TC programs' own time (bpf_stats, on for the run): some per packet, and added to the relay's.
                        Assert.True(p.GetProperty("kernelNanosecondsPerPacket").GetDouble() > 0, p.ToString());
                        Assert.True(p.GetProperty("relayCpuWithKernelNanosecondsPerObject").GetDouble() > p.GetProperty("relayCpuNanosecondsPerObject").GetDouble(), p.ToString());
                    }
                    else
                        Assert.False(p.TryGetProperty("kernelShare", out _), p.ToString());
                }
            }
            var rows = report.GetProperty("rows").EnumerateArray().ToList();
            Assert.Equal([1, 4], rows.Select(r => r.GetProperty("fanOut").GetInt32()));
            Assert.All(rows, r => Assert.True(r.GetProperty("p50Ratio").GetDouble() > 0 && r.GetProperty("cpuPerCopyRatio").GetDouble() > 0, r.ToString()));
            // The fast path's CPU per copy in the ratio is the one with its kernel time.
            var fastPoints = report.GetProperty("fastPath").GetProperty("points").EnumerateArray().ToList();
            Assert.All(rows, r => Assert.Equal(fastPoints.Single(p => p.GetProperty("fanOut").GetInt32() == r.GetProperty("fanOut").GetInt32())
                .GetProperty("relayCpuWithKernelNanosecondsPerObject").GetDouble(), r.GetProperty("fastPathNsPerObject").GetDouble()));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(json)!, recursive: true);
        }
    }
}
