using FastRelay.Cli.Bench.Native;
using FastRelay.Protocols.Moq.Clients;

namespace FastRelay.Cli.Bench.Moq;

/// <summary>
/// `fastrelay bench --profile moq`: the userspace MoQ relay on loopback (a child `fastrelay moq relay` by default, so
/// its CPU is its own), one publisher of a video-like track and N subscribers, each its own QUIC connection, in this
/// process. For each fan-out: warm-up, a measured window, a drain; one-way latency of every object delivered in the
/// window (CLOCK_REALTIME stamped by the publisher before the write, read by the subscriber when the object
/// completed), objects lost, relay CPU over the window per delivered object and per delivered payload byte (and in
/// cycles at the CPU's clock). Then a sweep for the highest object rate delivered without loss.
/// </summary>
public sealed class MoqBenchRunner(MoqBenchOptions options, IMoqClientConnector connector, Func<CancellationToken, Task<IMoqBenchRelay>> startRelay)
{
    private const int ConnectConcurrency = 8;
    private static readonly TimeProvider Time = TimeProvider.System;

    public async Task<MoqBenchReport> RunAsync(CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var frequency = CpuFrequency.Read();
        Progress("starting the relay");
        await using var relay = await startRelay(cancellationToken);
        Progress($"relay: {relay.Description} at {relay.Url}");
        // The fast path's kernel time (its TC programs run in softirq, charged to no relay thread) is counted only while
        // bpf_stats is on; on for this run, then back as it was.
        using var bpfStats = relay.FastPath ? FastRelay.Cli.Bench.BpfStatsSwitch.TurnOn(Progress) : null;
        using var syscalls = await StartSyscallCounterAsync(relay, cancellationToken);

        var points = new List<MoqBenchPoint>();
        var track = TrackOptions(options);
        if (options.RelayWarmupSeconds > 0)
        {
            // A relay process just started pays one-time costs on its first connections and first tapped streams (first
            // handshakes, the first slot activation and stream mappings, code run for the first time). Paid inside the
            // first measured point, they made it measure the start-up: on a loaded machine (the relay getting ~5 % of a
            // CPU) the fast path's first point had 0.02-0.69 of its bytes from the kernel, every later one ~1.0. Nothing
            // of this pass is reported; every point after it starts with new connections and a new track as before.
            Progress($"warming the relay up: fan-out 1, {options.RelayWarmupSeconds} s, not measured");
            await MeasureAsync(relay, syscalls, 1, track, options.WarmupSeconds, options.RelayWarmupSeconds, frequency?.Mhz, cancellationToken);
        }
        foreach (var fanOut in options.FanOuts)
        {
            Progress($"fan-out {fanOut,2}: {options.ObjectsPerSecond} objects/s, {options.BitrateBitsPerSecond / 1e6:0.###} Mbit/s, {options.DurationSeconds} s window");
            var point = await MeasureAsync(relay, syscalls, fanOut, track, options.WarmupSeconds, options.DurationSeconds, frequency?.Mhz, cancellationToken);
            Progress($"fan-out {fanOut,2}: p50 {point.LatencyP50Us} µs, p99 {point.LatencyP99Us} µs, lost {point.Lost}, relay {point.RelayCpuPercent:0.#} % CPU, " +
                     $"{point.RelayCpuNanosecondsPerByte:0.##} ns/byte");
            if (point.Expected == 0)
                Progress($"fan-out {fanOut,2}: the publisher sent nothing in the window (a stalled machine?): this point measures nothing");
            points.Add(point);
        }

        var sweep = new List<MoqBenchSweepStep>();
        double? maxLossFree = null;
        if (options.RateSweep)
        {
            foreach (var rate in options.SweepRates)
            {
                var sweepTrack = new SyntheticTrackOptions
                {
                    FramesPerSecond = rate, BitrateBitsPerSecond = (long)(rate * options.SweepObjectBytes * 8), GopFrames = Math.Max(1, (int)(rate / 2)),
                    KeyFrameRatio = 1, Layout = SubgroupLayout.PerGroup,
                };
                var p = await MeasureAsync(relay, syscalls, options.SweepFanOut, sweepTrack, options.WarmupSeconds, options.SweepStepSeconds, frequency?.Mhz, cancellationToken);
                var perSubscriber = p.Delivered / (double)Math.Max(1, options.SweepFanOut) / options.SweepStepSeconds;
                sweep.Add(new MoqBenchSweepStep(rate, p.PublishedObjectsPerSecond, Math.Round(perSubscriber, 1), p.Lost, p.LatencyP99Us, p.RelayCpuPercent));
                Progress($"sweep {rate,6} objects/s asked: {p.PublishedObjectsPerSecond:0} sent, {perSubscriber:0} delivered per subscriber, lost {p.Lost}, p99 {p.LatencyP99Us} µs");
                // Loss-free and the publisher really sent at about that rate (otherwise the rate was not achieved).
                if (p.Lost > 0 || p.IntegrityFailures > 0 || p.SubscribersConnected < options.SweepFanOut || p.PublishedObjectsPerSecond < rate * 0.9) break;
                maxLossFree = Math.Round(perSubscriber, 1);
            }
        }

        var method = new MoqBenchMethod(
            relay.Description, options.ObjectsPerSecond, options.BitrateBitsPerSecond, options.GopFrames, options.KeyFrameRatio,
            options.WarmupSeconds, options.DurationSeconds,
            Transport: $"raw QUIC (ALPN moqt-19), publisher to {relay.Url}, subscribers to {relay.SubscriberUrl}" +
                       (relay.EncryptedSubscribers
                           ? ", the publisher offering the kernel fast path (0xBAAD, 1-RTT in clear; a userspace relay declines it), every subscriber with full 1-RTT protection (AES-GCM)" +
                             (relay.FastPath ? ": the kernel seals each copy with its subscriber's keys" : "")
                           : relay.FastPath ? ", every client offering the kernel fast path (0xBAAD, 1-RTT in clear)" : "") +
                       "; each subscriber its own connection; publisher and subscribers in the bench process",
            Latency: "object one-way latency: subscriber CLOCK_REALTIME when the object completed minus the publisher's CLOCK_REALTIME stamp taken just before the write, pooled over all subscribers",
            Cpu: "relay CPU over the measured window from /proc/PID/task/*/schedstat (utime+stime if threads exited); per delivered object and per delivered payload byte (objects x subscribers)",
            Syscalls: syscalls is null ? "not counted (see the bench's progress output)"
                : "every syscall entry of the relay process over the measured window (raw_syscalls:sys_enter, BPF counter by tgid); per delivered object copy and, on the fast path, per packet the kernel forwarded",
            frequency?.Mhz, frequency?.Source);
        return new MoqBenchReport(started, Machine(), method, points, sweep, maxLossFree, MoqBenchReport.MoqDevAnchor);
    }

