using System.Globalization;
using System.Net;
using FastRelay.Cli.Lab;
using FastRelay.Cli.Scenario;
using FastRelay.Protocols.Moq.Clients;
using FastRelay.Protocols.Moq.Relay.Status;

namespace FastRelay.Cli.Bench.Moq;

/// <summary>
/// A `fastrelay moq relay` process in a lab's relay namespace, reached by the bench publisher on the upstream interface
/// and by its subscribers on the downstream one: with <c>fastpath</c> the QUIC kernel fast path is attached to both
/// interfaces and every bench client offers it; with <c>userspace</c> the same relay, clients and paths without it, so
/// the two are compared on the same veths. With <c>encryptedSubscribers</c> (`bench --encrypted`) the publisher still
/// offers the clear-text fast path while the subscribers keep full 1-RTT protection: the fast-path relay seals their kernel
/// copies. Its CPU is read from /proc (same PID namespace); the kernel's forwarded bytes from its status file, which it
/// rewrites when asked (SIGUSR1) at the window's edges: a status rewrite every 50 ms, as before, was about a tenth of the
/// fast-path relay's CPU at fan-out 64 (a snapshot of every subscriber's figures and its JSON), measured as if the relay
/// spent it on copies; the kernel's seal counters from the same status.
/// </summary>
public sealed class LabMoqBenchRelay : IMoqBenchRelay
{
    private const int Port = 4443;
    private readonly MoqLabProcess _process;
    private readonly string _statusFile;

    private LabMoqBenchRelay(MoqLabProcess process, LabNetwork lab, bool fastPath, bool encryptedSubscribers, string statusFile)
    {
        _process = process;
        _statusFile = statusFile;
        FastPath = fastPath;
        EncryptedSubscribers = encryptedSubscribers;
        Url = MoqUrl.Parse($"moqt://{lab.RelayUpstream.IPv4}:{Port}/");
        SubscriberUrl = MoqUrl.Parse($"moqt://{lab.RelayDownstream.IPv4}:{Port}/");
    }

    public MoqUrl Url { get; }
    public MoqUrl SubscriberUrl { get; }
    public bool FastPath { get; }
    public bool EncryptedSubscribers { get; }
    public string Description => $"`fastrelay moq relay --mode {(FastPath ? "fastpath" : "userspace")}` process {_process.ProcessId} in lab namespace" +
                                 (EncryptedSubscribers ? ", encrypted subscribers (full 1-RTT protection), clear-text fast-path publisher" : "");
    public string Log => _process.Log;

    public static async Task<LabMoqBenchRelay> StartAsync(LabNetwork lab, bool fastPath, string statusDirectory, CancellationToken cancellationToken,
        bool encryptedSubscribers = false)
    {
        var name = $"bench-{(fastPath ? "fastpath" : "userspace")}{(encryptedSubscribers ? "-encrypted" : "")}-{Environment.ProcessId}";
        string[] mode = fastPath
            ? ["--mode", "fastpath", "--interface", lab.RelayUpstream.Name, "--interface", lab.RelayDownstream.Name, "--bpffs", lab.BpfFsPath]
            : ["--mode", "userspace"];
        var process = MoqLabProcess.Start(lab, lab.Relay, "relay",
            ["relay", "--address", "0.0.0.0", "--port", Port.ToString(CultureInfo.InvariantCulture), "--name", name, "--status-dir", statusDirectory,
             .. mode]);
        var relay = new LabMoqBenchRelay(process, lab, fastPath, encryptedSubscribers, Path.Combine(statusDirectory, name + ".json"));
        try
        {
            await process.WaitForLogAsync(l => l.Contains("listening on"), "'listening on'", TimeSpan.FromSeconds(90), cancellationToken);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            await relay.DisposeAsync();
            throw new UserFacingException($"the bench's `moq relay` did not start: {e.Message}", e);
        }
        return relay;
    }

    public ProcessCpuTime ReadCpu() => ProcessCpuTime.Read(_process.ProcessId);

    public KernelForwarded? ReadKernelForwarded()
    {
        if (!FastPath) return null;
        var status = FreshStatus();
        return status.FastPath is { } f
            ? new KernelForwarded(f.KernelForwardedBytes, f.ForwardedPackets, f.KernelRunTimeNs, f.KernelRuns,
                f.Seal is { } seal ? new SealCounts(seal.Sealed, seal.TooBig, seal.Failed) : null,
                (status.Updated - DateTimeOffset.UnixEpoch).Ticks / TimeSpan.TicksPerMicrosecond) : null;
    }

    /// <summary>How long the relay may take to answer a status request before the bench gives up on the window.</summary>
    private static readonly TimeSpan StatusAnswerLimit = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Asks the relay for its status now and returns the first status it wrote from a snapshot taken after the request
    /// (its <c>Updated</c>, stamped before the kernel's counters are read, is not before the request). A rewrite that
    /// merely lands after the request is not enough: the relay's own 1 s timer may have started its snapshot earlier, and
    /// on a loaded machine that snapshot was seen 0.6-0.7 s older than the request. A relay that does not answer within
    /// <see cref="StatusAnswerLimit"/> fails the run: a stale status would misplace the window's edge (the kernel's
    /// bytes of the missing stretch counted as the relay's own), not a figure to report.
    /// </summary>
    private MoqRelayStatus FreshStatus()
    {
        var asked = DateTimeOffset.UtcNow;
        var lastWrite = File.Exists(_statusFile) ? File.GetLastWriteTimeUtc(_statusFile) : DateTime.MinValue;
        ProcessSignals.RequestStatus(_process.ProcessId);
        var deadline = Environment.TickCount64 + (long)StatusAnswerLimit.TotalMilliseconds;
        var nextParse = Environment.TickCount64 + 50;
        MoqRelayStatus? last = null;
        while (Environment.TickCount64 < deadline)
        {
            // A new file time says to parse it again (cheap to check); every 50 ms it is parsed anyway, since two writes
            // within one tick of the file system's coarse clock keep one time. The status's own time says whether it is fresh.
            var written = File.Exists(_statusFile) ? File.GetLastWriteTimeUtc(_statusFile) : DateTime.MinValue;
            if ((written != lastWrite || Environment.TickCount64 >= nextParse) && MoqRelayStatusFile.TryRead(_statusFile) is { } status)
            {
                lastWrite = written;
                nextParse = Environment.TickCount64 + 50;
                last = status;
                if (status.Updated >= asked) return status;
            }
            Thread.Sleep(2);
        }
        throw new UserFacingException($"the bench's `moq relay` (process {_process.ProcessId}) did not write a status of after {asked:HH:mm:ss.fff} within " +
            $"{StatusAnswerLimit.TotalSeconds:0} s of being asked (SIGUSR1; newest status: {(last is null ? "none read" : last.Updated.ToString("HH:mm:ss.fff"))}): " +
            $"the kernel's counters at the window's edge are unknown\nrelay log:\n{_process.Log}");
    }

    public int? ProcessId => _process.ProcessId;

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
