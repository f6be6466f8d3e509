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
            // The rate reported is the one achieved in the window (objects sent in it / its length), whatever was asked. On two
            // shared cores the publisher can stall for most of a 0.6 s window (8 objects/s was seen) or catch up after a stall,
            // so only "something was sent, and paced rather than flat out" is checked against the 200 asked.
            Assert.Equal(p.Expected, (long)Math.Round(p.PublishedObjectsPerSecond * options.DurationSeconds) * p.FanOut);
            Assert.True(p.PublishedObjectsPerSecond is >= 0 and <= 400, p.ToString());
            Assert.Equal((p.Expected, 0L, 0L, 0L), (p.Delivered, p.Lost, p.Duplicates, p.IntegrityFailures));
            Assert.True(p.RelayCpuNanoseconds > 0);
            if (p.Expected == 0)
            {
                // Under a loaded CI run the publisher (in this test process, on its thread pool) once sent nothing for the
                // whole window: such a point reports nothing and no per-object figures rather than invented ones.
                Assert.Null(p.RelayCpuNanosecondsPerObject);
                Assert.Null(p.RelayCpuNanosecondsPerByte);
                continue;
            }
            // 1.6 Mbit/s at 200 objects/s = 1000 bytes on average over whole groups (one large key object, then deltas). A stall
            // that leaves only a few objects in the window (3,478 bytes seen: mostly a key object) says nothing about sizes.
            if (p.Expected / p.FanOut >= 2 * options.GopFrames)
                Assert.InRange(p.MeanObjectBytes, 900, 1100);
            else
                Assert.True(p.MeanObjectBytes > 0);
            Assert.True(p.LatencyP50Us <= p.LatencyP99Us && p.LatencyP99Us <= p.LatencyMaxUs);
            Assert.NotNull(p.RelayCpuNanosecondsPerByte);
        }
        // A publisher that never sends would give empty windows everywhere: at least one point measured real deliveries.
        Assert.Contains(report.Points, p => p.Expected > 0);
        // The sweep stops at the first step that was not achieved (under 90% of the rate asked) or lost anything; the loss-free
        // figure is the achieved rate of the last step before it, never a rate asked. Which step a stall on this shared machine
        // breaks is not fixed, so the rule is checked for whatever happened; 100,000 objects/s is never achieved, so the sweep
        // cannot run past it.
        Assert.InRange(report.Sweep.Count, 1, 3);
        Assert.Equal(options.SweepRates.Take(report.Sweep.Count), report.Sweep.Select(s => s.RequestedObjectsPerSecond));
        static bool Achieved(MoqBenchSweepStep s) => s.Lost == 0 && s.PublishedObjectsPerSecond >= s.RequestedObjectsPerSecond * 0.9;
        Assert.All(report.Sweep.SkipLast(1), s => Assert.True(Achieved(s), $"the sweep went on after {s}"));
        Assert.False(Achieved(report.Sweep[^1]), $"the sweep stopped after an achieved step: {report.Sweep[^1]}");
        if (report.Sweep.Count == 3) Assert.True(report.Sweep[^1].PublishedObjectsPerSecond < 90_000);
        if (report.Sweep.Count == 1) Assert.Null(report.MaxLossFreeObjectsPerSecond);
        else Assert.Equal(report.Sweep[^2].PublishedObjectsPerSecond, report.MaxLossFreeObjectsPerSecond!.Value);

        var json = JsonDocument.Parse(report.ToJson()).RootElement;
        Assert.Equal(2, json.GetProperty("points").GetArrayLength());
        Assert.True(json.GetProperty("points")[1].GetProperty("latencyP99Us").GetInt64() >= 0);
        Assert.Contains("12.8", json.GetProperty("anchor").GetString());
        var table = MoqBenchTable.Format(report);
        Assert.Contains("cycles/byte", table);
        // The line says what the sweep found: a rate, or that even its first step was not loss-free (a stalled publisher
        // under a loaded CI run misses 90 % of 100 objects/s; seen).
        Assert.Contains(report.MaxLossFreeObjectsPerSecond is null ? "none of the sweep's rates was loss-free" : "highest loss-free rate achieved", table);
    }

    /// <summary>A fast-path relay whose kernel counts every delivered byte, and whose status at the window's closing edge
    /// is <paramref name="staleness"/> old, stamped with when it was really taken: its counters cover a stretch other than
    /// the window, as when <c>moq relay</c> answers the opening edge's request late under load.</summary>
    private sealed class SkewedKernelRelay(TimeSpan staleness) : IMoqBenchRelay
    {
        private readonly Lock _lock = new();
        private readonly List<(long AtUs, long Bytes, long Packets)> _history = [(0, 0, 0)];
        private int _reads;
        public MoqUrl Url { get; } = MoqUrl.Parse("moqt://127.0.0.1:1/");
        public bool FastPath => true;
        public string Description => "in-memory test relay with a kernel counter";
        public string Log => "";
        public ProcessCpuTime ReadCpu() => ProcessCpuTime.Read(Environment.ProcessId);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        public void OnDelivered(ReceivedObject o)
        {
            lock (_lock)
            {
                var (_, bytes, packets) = _history[^1];
                _history.Add((RealtimeClock.NowMicroseconds(TimeProvider.System), bytes + o.Payload.Length, packets + 1));
            }
        }

        public KernelForwarded? ReadKernelForwarded()
        {
            var at = RealtimeClock.NowMicroseconds(TimeProvider.System);
            if (Interlocked.Increment(ref _reads) % 2 == 0) at -= (long)staleness.TotalMicroseconds; // every closing edge
            lock (_lock)
            {
                var (_, bytes, packets) = _history.Last(h => h.AtUs <= at);
                return new KernelForwarded(bytes, packets, SnapshotUs: at);
            }
        }
    }

    [Fact]
    public async Task The_kernel_share_is_taken_over_the_stretch_the_relays_counters_cover()
    {
        // The kernel carries every byte, but the counters cover the 1 s window's first 0.6 s only: a share taken against the
        // whole window's bytes said 0.6 of a fast path that carried everything (CI saw a working fast path fail its 0.7 when
        // the relay answered the opening edge's status request late).
        var options = new MoqBenchOptions
        {
            FanOuts = [2], ObjectsPerSecond = 100, BitrateBitsPerSecond = 800_000, GopFrames = 10,
            WarmupSeconds = 0.2, DurationSeconds = 1, DrainSeconds = 0.2, RateSweep = false,
        };
        var relay = new SkewedKernelRelay(TimeSpan.FromMilliseconds(400));
        var connector = new InMemoryMoqConnector { Tamper = o => { relay.OnDelivered(o); return [o]; } };
        var report = await new MoqBenchRunner(options, connector, _ => Task.FromResult<IMoqBenchRelay>(relay)).RunAsync(CancellationToken.None);

        var p = Assert.Single(report.Points);
        Assert.True(p.Expected > 0 && p.Delivered == p.Expected, p.ToString());
        // Objects straddling a snapshot make a few percent either way (a key object is 4x a delta).
        Assert.True(p.KernelShare >= 0.9, p.ToString());
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
