using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using FastRelay.Cli.Bench.Native;
using FastRelay.Cli.Lab;
using FastRelay.Protocols.Moq.Clients;

namespace FastRelay.Cli.Bench.Moq.Floor;

/// <summary>
/// The kernel floor of `bench --profile moq`, run in the bench's lab with no relay process: for each fan-out N,
/// <see cref="CloneFloor"/> on the relay namespace's upstream device (ingress) clones every datagram to N UDP receivers
/// in the subscriber namespace, and a floor sender in the publisher namespace sends the relay runs' track (object rate,
/// object sizes) as the datagrams our publisher would send (<see cref="FloorDatagrams"/>). The same warm-up, window and
/// drain as the relay runs; latency per object (last datagram in), loss, and the TC program's own time (bpf_stats on for
/// the run, back as it was after).
/// </summary>
public sealed class MoqFloorRunner(MoqBenchOptions options)
{
    /// <summary>The port the floor fans out (the upstream side); receivers listen on the ports after it.</summary>
    public const int Port = 7500;

    public async Task<MoqFloorReport> RunAsync(LabNetwork lab, CancellationToken cancellationToken)
    {
        var objectPath = await BenchTools.BuildCloneFloorAsync(Path.Combine(Path.GetTempPath(), $"fastrelay-bench-tools-{Environment.ProcessId}"), cancellationToken);
        using var bpfStats = BpfStatsSwitch.TurnOn(Progress);
        var points = new List<MoqFloorPoint>();
        foreach (var fanOut in options.FanOuts)
        {
            if (fanOut > CloneFloor.MaxTargets)
            {
                Progress($"kernel floor, fan-out {fanOut}: skipped (the clone floor makes at most {CloneFloor.MaxTargets} copies)");
                continue;
            }
            Progress($"kernel floor, fan-out {fanOut,2}: {options.ObjectsPerSecond} objects/s, {options.DurationSeconds} s window, no relay process");
            var point = await MeasureAsync(lab, objectPath, fanOut, cancellationToken);
            Progress($"kernel floor, fan-out {fanOut,2}: p50 {point.LatencyP50Us} µs, p99 {point.LatencyP99Us} µs, lost {point.Lost}, " +
                     $"TC {(point.KernelNanosecondsPerPacket is { } ns ? $"{ns:0} ns per copy" : "not timed")}");
            points.Add(point);
        }
        var method = "same track, warm-up and window as the relay runs; each object sent as the fast-path packets our publisher would send it in " +
                     $"({FloorDatagrams.PacketHeaderBytes}-byte QUIC/STREAM header + up to {FloorDatagrams.MaxStreamBytesPerDatagram} stream bytes, " +
                     "object header and payload; subgroup headers left out), from the lab's publisher namespace to the relay's upstream address, " +
                     "port " + Port + "; clone_floor's ingress program there (start target rotated per packet, as the fast path does) copies each " +
                     "datagram out of the downstream device to one UDP socket per fan-out in the subscriber namespace, all read by one thread " +
                     "(poll, recvmmsg batches); latency = receive time of an object's last datagram − its send time (CLOCK_MONOTONIC), pooled " +
                     "over receivers; TC time = run_time_ns of the ingress program over the window (bpf_stats), per copy sent";
        return new MoqFloorReport(method, points);
    }

