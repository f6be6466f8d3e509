using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CliWrap;
using FastRelay.Cli.Commands;
using FastRelay.Cli.Lab;
using FastRelay.Cli.Relay;
using FastRelay.Protocols.CustomUdp.Clients;
using FastRelay.Protocols.CustomUdp.Relay;

namespace FastRelay.Cli.Scenario;

/// <summary>One subscriber of a scenario: which lab host, which channel, how it reaches the relay, what it asks for.</summary>
public sealed record ScenarioSubscriber(int Host, ushort Channel, AddressFamily Family = AddressFamily.InterNetwork,
    uint? RateLimitBytesPerSecond = null, double LossPercent = 0, double StartDelaySeconds = 0, double? DurationSeconds = null,
    uint HistoryMs = 0);

/// <summary>One publisher: the channel it feeds and the family it reaches the relay with.</summary>
public sealed record ScenarioPublisher(ushort Channel, AddressFamily Family = AddressFamily.InterNetwork, int RatePps = 1000,
    int PacketSize = 256, string Priorities = "0/10");

public sealed record ScenarioOptions
{
    public RelayMode Mode { get; init; } = RelayMode.FastPath;
    public int RelayInterfaces { get; init; } = 2;
    public required IReadOnlyList<ScenarioSubscriber> Subscribers { get; init; }
    public required IReadOnlyList<ScenarioPublisher> Publishers { get; init; }
    public double DurationSeconds { get; init; } = 3;
    public double RelayTimeoutSeconds { get; init; } = 3;
    public string? LabPrefix { get; init; }
    public int? RelayMaxSubscribers { get; init; }

    /// <summary>Lab hosts beyond those the subscribers use (e.g. a host that never subscribes).</summary>
    public int ExtraSubscriberHosts { get; init; }

    /// <summary>Called once the subscribers have subscribed, before the publishers start.</summary>
    public Func<LabNetwork, Task>? BeforePublishing { get; init; }

    /// <summary>Called while the stream runs (after the publishers finished), with the lab and the relay's bpffs.</summary>
    public Func<LabNetwork, string, Task>? DuringStream { get; init; }
    public Action<string>? Progress { get; init; }
}

/// <summary>What a scenario produced: every process's report plus the relay's status taken while the stream ran.</summary>
public sealed record ScenarioResult(
    string Mode,
    LabDescription Lab,
    IReadOnlyList<PublisherReport> Publishers,
    IReadOnlyList<SubscriberReport> Subscribers,
    RelayStatus? RelayStatusDuringStream,
    string RelayLog);

