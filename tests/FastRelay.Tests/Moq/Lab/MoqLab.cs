using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using FastRelay.Cli.Lab;
using FastRelay.Cli.Scenario;
using FastRelay.Protocols.Moq.Clients;
using FastRelay.Protocols.Moq.Relay.Status;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Moq.Lab;

/// <summary>
/// A lab (real network namespaces, prefix <c>frml</c> + a test letter + 4 random hex digits) plus the `fastrelay moq`
/// processes a test runs in it and a scratch folder for their reports. Disposing it stops every process, then removes
/// the lab (namespaces, veths, bridge, loss filters) and the folder, also when the test failed; the processes' logs go
/// to the test output.
/// </summary>
internal sealed class MoqLab : IAsyncDisposable
{
    public const int Port = 4443;
    public const string Namespace = "live/cam1";
    public const string TrackName = "video";

    /// <summary>Generous: the machine these run on may be heavily loaded (2 cores, other engineers' builds).</summary>
    public static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(150);
    public static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(60);

    private readonly List<MoqLabProcess> _processes = [];
    private readonly ITestOutputHelper _output;

    private MoqLab(LabNetwork lab, string work, ITestOutputHelper output)
    {
        Network = lab;
        Work = work;
        _output = output;
    }

    public LabNetwork Network { get; }
    public string Work { get; }

    public static Task<MoqLab> UpAsync(char testLetter, int subscribers, ITestOutputHelper output) =>
        UpAsync($"frml{testLetter}", subscribers, output);

    /// <param name="namePrefix">The test's own prefix (4 random hex digits are appended).</param>
    /// <param name="relayInterfaces">2: the relay has separate upstream and downstream interfaces (what the kernel fast
    /// path attaches to).</param>
    /// <param name="edgeRelay">Adds a second relay host on the subscribers' segment (<see cref="LabNetwork.EdgeRelay"/>).</param>
    public static async Task<MoqLab> UpAsync(string namePrefix, int subscribers, ITestOutputHelper output, int relayInterfaces = 1, bool edgeRelay = false)
    {
        var prefix = $"{namePrefix}{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2))}";
        var lab = await LabTopology.UpAsync(new LabOptions { Prefix = prefix, Subscribers = subscribers, RelayInterfaces = relayInterfaces, EdgeRelay = edgeRelay });
        output.WriteLine($"lab {prefix} up: relay {lab.RelayDownstream.IPv4}, publisher {lab.Publisher.IPv4}, {subscribers} subscriber host(s)");
        return new MoqLab(lab, Directory.CreateTempSubdirectory($"fastrelay-{prefix}-").FullName, output);
    }

    public static string UrlOf(IPAddress address) => $"moqt://{address}:{Port}/";

    public string StatusFile(string relayName) => Path.Combine(Work, "status", relayName + ".json");

    /// <summary>`moq relay` listening on every address of <paramref name="host"/>; returns once it listens.</summary>
    public Task<MoqLabProcess> StartRelayAsync(LabHost host, string name, params string[] extra) =>
        StartRelayOnAsync(host, name, "0.0.0.0", extra);

    /// <summary>The relay listening on <paramref name="address"/> ("::" for both families on one dual-stack socket).</summary>
    public async Task<MoqLabProcess> StartRelayOnAsync(LabHost host, string name, string address, params string[] extra)
    {
        var relay = Track(MoqLabProcess.Start(Network, host, name,
            ["relay", "--address", address, "--port", Port.ToString(CultureInfo.InvariantCulture), "--name", name,
             "--status-dir", Path.Combine(Work, "status"),
             // `auto` (the default) puts a relay on a non-loopback address on the fast path: its pins stay in the lab's bpffs.
             .. (extra.Contains("--bpffs") ? [] : new[] { "--bpffs", Network.BpfFsPath }), .. extra]));
        await relay.WaitForLogAsync(l => l.Contains("listening on"), "'listening on'", StepTimeout);
        return relay;
    }