    private async Task<MoqFloorPoint> MeasureAsync(LabNetwork lab, string objectPath, int fanOut, CancellationToken cancellationToken)
    {
        var subscriber = lab.Subscribers[0];
        var targets = Enumerable.Range(1, fanOut).Select(i => new IPEndPoint(subscriber.IPv4, Port + i)).ToList();
        var sockets = targets.Select(t => lab.UdpSocket(subscriber, t)).ToList();
        using var sender = lab.UdpSocket(lab.Publisher, AddressFamily.InterNetwork);
        try
        {
            using var floor = await CloneFloor.AttachAsync(lab, objectPath, Port, targets, cancellationToken, rotate: true);
            using var receivers = new FloorReceivers(sockets);
            receivers.Start();
            // The lab's bridge learns where the subscriber is from a frame it sent: copies to a host that never sent
            // would be flooded to every port, a cost no real network has.
            sockets[0].SendTo(new byte[1], new IPEndPoint(lab.RelayDownstream.IPv4, 9));
            sender.Connect(new IPEndPoint(lab.RelayUpstream.IPv4, Port));

            var track = new SyntheticTrack(MoqBenchRunner.TrackOptions(options));
            var floorSender = new FloorSender();
            using var stopSending = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var window = MeasureWindowAsync(floor, floorSender.FirstSendTicks, cancellationToken);
            _ = window.ContinueWith(_ => { try { stopSending.CancelAfter(TimeSpan.FromMilliseconds(50)); } catch (ObjectDisposedException) { } }, TaskScheduler.Default);
            await floorSender.RunAsync(sender, FloorDatagrams.Plan(track), stopSending.Token);
            cancellationToken.ThrowIfCancellationRequested();
            var (from, to, statsFrom, statsTo, runTimeNs, runs) = await window;
            await Task.Delay(TimeSpan.FromSeconds(options.DrainSeconds), cancellationToken);
            receivers.Stop();

            var (objects, payloadBytes, datagrams) = floorSender.SentBetween(from, to);
            var latency = new LatencyHistogram();
            var delivered = receivers.DeliveredInWindow(from, to, latency);
            var copies = floorSender.SentBetween(statsFrom, statsTo).Datagrams * fanOut;
            var timed = runTimeNs > 0 && copies > 0;
            var windowSeconds = (to - from) / (double)Stopwatch.Frequency;
            return new MoqFloorPoint
            {
                FanOut = fanOut,
                PublishedObjectsPerSecond = Math.Round(objects / windowSeconds, 1),
                MeanObjectBytes = objects > 0 ? Math.Round(payloadBytes / (double)objects, 1) : 0,
                DatagramsPerObject = objects > 0 ? Math.Round(datagrams / (double)objects, 2) : 0,
                Expected = objects * fanOut,
                Delivered = delivered,
                Lost = Math.Max(0, objects * fanOut - delivered),
                Duplicates = receivers.Duplicates,
                LatencyP50Us = latency.ValueAt(0.50),
                LatencyP90Us = latency.ValueAt(0.90),
                LatencyP99Us = latency.ValueAt(0.99),
                LatencyMaxUs = latency.Count == 0 ? 0 : latency.Max,
                KernelRunTimeNs = runTimeNs,
                KernelRuns = runs,
                KernelCopies = copies,
                KernelNanosecondsPerPacket = timed ? Math.Round(runTimeNs / (double)copies, 0) : null,
                KernelNanosecondsPerObject = timed && delivered > 0 ? Math.Round(runTimeNs / (double)delivered, 0) : null,
            };
        }
        finally
        {
            foreach (var s in sockets) s.Dispose();
        }
    }

    /// <summary>Places the window (Stopwatch ticks) a warm-up after the first send and reads the floor program's run time
    /// and runs at its edges, noting when each reading was taken (the copies are counted between those instants).</summary>
    private async Task<(long From, long To, long StatsFrom, long StatsTo, long RunTimeNs, long Runs)> MeasureWindowAsync(CloneFloor floor,
        Task<long> firstSendTicks, CancellationToken cancellationToken)
    {
        var from = await firstSendTicks.WaitAsync(cancellationToken) + (long)(options.WarmupSeconds * Stopwatch.Frequency);
        var to = from + (long)(options.DurationSeconds * Stopwatch.Frequency);
        await DelayUntil(from, cancellationToken);
        var before = floor.RunStats();
        var statsFrom = Stopwatch.GetTimestamp();
        await DelayUntil(to, cancellationToken);
        var after = floor.RunStats();
        var statsTo = Stopwatch.GetTimestamp();
        return (from, to, statsFrom, statsTo, after.RunTimeNs - before.RunTimeNs, after.RunCount - before.RunCount);
    }

    private static Task DelayUntil(long ticks, CancellationToken cancellationToken)
    {
        var wait = ticks - Stopwatch.GetTimestamp();
        return wait > 0 ? Task.Delay(TimeSpan.FromSeconds(wait / (double)Stopwatch.Frequency), cancellationToken) : Task.CompletedTask;
    }

    private void Progress(string line) => options.Progress?.Invoke(line);
}