    /// <summary>The measured track of a run (the kernel floor sends the same one).</summary>
    public static SyntheticTrackOptions TrackOptions(MoqBenchOptions options) => new()
    {
        BitrateBitsPerSecond = options.BitrateBitsPerSecond, FramesPerSecond = options.ObjectsPerSecond, GopFrames = options.GopFrames,
        KeyFrameRatio = options.KeyFrameRatio, Layout = SubgroupLayout.PerLayer, Layers = 2,
    };

    private async Task<MoqBenchPoint> MeasureAsync(IMoqBenchRelay relay, SyscallCounter? syscalls, int fanOut, SyntheticTrackOptions trackOptions, double warmupSeconds,
        double windowSeconds, double? mhz, CancellationToken cancellationToken)
    {
        // The publisher offers the clear-text fast path whenever the run is about it (a userspace relay declines); the
        // subscribers offer it only when they are not the encrypted ones being measured.
        var endpoint = new MoqClientEndpoint { Url = relay.Url, Insecure = true, FastPath = relay.FastPath || relay.EncryptedSubscribers };
        var subscriberEndpoint = endpoint with { Url = relay.SubscriberUrl, FastPath = relay.FastPath && !relay.EncryptedSubscribers };
        var track = MoqTrackName.FromText("bench", $"f{fanOut}-r{trackOptions.FramesPerSecond}-{Guid.NewGuid():N}"[..24]);
        var synthetic = new SyntheticTrack(trackOptions);

        // The publisher announces first, so the relay knows the namespace when the subscriptions arrive.
        await using var publisher = new SendLog(await connector.PublishAsync(endpoint, track, cancellationToken));
        var subscriptions = await ConnectSubscribersAsync(subscriberEndpoint, track, fanOut, cancellationToken);
        try
        {
            var stats = subscriptions.Select(_ => new WindowedObjectStats()).ToList();
            using var stopReading = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var readers = subscriptions.Select((s, i) => Task.Run(() => TrackSubscriber.RunAsync(s, new SubscribeLimits(), relay.Url.ToString(), track.ToString(),
                "latest", Time, stopReading.Token, stats[i].OnObject))).ToList();
            // The window starts a warm-up after the first object really went out, and the relay's CPU is read at its edges.
            var window = MeasureWindowAsync(relay, syscalls, publisher.FirstSendMicroseconds, warmupSeconds, windowSeconds, cancellationToken);

            // The publisher runs until the window has closed (however late its first object went out), plus a little.
            using var stopPublishing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _ = window.ContinueWith(_ => { try { stopPublishing.CancelAfter(TimeSpan.FromMilliseconds(50)); } catch (ObjectDisposedException) { } }, TaskScheduler.Default);
            var sent = await SyntheticPublisher.RunAsync(publisher, synthetic, new PublishLimits(), relay.Url.ToString(), track.ToString(), Time, stopPublishing.Token);
            cancellationToken.ThrowIfCancellationRequested();
            if (sent.StoppedBecause is { } why)
                throw new UserFacingException($"the bench publisher stopped at fan-out {fanOut}: {why}\nrelay log:\n{relay.Log}");
            var (cpuNs, fromUs, toUs, kernel, kernelSpan, syscallsByName) = await window;
            var kernelTimed = kernel is { Runs: > 0 } ? kernel : null;
            var syscallCount = syscallsByName?.Sum(c => c.Count);
            await Task.Delay(TimeSpan.FromSeconds(options.DrainSeconds), cancellationToken);
            stopReading.Cancel();
            await Task.WhenAll(readers);

            var (sentInWindow, sentBytes) = publisher.SentBetween(fromUs, toUs);
            var latency = new LatencyHistogram();
            long delivered = 0, deliveredBytes = 0, deliveredBytesInKernelSpan = 0;
            foreach (var s in stats)
            {
                var (n, bytes) = s.InWindow(fromUs, toUs, latency);
                delivered += n;
                deliveredBytes += bytes;
                deliveredBytesInKernelSpan += s.BytesSentBetween(kernelSpan.FromUs, kernelSpan.ToUs);
            }
            var nsPerByte = deliveredBytes > 0 ? cpuNs / (double)deliveredBytes : (double?)null;
            return new MoqBenchPoint
            {
                FanOut = fanOut,
                SubscribersConnected = subscriptions.Count,
                PublishedObjectsPerSecond = Math.Round(sentInWindow / windowSeconds, 1),
                MeanObjectBytes = sentInWindow > 0 ? Math.Round(sentBytes / (double)sentInWindow, 1) : 0,
                Expected = sentInWindow * fanOut,
                Delivered = delivered,
                Lost = Math.Max(0, sentInWindow * fanOut - delivered),
                Duplicates = stats.Sum(s => s.Duplicates),
                IntegrityFailures = stats.Sum(s => s.Corrupt),
                DeliveredBytes = deliveredBytes,
                EgressMegabitsPerSecond = Math.Round(deliveredBytes * 8 / windowSeconds / 1e6, 3),
                LatencyP50Us = latency.ValueAt(0.50),
                LatencyP90Us = latency.ValueAt(0.90),
                LatencyP99Us = latency.ValueAt(0.99),
                LatencyMaxUs = latency.Count == 0 ? 0 : latency.Max,
                RelayCpuNanoseconds = cpuNs,
                RelayCpuPercent = Math.Round(cpuNs / (windowSeconds * 1e9) * 100, 1),
                RelayCpuNanosecondsPerObject = delivered > 0 ? Math.Round(cpuNs / (double)delivered, 0) : null,
                RelayCpuNanosecondsPerByte = nsPerByte is { } b ? Math.Round(b, 3) : null,
                RelayCyclesPerByte = nsPerByte is { } c && mhz is { } m ? Math.Round(c * m / 1000, 2) : null,
                KernelForwardedBytes = kernel?.Bytes,
                KernelForwardedPackets = kernel?.Packets,
                // Over the stretch the counters cover, not the window: a relay answering the window's first status request
                // 0.6 s late under load, against a 2 s window, would otherwise show a working fast path at 0.7.
                KernelShare = kernel is { } k && deliveredBytesInKernelSpan > 0 ? Math.Round(Math.Min(1, k.Bytes / (double)deliveredBytesInKernelSpan), 4) : null,
                KernelSealedCopies = kernel?.Seals?.Sealed,
                KernelSealTooBig = kernel?.Seals?.TooBig,
                KernelSealFailed = kernel?.Seals?.Failed,
                KernelNanosecondsPerPacket = kernelTimed is { Packets: > 0 } kt ? Math.Round(kt.RunTimeNs / (double)kt.Packets, 0) : null,
                RelayCpuWithKernelNanosecondsPerObject = kernelTimed is { } kc && delivered > 0 ? Math.Round((cpuNs + kc.RunTimeNs) / (double)delivered, 0) : null,
                RelaySyscalls = syscallCount,
                RelayTopSyscalls = syscallsByName?.Take(6).ToList(),
                RelaySyscallsPerObject = syscallCount is { } calls && delivered > 0 ? Math.Round(calls / (double)delivered, 3) : null,
                RelaySyscallsPerKernelPacket = syscallCount is { } callsToo && kernel is { Packets: > 0 } kp ? Math.Round(callsToo / (double)kp.Packets, 3) : null,
            };
        }
        finally
        {
            foreach (var s in subscriptions) await s.DisposeAsync();
        }
    }