    /// <summary>`moq relay --mode fastpath` in the relay host with the kernel fast path attached to both relay interfaces
    /// (the quic_moq object at <paramref name="objectPath"/>, built once for the test class), listening on
    /// <paramref name="address"/>; returns once it said its mode, and fails the test if the fast path is off.</summary>
    public async Task<MoqLabProcess> StartFastPathRelayAsync(string objectPath, string address = "0.0.0.0")
    {
        var relay = await StartRelayOnAsync(Network.Relay, "relay", address, "--mode", "fastpath",
            "--interface", Network.RelayUpstream.Name, "--interface", Network.RelayDownstream.Name,
            "--bpffs", Network.BpfFsPath, "--object", objectPath);
        await WaitForFastPathAsync(relay);
        return relay;
    }

    /// <summary>Waits for the mode on <paramref name="relay"/>'s 'listening on' line and fails the test unless it is
    /// the fast path.</summary>
    public static async Task WaitForFastPathAsync(MoqLabProcess relay)
    {
        await relay.WaitForLogAsync(l => l.Contains("; fast path on ") || l.Contains("fast path off"), "the mode on the 'listening on' line", StepTimeout);
        Assert.Contains("; fast path on ", relay.Log);
    }

    /// <summary><see cref="StartPublisher"/> with `--fast-path` to the relay's upstream address; returns once
    /// <paramref name="relay"/> saw its PUBLISH_NAMESPACE.</summary>
    public async Task<MoqLabProcess> StartFastPathPublisherAsync(MoqLabProcess relay, int gop, int rate)
    {
        var publisher = StartPublisher(UrlOf(Network.RelayUpstream.IPv4), gop, rate, "--fast-path");
        await relay.WaitForLogAsync(l => l.Contains("publishes namespace"), "PUBLISH_NAMESPACE", StepTimeout);
        return publisher;
    }

    /// <summary>`moq publish` of objects the test writes to its stdin (length-prefixed, stamped, a group every
    /// <paramref name="gop"/> objects, at most <paramref name="rate"/> per second).</summary>
    public MoqLabProcess StartPublisher(string url, int gop, int rate, params string[] extra) =>
        Track(MoqLabProcess.Start(Network, Network.Publisher, "publisher",
            ["publish", url, "-k", "-n", Namespace, "-t", TrackName, "--input", "-", "--framing", "length-prefixed", "--stamp",
             "--gop", gop.ToString(CultureInfo.InvariantCulture), "--input-rate", rate.ToString(CultureInfo.InvariantCulture),
             "--json", Path.Combine(Work, "publisher.json"), .. extra], withStdin: true));

    /// <summary>`moq subscribe --json --output` in <paramref name="host"/>, stopping once <paramref name="expect"/>
    /// objects arrived intact (or after <see cref="ProcessTimeout"/>).</summary>
    public MoqLabProcess StartSubscriber(LabHost host, string name, string url, int expect, params string[] extra) =>
        Track(MoqLabProcess.Start(Network, host, name,
            ["subscribe", url, "-k", "-n", Namespace, "-t", TrackName, "--expect", expect.ToString(CultureInfo.InvariantCulture),
             "--duration", (ProcessTimeout.TotalSeconds - 30).ToString(CultureInfo.InvariantCulture),
             "--json", ReportPath(name), "--output", OutputPath(name), .. extra]));

    /// <summary>A client expected to fail fast (refused): no report files.</summary>
    public MoqLabProcess StartClient(LabHost host, string name, params string[] args) =>
        Track(MoqLabProcess.Start(Network, host, name, args));

    /// <summary>Objects [<paramref name="from"/>, <paramref name="to"/>) to a `--input -` publisher, paced like media (one
    /// every 5 ms or more): unpaced, a burst far past new connections' windows leaves most copies to userspace.</summary>
    public static async Task FeedPacedAsync(MoqLabProcess publisher, LabTrackObjects objects, int from, int to)
    {
        for (var i = from; i < to; i++)
        {
            publisher.Feed(objects.Framed(i, i + 1));
            await Task.Delay(5);
        }
    }

    public string ReportPath(string name) => Path.Combine(Work, name + ".json");
    public string OutputPath(string name) => Path.Combine(Work, name + ".bin");

