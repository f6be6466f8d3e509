using System.Text.Json;
using FastRelay.Cli.Bench.Moq;
using FastRelay.Protocols.Moq.Clients;
using FastRelay.Tests.Moq.Clients;
using Xunit;

namespace FastRelay.Tests.Cli;

/// <summary>`bench --profile moq`'s measuring logic over an in-memory relay (this process stands in for the relay's CPU),
/// and the /proc readers it relies on.</summary>
[Collection(MoqTimingCollection.Name)]
public sealed class MoqBenchTests
{
    private sealed class InProcessRelay : IMoqBenchRelay
    {
        public MoqUrl Url { get; } = MoqUrl.Parse("moqt://127.0.0.1:1/");
        public string Description => "in-memory test relay";
        public string Log => "";
        public ProcessCpuTime ReadCpu() => ProcessCpuTime.Read(Environment.ProcessId);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Fact]
    public async Task Every_fan_out_is_measured_with_nothing_lost_and_the_sweep_stops_at_the_first_unachieved_rate()
    {
        var options = new MoqBenchOptions
        {
            FanOuts = [1, 3], ObjectsPerSecond = 200, BitrateBitsPerSecond = 1_600_000, GopFrames = 20,
            WarmupSeconds = 0.2, DurationSeconds = 0.6, DrainSeconds = 0.2,
            RateSweep = true, SweepFanOut = 2, SweepRates = [100, 400, 100_000], SweepStepSeconds = 1,
        };
        // Each delivery costs 150 µs, as a relay would: 100,000 objects/s cannot be achieved, 400 can.
        var connector = new InMemoryMoqConnector { Tamper = o => { var until = System.Diagnostics.Stopwatch.GetTimestamp() + System.Diagnostics.Stopwatch.Frequency * 150 / 1_000_000; while (System.Diagnostics.Stopwatch.GetTimestamp() < until) { } return [o]; } };
        var runner = new MoqBenchRunner(options, connector, _ => Task.FromResult<IMoqBenchRelay>(new InProcessRelay()));

        var report = await runner.RunAsync(CancellationToken.None);

        Assert.Equal([1, 3], report.Points.Select(p => p.FanOut));
        foreach (var p in report.Points)
        {
            Assert.Equal(p.FanOut, p.SubscribersConnected);
            // The rate reported is the one achieved in the window (objects sent in it / its length), whatever was asked; on a
            // loaded machine the publisher can stall and catch up, so only a loose band around the 200 asked is checked.
            Assert.Equal(p.Expected, (long)Math.Round(p.PublishedObjectsPerSecond * options.DurationSeconds) * p.FanOut);
            Assert.True(p.PublishedObjectsPerSecond is >= 50 and <= 400, p.ToString());
            Assert.True(p.Expected > 0);
            Assert.Equal((p.Expected, 0L, 0L, 0L), (p.Delivered, p.Lost, p.Duplicates, p.IntegrityFailures));
            Assert.InRange(p.MeanObjectBytes, 900, 1100); // 1.6 Mbit/s at 200 objects/s = 1000 bytes
            Assert.True(p.LatencyP50Us <= p.LatencyP99Us && p.LatencyP99Us <= p.LatencyMaxUs);
            Assert.True(p.RelayCpuNanoseconds > 0);
            Assert.NotNull(p.RelayCpuNanosecondsPerByte);
        }
        // 100,000 objects/s cannot be sent: the sweep records it and stops; the loss-free figure is an achieved rate.
        Assert.True(report.Sweep.Count == 3, string.Join("; ", report.Sweep));
        Assert.Equal([100.0, 400, 100_000], report.Sweep.Select(s => s.RequestedObjectsPerSecond));
        Assert.True(report.Sweep[^1].PublishedObjectsPerSecond < 90_000);
        // The loss-free figure is the achieved rate of the last step without loss (400 asked), not the rate asked: a
        // publisher that stalled and caught up inside the window can exceed 400 a little, so only a band is checked.
        Assert.Equal(report.Sweep[1].PublishedObjectsPerSecond, report.MaxLossFreeObjectsPerSecond!.Value);
        Assert.InRange(report.MaxLossFreeObjectsPerSecond!.Value, 300, 600);

        var json = JsonDocument.Parse(report.ToJson()).RootElement;
        Assert.Equal(2, json.GetProperty("points").GetArrayLength());
        Assert.True(json.GetProperty("points")[1].GetProperty("latencyP99Us").GetInt64() >= 0);
        Assert.Contains("12.8", json.GetProperty("anchor").GetString());
        var table = MoqBenchTable.Format(report);
        Assert.Contains("cycles/byte", table);
        Assert.Contains("highest loss-free rate achieved", table);
    }

    [Fact]
    public void Process_cpu_time_agrees_with_the_runtimes_own_figure()
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        var runtimeBefore = self.TotalProcessorTime;
        var before = ProcessCpuTime.Read(Environment.ProcessId);
        var until = DateTime.UtcNow.AddMilliseconds(200);
        var x = 0UL;
        while (DateTime.UtcNow < until) x = x * 31 + 7;
        var spent = ProcessCpuTime.Difference(before, ProcessCpuTime.Read(Environment.ProcessId));
        self.Refresh();
        var runtimeSpent = (self.TotalProcessorTime - runtimeBefore).Ticks * 100;

        // The machine is shared, so the spin got some CPU, not all of it; both readings must agree on how much.
        Assert.True(spent > 10_000_000, $"only {spent} ns measured");
        Assert.InRange(spent, runtimeSpent * 0.8 - 20_000_000, runtimeSpent * 1.2 + 20_000_000);
        Assert.NotEqual(1UL, x);
    }

    [Fact]
    public void Difference_falls_back_to_ticks_when_threads_took_their_schedstat_time_with_them()
    {
        var before = new ProcessCpuTime(ScheduledNanoseconds: 1_000_000_000, TickNanoseconds: 1_000_000_000);
        Assert.Equal(500_000_000, ProcessCpuTime.Difference(before, new ProcessCpuTime(1_500_000_000, 1_510_000_000)));
        Assert.Equal(900_000_000, ProcessCpuTime.Difference(before, new ProcessCpuTime(1_200_000_000, 1_900_000_000)));
    }

    [Fact]
    public void The_cpu_clock_is_read_when_the_machine_states_it()
    {
        if (CpuFrequency.Read() is { } f) Assert.InRange(f.Mhz, 100, 10_000);
    }
}