    private async Task<List<IMoqTrackSubscription>> ConnectSubscribersAsync(MoqClientEndpoint endpoint, MoqTrackName track, int fanOut, CancellationToken cancellationToken)
    {
        using var gate = new SemaphoreSlim(ConnectConcurrency);
        var tasks = Enumerable.Range(0, fanOut).Select(async _ =>
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                return await connector.SubscribeAsync(endpoint, track, new MoqSubscribeOptions(), cancellationToken);
            }
            finally
            {
                gate.Release();
            }
        }).ToList();
        try
        {
            return [.. await Task.WhenAll(tasks)];
        }
        catch
        {
            foreach (var t in tasks.Where(t => t.IsCompletedSuccessfully)) await t.Result.DisposeAsync();
            throw;
        }
    }

    /// <summary>Places the window (CLOCK_REALTIME µs) a warm-up after the first send and reads the relay's CPU and
    /// syscalls at its edges (and, on the fast path, the kernel's forwarded bytes and packets, from the status file the
    /// relay rewrites when asked: outside the CPU window at both edges, so the rewrites are not counted as relay work).</summary>
    private static async Task<(long CpuNs, long FromUs, long ToUs, KernelForwarded? Kernel, (long FromUs, long ToUs) KernelSpan, IReadOnlyList<SyscallCount>? Syscalls)> MeasureWindowAsync(IMoqBenchRelay relay,
        SyscallCounter? syscalls, Task<long> firstSendUs, double warmupSeconds, double windowSeconds, CancellationToken cancellationToken)
    {
        var fromUs = await firstSendUs.WaitAsync(cancellationToken) + (long)(warmupSeconds * 1e6);
        var toUs = fromUs + (long)(windowSeconds * 1e6);
        await DelayUntil(fromUs, cancellationToken);
        // Read on a pool thread: the read waits for the relay's answer (up to seconds under load), and waiting in the timer's
        // continuation held up the bench publisher's own timers for as long.
        var kernelBefore = await Task.Run(relay.ReadKernelForwarded, cancellationToken);
        var before = relay.ReadCpu();
        var syscallsBefore = syscalls?.ReadBySyscall();
        await DelayUntil(toUs, cancellationToken);
        var cpu = ProcessCpuTime.Difference(before, relay.ReadCpu());
        var syscallsAfter = syscalls?.ReadBySyscall();
        var kernelAfter = await Task.Run(relay.ReadKernelForwarded, cancellationToken);
        KernelForwarded? kernel = kernelBefore is { } b && kernelAfter is { } a
            ? new KernelForwarded(a.Bytes - b.Bytes, a.Packets - b.Packets, a.RunTimeNs - b.RunTimeNs, a.Runs - b.Runs,
                a.Seals is { } sa && b.Seals is { } sb ? new SealCounts(sa.Sealed - sb.Sealed, sa.TooBig - sb.TooBig, sa.Failed - sb.Failed) : null) : null;
        // The stretch the kernel's counters cover: from snapshot to snapshot where the relay said when it took them.
        var kernelSpan = kernelBefore is { SnapshotUs: > 0 } sb0 && kernelAfter is { SnapshotUs: > 0 } sa0 && sa0.SnapshotUs > sb0.SnapshotUs
            ? (sb0.SnapshotUs, sa0.SnapshotUs) : (fromUs, toUs);
        return (cpu, fromUs, toUs, kernel, kernelSpan, syscallsBefore is null || syscallsAfter is null ? null : SyscallCounter.Difference(syscallsBefore, syscallsAfter));
    }

    /// <summary>A BPF counter of the relay process's syscalls; null (said in the progress output) where the relay runs
    /// in this process or the counter cannot be loaded.</summary>
    private async Task<SyscallCounter?> StartSyscallCounterAsync(IMoqBenchRelay relay, CancellationToken cancellationToken)
    {
        if (relay.ProcessId is not { } pid) return null;
        try
        {
            var objectPath = await BenchTools.BuildSyscallCounterAsync(Path.Combine(Path.GetTempPath(), $"fastrelay-bench-tools-{Environment.ProcessId}"), cancellationToken);
            return SyscallCounter.Start(objectPath, pid);
        }
        catch (Exception e) when (e is FastRelay.Bpf.BpfException or UserFacingException or IOException)
        {
            Progress($"relay syscalls not counted: {e.Message}");
            return null;
        }
    }

    private static Task DelayUntil(long realtimeUs, CancellationToken cancellationToken)
    {
        var wait = realtimeUs - RealtimeClock.NowMicroseconds(Time);
        return wait > 0 ? Task.Delay(TimeSpan.FromMicroseconds(wait), cancellationToken) : Task.CompletedTask;
    }

    private static string Machine() =>
        $"{Environment.ProcessorCount} CPUs ({CpuFrequency.ModelName() ?? "unknown model"}), kernel {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}, .NET {Environment.Version}";

    private void Progress(string line) => options.Progress?.Invoke(line);
}