    /// <summary>Asserts that subscriber <paramref name="name"/> got every object from index <paramref name="from"/> on,
    /// intact, once and in its report and output file (groups of <paramref name="gop"/>); returns its report.</summary>
    public MoqSubscriberReport AssertSubscriberComplete(LabTrackObjects objects, string name, int from, int gop)
    {
        var report = SubscriberReport(name);
        _output.WriteLine($"{name}: {report.Verified} verified, {report.ViaFetch} via fetch, groups {report.FirstGroup}..{report.LastGroup}, " +
                          $"{report.Reordered} reordered, latency p50 {report.Latency.P50Us} µs p99 {report.Latency.P99Us} µs");
        Assert.Equal(objects.Count - from, report.Verified);
        Assert.Equal(objects.Count - from, report.Objects);
        Assert.Equal(0, report.IntegrityFailures);
        Assert.Equal(0, report.Unstamped);
        Assert.Equal(0, report.MissingObjects);
        Assert.Equal(0, report.Duplicates);
        Assert.Equal((ulong)((objects.Count - 1) / gop), report.LastGroup);
        var arrival = objects.VerifyOutput(File.ReadAllBytes(OutputPath(name)), from, name);
        Assert.Equal(objects.Count - from, arrival.Count);
        return report;
    }

    public MoqSubscriberReport SubscriberReport(string name) =>
        JsonSerializer.Deserialize(File.ReadAllText(ReportPath(name)), MoqClientJsonContext.Default.MoqSubscriberReport)
        ?? throw new InvalidDataException($"{name}: empty report");

    public MoqPublisherReport PublisherReport() =>
        JsonSerializer.Deserialize(File.ReadAllText(Path.Combine(Work, "publisher.json")), MoqClientJsonContext.Default.MoqPublisherReport)
        ?? throw new InvalidDataException("publisher: empty report");

    /// <summary>Downstream SUBSCRIBEs the relay accepted so far (its log line per subscriber; not its own upstream ones).</summary>
    public static int AcceptedSubscriptions(string relayLog) => MoqRelayLog.AcceptedSubscriptions(relayLog);

    /// <summary>Polls the relay's status file (rewritten every second) until <paramref name="condition"/> holds.</summary>
    /// <summary>The fast-path relay's figures once every slot is gone (its subscribers left), with each fast-path
    /// subscriber's kernel share, bytes and losses written to the test's output.</summary>
    public async Task<MoqFastPathStatus> FinalFastPathStatusAsync(string relayName = "relay")
    {
        var status = await WaitForStatusAsync(relayName, s => s.FastPath is { TappedStreams: > 0, Slots: 0 }, "the fast path's final counts");
        var fast = status.FastPath!;
        _output.WriteLine($"kernel: {fast}");
        foreach (var s in fast.Subscribers ?? [])
            _output.WriteLine($"{s.Session} {s.Remote}: kernel share {s.KernelShare:P1} ({s.KernelBytes} kernel, {s.UserspaceBytes} relay bytes), " +
                              $"{s.PacketsLost} packets lost");
        return fast;
    }

    public async Task<MoqRelayStatus> WaitForStatusAsync(string relayName, Func<MoqRelayStatus, bool> condition, string what)
    {
        var (status, met) = await MoqRelayStatusFile.WaitAsync(StatusFile(relayName), condition, StepTimeout);
        return met ? status! : throw new TimeoutException($"relay {relayName}: no {what} within {StepTimeout.TotalSeconds:0} s; last status: {status?.ToJson()}");
    }

    private MoqLabProcess Track(MoqLabProcess process)
    {
        _processes.Add(process);
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            for (int i = _processes.Count - 1; i >= 0; i--)
            {
                var log = await _processes[i].StopAsync();
                try { _output.WriteLine($"--- {_processes[i].Name} ---\n{log}"); }
                catch (InvalidOperationException) { /* no test running */ }
            }
        }
        finally
        {
            await Network.DownAsync();
            try { Directory.Delete(Work, recursive: true); }
            catch (IOException) { }
        }
    }
}
