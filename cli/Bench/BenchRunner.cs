using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using CliWrap;
using FastRelay.Cli.Bench.Native;
using FastRelay.Cli.Commands;
using FastRelay.Cli.Lab;
using FastRelay.Cli.Relay;
using FastRelay.Cli.Scenario;
using FastRelay.Protocols.CustomUdp.Relay;

namespace FastRelay.Cli.Bench;

/// <summary>
/// Runs the benchmark: one lab (publisher, 2-interface relay, as many subscribers as the largest fan-out), then for each
/// fan-out and path the same paced stream from the native sender, measured by native receivers on the first and the
/// last subscriber, repeated, medians reported. Every process runs in its own namespace, as in production.
/// </summary>
public sealed class BenchRunner(BenchOptions options)
{
    private const int Port = 7400;
    private const ushort Channel = 1;
    private const int SenderCpu = 0;
    private const int RelayCpu = 1;

    /// <summary>Subscribers that are not measured drain their socket this often instead of waking per packet: on a real
    /// network they run on their own hosts, here they would share the relay's two CPUs.</summary>
    private const int UnmeasuredDrainMs = 10;

    public async Task<BenchReport> RunAsync(CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var work = Directory.CreateTempSubdirectory("fastrelay-bench-").FullName;
        try
        {
            Progress("building the native tools (sender, receiver, C relay, clone floor)");
            var tools = await BenchTools.BuildAsync(Path.Combine(work, "tools"), cancellationToken);
            var maxFanOut = options.FanOuts.Max();
            Progress($"lab up: publisher, relay (2 interfaces), {maxFanOut} subscribers");
            await using var lab = await LabTopology.UpAsync(new LabOptions { Subscribers = maxFanOut, RelayInterfaces = 2 }, cancellationToken);
            using var bpfStats = BpfStatsSwitch.TurnOn(Progress);

            var samples = new List<BenchSample>();
            var summaries = new List<BenchSummary>();
            foreach (var fanOut in options.FanOuts)
            foreach (var path in options.Paths)
            {
                var runs = new List<BenchSample>();
                for (var repetition = 0; repetition < options.Repetitions; repetition++)
                {
                    Progress($"fan-out {fanOut,2}  {path,-9}  run {repetition + 1}/{options.Repetitions}");
                    runs.Add(await RunOnceAsync(lab, tools, path, fanOut, repetition, options.RatePps, work, cancellationToken));
                }
                samples.AddRange(runs);
                BenchSweepStep? maxRate = options.RateSweep ? await SweepAsync(lab, tools, path, fanOut, work, cancellationToken) : null;
                summaries.Add(Summarise(path, fanOut, runs, maxRate));
            }

            var report = new BenchReport(started, MachineDescription(), Method(), samples, summaries, Ratios(summaries));
            if (options.OutDir is { } outDir)
                BenchPlots.Write(report, outDir);
            return report;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private async Task<BenchSample> RunOnceAsync(LabNetwork lab, BenchToolPaths tools, BenchPath path, int fanOut, int repetition, int rate,
        string work, CancellationToken cancellationToken)
    {
        var subscribers = lab.Subscribers.Take(fanOut).ToList();
        var relayDown = lab.RelayDownstream.IPv4;
        var relayUp = lab.RelayUpstream.IPv4;
        var duration = options.DurationSeconds;
        var fastRelay = path is BenchPath.FastPath or BenchPath.Userspace;

        // 1. The relay of this path.
        RelayProcess? relay = null;
        CloneFloor? floor = null;
        CommandTask<CommandResult>? cRelay = null;
        var cRelayOut = new StringBuilder();
        if (fastRelay)
        {
            relay = RelayProcess.Start(lab, path == BenchPath.FastPath ? RelayMode.FastPath : RelayMode.Userspace, lab.BpfFsPath, cpu: RelayCpu);
            await relay.WaitReadyAsync(TimeSpan.FromSeconds(30), cancellationToken);
        }
        else if (path == BenchPath.CRelay)
        {
            var targets = string.Join(',', subscribers.Select(s => $"{s.IPv4}:{Port}"));
            cRelay = lab.Command(lab.Relay, tools.Relay, ["--port", Port.ToString(), "--subscribers", targets, "--cpu", RelayCpu.ToString()])
                .WithStandardOutputPipe(PipeTarget.ToStringBuilder(cRelayOut))
                .WithValidation(CommandResultValidation.None)
                .ExecuteAsync(CancellationToken.None);
            await Task.Delay(300, cancellationToken);
        }
        else if (fanOut > 1)
        {
            floor = await CloneFloor.AttachAsync(lab, tools.CloneFloorObject, Port, subscribers.Select(s => new IPEndPoint(s.IPv4, Port)).ToList(), cancellationToken);
        }

        // 2. Receivers: the first and the last subscriber measure; the others only keep their subscription alive.
        var measured = fanOut == 1 ? new[] { 0 } : new[] { 0, fanOut - 1 };
        var samplesFile = Path.Combine(work, $"delays-{path}-{fanOut}-{repetition}.bin");
        var receivers = subscribers.Select((host, i) =>
        {
            var args = new List<string>
            {
                "--bind", $"{host.IPv4}:{Port}", "--duration", Fmt(duration + 2.0), "--warmup", Fmt(options.WarmupSeconds),
            };
            if (fastRelay)
                args.AddRange(["--subscribe", $"{relayDown}:{Port}", "--channel", Channel.ToString()]);
            if (!measured.Contains(i))
                args.AddRange(["--drain-ms", UnmeasuredDrainMs.ToString()]);
            else if (!options.BusyPoll)
                args.Add("--block");
            if (i == 0)
                args.AddRange(["--samples", samplesFile]);
            var output = new StringBuilder();
            var task = lab.Command(host, tools.Receive, args)
                .WithStandardOutputPipe(PipeTarget.ToStringBuilder(output))
                .WithValidation(CommandResultValidation.None)
                .ExecuteAsync(cancellationToken);
            return (Index: i, Task: task, Output: output);
        }).ToList();
        await Task.Delay(fastRelay ? 1200 : 400, cancellationToken);

        // 3. The stream. First let the bridge learn where every subscriber is: receivers that never send (floor, C relay)
        // would otherwise have their copies flooded to every port of the lab's bridge, a cost no real network has.
        await PrimeBridgeAsync(lab, subscribers, relayDown);
        var sendTarget = path switch
        {
            BenchPath.Floor when fanOut == 1 => $"{subscribers[0].IPv4}:{Port}",
            _ => $"{relayUp}:{Port}",
        };
        var sendArgs = new List<string>
        {
            "--to", sendTarget, "--channel", Channel.ToString(), "--rate", rate.ToString(), "--size", options.PacketSize.ToString(),
            "--duration", Fmt(duration), "--cpu", SenderCpu.ToString(), "--priority", "0",
            // Sleep until 100 µs before each send, then spin: precise pacing without taking a whole core from the relay.
            "--spin-us", "100",
        };
        if (fastRelay)
            sendArgs.Add("--publish");
        var sendOut = new StringBuilder();
        var sender = lab.Command(lab.Publisher, tools.Send, sendArgs)
            .WithStandardOutputPipe(PipeTarget.ToStringBuilder(sendOut))
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(cancellationToken);
        // Costs are counted over the stream after its warm-up (handshake, JIT tier-up and cold caches are not per-copy costs).
        var handshake = fastRelay ? 0.3 : 0.0;
        await Task.Delay(TimeSpan.FromSeconds(handshake + options.WarmupSeconds), cancellationToken);
        var (statsBefore, cpuBefore) = await KernelAndRelayCost(lab, path, relay, floor, cRelay);
        var measuredFrom = DateTime.UtcNow;
        await sender;
        var (statsAfter, cpuAfter) = await KernelAndRelayCost(lab, path, relay, floor, cRelay);
        var measuredSeconds = (DateTime.UtcNow - measuredFrom).TotalSeconds;
        var sendReport = JsonDocument.Parse(LastJsonLine(sendOut)).RootElement;
        var sent = sendReport.GetProperty("sent").GetInt64();
        var sentRate = sendReport.GetProperty("rate").GetDouble();

        // 4. Collect.
        await Task.WhenAll(receivers.Select(r => r.Task.Task));
        var results = receivers.Where(r => measured.Contains(r.Index))
            .Select(r => JsonSerializer.Deserialize<ReceiverMeasurement>(LastJsonLine(r.Output))!)
            .ToList();
        double? syscalls = null;
        if (relay is not null)
            await relay.StopAsync();
        if (cRelay is not null)
        {
            ProcessSignals.Terminate(cRelay.ProcessId); // it prints its counters and exits
            await cRelay;
            syscalls = JsonDocument.Parse(LastJsonLine(cRelayOut)).RootElement.GetProperty("syscalls_per_packet").GetDouble();
        }
        floor?.Dispose();

        var copies = Math.Max(1L, (long)(Math.Min(sent, rate * measuredSeconds) * fanOut));
        double? kernelNs = statsAfter.RunTimeNs > statsBefore.RunTimeNs ? (statsAfter.RunTimeNs - statsBefore.RunTimeNs) / (double)copies : null;
        double? cpuUs = cpuAfter is { } a && cpuBefore is { } b ? (a - b) * 1e6 / copies + (kernelNs ?? 0) / 1000 : kernelNs / 1000;
        return new BenchSample(path, fanOut, repetition, sent, sentRate, results[0], results.Count > 1 ? results[1] : null, cpuUs, kernelNs, syscalls,
            File.Exists(samplesFile) ? samplesFile : null);
    }

    private static async Task PrimeBridgeAsync(LabNetwork lab, IReadOnlyList<LabHost> subscribers, IPAddress relay)
    {
        foreach (var host in subscribers)
        {
            using var socket = lab.UdpSocket(host, System.Net.Sockets.AddressFamily.InterNetwork);
            socket.SendTo(new byte[1], new IPEndPoint(relay, 9)); // discard port: only the frame's source MAC matters
        }
        await Task.Delay(20);
    }

    /// <summary>Cumulative BPF run time of the path's programs (bpf_stats) and the relay process's CPU seconds.</summary>
    private static async Task<((long RunTimeNs, long RunCount) Bpf, double? ProcessCpuSeconds)> KernelAndRelayCost(LabNetwork lab, BenchPath path,
        RelayProcess? relay, CloneFloor? floor, CommandTask<CommandResult>? cRelay)
    {
        (long, long) bpf = (0, 0);
        if (floor is not null)
            bpf = floor.RunStats();
        else if (path == BenchPath.FastPath && relay is not null)
            bpf = await ProgramStats(relay, lab);
        var pid = relay?.ProcessId ?? cRelay?.ProcessId;
        return (bpf, pid is { } p ? ProcessCpuSeconds(p) : null);
    }

    /// <summary>run_time_ns / run_cnt of the relay's upstream ingress program (its id is in the relay's status). Only that
    /// one: the egress program runs inside bpf_clone_redirect, so its time is already part of the ingress program's, and
    /// adding both would count every copy twice.</summary>
    private static async Task<(long, long)> ProgramStats(RelayProcess relay, LabNetwork lab)
    {
        var status = RelayStatus.FromJson(await File.ReadAllTextAsync(RelayCommand.StatusFile(lab.Prefix)));
        var ids = status?.Attachments.Where(a => a.StartsWith("fr_upstream_ingress ", StringComparison.Ordinal))
            .Select(a => a[(a.LastIndexOf("prog ", StringComparison.Ordinal) + 5)..].TrimEnd(')')).ToHashSet() ?? [];
        var json = (await CliWrap.Buffered.BufferedCommandExtensions.ExecuteBufferedAsync(CliWrap.Cli.Wrap("bpftool").WithArguments(["-j", "prog", "show"]))).StandardOutput;
        long time = 0, count = 0;
        foreach (var prog in JsonDocument.Parse(json).RootElement.EnumerateArray())
        {
            if (!ids.Contains(prog.GetProperty("id").GetInt64().ToString()))
                continue;
            if (prog.TryGetProperty("run_time_ns", out var t)) time += t.GetInt64();
            if (prog.TryGetProperty("run_cnt", out var c)) count += c.GetInt64();
        }
        return (time, count);
    }

    /// <summary>The process's CPU time: the sum over its threads of /proc/PID/task/TID/schedstat's time on CPU (ns). utime
    /// and stime count 10 ms ticks, which for a relay that is nearly idle in a 5 s run is the whole figure.</summary>
    private static double? ProcessCpuSeconds(int pid)
    {
        try
        {
            long ns = 0;
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                try
                {
                    var schedstat = File.ReadAllText(Path.Combine(task, "schedstat"));
                    ns += long.Parse(schedstat[..schedstat.IndexOf(' ')], CultureInfo.InvariantCulture);
                }
                catch (IOException)
                {
                    // the thread ended between listing and reading
                }
            }
            return ns / 1e9;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Doubles the rate until a step is not clean (the measured receivers see more than 0.1 % loss, or the sender did
    /// not achieve 90 % of the rate asked); returns the last clean step with the rate achieved, never the rate asked.</summary>
    private async Task<BenchSweepStep?> SweepAsync(LabNetwork lab, BenchToolPaths tools, BenchPath path, int fanOut, string work, CancellationToken cancellationToken)
    {
        var steps = new List<BenchSweepStep>();
        for (var rate = 2000; rate <= 256_000; rate *= 2)
        {
            Progress($"fan-out {fanOut,2}  {path,-9}  sweep {rate} pps");
            var sample = await RunOnceAsync(lab, tools, path, fanOut, -1, rate, work, cancellationToken);
            var step = RateSweep.Judge(rate, fanOut, sample.Sent, sample.SentRatePps, sample.Last is null ? [sample.First] : [sample.First, sample.Last]);
            steps.Add(step);
            Progress($"fan-out {fanOut,2}  {path,-9}  sweep {rate} pps asked: {step.AchievedPps:0} pps sent, {step.CopiesPerSecond:0} copies/s, loss {step.LossFraction:P2}");
            if (!step.IsClean)
                break;
        }
        return RateSweep.HighestClean(steps);
    }

    private static BenchSummary Summarise(BenchPath path, int fanOut, List<BenchSample> runs, BenchSweepStep? maxRate)
    {
        static double Median(IEnumerable<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
        }
        static ReceiverMeasurement MedianOf(IReadOnlyList<ReceiverMeasurement> m) => new(
            (long)Median(m.Select(x => (double)x.Received)), (long)Median(m.Select(x => (double)x.Lost)), (long)Median(m.Select(x => (double)x.Duplicates)),
            Median(m.Select(x => x.P50Us)), Median(m.Select(x => x.P90Us)), Median(m.Select(x => x.P99Us)), Median(m.Select(x => x.P999Us)),
            Median(m.Select(x => x.MaxUs)), Median(m.Select(x => x.MeanUs)), Median(m.Select(x => x.JitterUs)));
        double? MedianOrNull(Func<BenchSample, double?> f) => runs.Select(f).Where(v => v.HasValue).Select(v => v!.Value).ToList() is { Count: > 0 } l ? Median(l) : null;
        var lasts = runs.Where(r => r.Last is not null).Select(r => r.Last!).ToList();
        return new BenchSummary(path, fanOut, MedianOf(runs.Select(r => r.First).ToList()), lasts.Count > 0 ? MedianOf(lasts) : null,
            MedianOrNull(r => r.RelayCpuMicrosecondsPerCopy), MedianOrNull(r => r.KernelNanosecondsPerCopy), MedianOrNull(r => r.SyscallsPerPacket), maxRate);
    }

    private static IReadOnlyList<BenchRatios> Ratios(IReadOnlyList<BenchSummary> summaries) =>
        summaries.GroupBy(s => s.FanOut).Select(g =>
        {
            BenchSummary? Of(BenchPath p) => g.FirstOrDefault(s => s.Path == p);
            static double? Ratio(double? a, double? b) => a is { } x && b is { } y && y > 0 ? Math.Round(x / y, 2) : null;
            var fast = Of(BenchPath.FastPath);
            var floor = Of(BenchPath.Floor);
            var user = Of(BenchPath.Userspace);
            var c = Of(BenchPath.CRelay);
            return new BenchRatios(g.Key,
                Ratio(fast?.First.P50Us, floor?.First.P50Us), Ratio(fast?.First.P99Us, floor?.First.P99Us),
                Ratio(user?.First.P50Us, fast?.First.P50Us), Ratio(user?.First.P99Us, fast?.First.P99Us),
                Ratio(user?.RelayCpuMicrosecondsPerCopy, fast?.RelayCpuMicrosecondsPerCopy),
                Ratio(c?.First.P50Us, fast?.First.P50Us), Ratio(fast?.Last?.P99Us, fast?.First.P99Us));
        }).ToList();

    private BenchMethod Method() => new(options.RatePps, options.PacketSize, options.DurationSeconds, options.WarmupSeconds, options.Repetitions,
        options.BusyPoll,
        $"sender on CPU {SenderCpu}, relay process on CPU {RelayCpu}; receivers unpinned ({Environment.ProcessorCount} CPUs); " +
        $"subscribers other than the first and last drain their socket every {UnmeasuredDrainMs} ms",
        "tx checksum offload off on every lab interface",
        "CLOCK_MONOTONIC in the packet header at send, read by the receiver right after recvmmsg returns");

    private static string MachineDescription() =>
        $"{Environment.ProcessorCount} CPUs, {Environment.OSVersion}, kernel {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}";

    private static string LastJsonLine(StringBuilder output) =>
        output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.TrimStart().StartsWith('{'))
        ?? throw new InvalidOperationException("no JSON result from a bench tool: " + output);

    private static string Fmt(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);

    private void Progress(string line) => options.Progress?.Invoke(line);
}