/// <summary>
/// Runs a whole relay scenario for real in a lab: the relay, publishers and subscribers are separate `fastrelay`
/// processes in their own network namespaces (real packets, real kernel), exactly as a user would run them. Used by
/// `fastrelay demo`, the end-to-end tests and the benchmark. The lab is removed afterwards, also on failure.
/// </summary>
public static class RelayScenario
{
    public static async Task<ScenarioResult> RunAsync(ScenarioOptions options, CancellationToken cancellationToken = default)
    {
        var hosts = options.Subscribers.Select(s => s.Host).DefaultIfEmpty(-1).Max() + 1 + options.ExtraSubscriberHosts;
        options.Progress?.Invoke($"lab up: publisher, relay ({options.RelayInterfaces} interface(s)), {hosts} subscriber host(s)");
        await using var lab = await LabTopology.UpAsync(new LabOptions
        {
            Prefix = options.LabPrefix,
            Subscribers = hosts,
            RelayInterfaces = options.RelayInterfaces,
        }, cancellationToken);
        await using var relay = RelayProcess.Start(lab, options, lab.BpfFsPath);
        var statusFile = RelayCommand.StatusFile(lab.Prefix);
        await relay.WaitReadyAsync(TimeSpan.FromSeconds(30), cancellationToken);
        options.Progress?.Invoke($"relay up ({options.Mode}); starting {options.Subscribers.Count} subscriber(s)");

        var work = Directory.CreateTempSubdirectory("fastrelay-scenario-").FullName;
        try
        {
            foreach (var (subscriber, index) in options.Subscribers.Select((s, i) => (s, i)))
                if (subscriber.LossPercent > 0)
                    await lab.SetLossAsync(lab.Subscribers[subscriber.Host], subscriber.LossPercent, seed: (ulong)(index + 1), cancellationToken: cancellationToken);

            var subscriberRuns = options.Subscribers.Select((s, i) => RunSubscriberAsync(lab, s, i, options, work, cancellationToken)).ToList();
            await Task.Delay(700, cancellationToken); // let every subscriber finish its handshake before data flows
            if (options.BeforePublishing is { } before)
                await before(lab);
            options.Progress?.Invoke($"publishing for {options.DurationSeconds:0.#} s");
            var publisherRuns = options.Publishers.Select((p, i) => RunPublisherAsync(lab, p, i, options, work, cancellationToken)).ToList();
            var publishers = await Task.WhenAll(publisherRuns);
            // A status written after the publishers ended counts everything they sent; it must be taken before the
            // subscribers, hearing nothing more, re-subscribe after 1 s (which resets their counters).
            var streamEnded = DateTimeOffset.UtcNow;
            await Task.Delay(300, cancellationToken); // repairs in flight
            var status = await StatusWrittenAfterAsync(statusFile, streamEnded, cancellationToken);
            if (options.DuringStream is { } during)
                await during(lab, lab.BpfFsPath);
            var subscribers = await Task.WhenAll(subscriberRuns);
            options.Progress?.Invoke("done; stopping relay and removing the lab");
            var log = await relay.StopAsync();
            return new ScenarioResult(options.Mode == RelayMode.FastPath ? "fastpath" : "userspace", lab.Describe(), publishers, subscribers, status, log);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<SubscriberReport> RunSubscriberAsync(LabNetwork lab, ScenarioSubscriber s, int index, ScenarioOptions options,
        string work, CancellationToken cancellationToken)
    {
        if (s.StartDelaySeconds > 0)
            await Task.Delay(TimeSpan.FromSeconds(s.StartDelaySeconds), cancellationToken);
        var json = Path.Combine(work, $"subscriber{index}.json");
        var duration = s.DurationSeconds ?? options.DurationSeconds + 2.5 - s.StartDelaySeconds;
        var args = new List<string>
        {
            FastRelayDll, "subscribe", "--relay", RelayAddress(lab.RelayDownstream.Address(s.Family)),
            "--channel", s.Channel.ToString(), "--duration", duration.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture),
            "--json", json,
        };
        if (s.RateLimitBytesPerSecond is { } rate)
            args.AddRange(["--rate-limit", rate.ToString()]);
        if (s.HistoryMs > 0)
            args.AddRange(["--history-ms", s.HistoryMs.ToString()]);
        var stderr = new StringBuilder();
        await lab.Command(lab.Subscribers[s.Host], "dotnet", args)
            .WithStandardErrorPipe(PipeTarget.ToStringBuilder(stderr))
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(cancellationToken);
        if (!File.Exists(json))
            throw new InvalidOperationException($"subscriber {index} wrote no report: {stderr}");
        return JsonSerializer.Deserialize(await File.ReadAllTextAsync(json, cancellationToken), CustomUdpJsonContext.Default.SubscriberReport)!;
    }

    private static async Task<PublisherReport> RunPublisherAsync(LabNetwork lab, ScenarioPublisher p, int index, ScenarioOptions options,
        string work, CancellationToken cancellationToken)
    {
        var json = Path.Combine(work, $"publisher{index}.json");
        var stderr = new StringBuilder();
        await lab.Command(lab.Publisher, "dotnet",
            [
                FastRelayDll, "publish", "--relay", RelayAddress(lab.RelayUpstream.Address(p.Family)), "--channel", p.Channel.ToString(),
                "--rate", p.RatePps.ToString(), "--size", p.PacketSize.ToString(), "--priorities", p.Priorities,
                "--duration", options.DurationSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "--json", json,
            ])
            .WithStandardErrorPipe(PipeTarget.ToStringBuilder(stderr))
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(cancellationToken);
        if (!File.Exists(json))
            throw new InvalidOperationException($"publisher {index} wrote no report: {stderr}");
        return JsonSerializer.Deserialize(await File.ReadAllTextAsync(json, cancellationToken), CustomUdpJsonContext.Default.PublisherReport)!;
    }

    private static string RelayAddress(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]:7400" : $"{address}:7400";

    /// <summary>This CLI's own dll, run as `dotnet fastrelay.dll VERB` inside the lab hosts.</summary>
    public static string FastRelayDll => typeof(RelayScenario).Assembly.Location;

    /// <summary>The relay's status as it writes it next after <paramref name="after"/> (it rewrites the file twice a
    /// second), so that its counters include everything sent before; the last one written when none comes within 3 s.</summary>
    private static async Task<RelayStatus?> StatusWrittenAfterAsync(string statusFile, DateTimeOffset after, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(3);
        RelayStatus? status = null;
        while (true)
        {
            try
            {
                if (File.Exists(statusFile))
                    status = RelayStatus.FromJson(await File.ReadAllTextAsync(statusFile, cancellationToken));
            }
            catch (IOException)
            {
                // replaced while we read it: the next look finds the new one
            }
            if (status is not null && status.Updated > after || DateTime.UtcNow > deadline)
                return status;
            await Task.Delay(50, cancellationToken);
        }
    }
}
