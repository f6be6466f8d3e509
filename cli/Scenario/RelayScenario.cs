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

/// <summary>One subscriber of a scenario: which lab host, which channel, how it reaches the relay, what it asks for.
/// By default it subscribes before the stream starts and runs until the stream has ended and the relay's status was taken.
/// <paramref name="StartWhen"/> starts it only once the relay's status (rewritten twice a second) satisfies the condition,
/// <paramref name="StopWhen"/> stops it (UNSUBSCRIBE) as soon as the status does: steps of a scenario follow what the relay
/// did, not a clock, so slow process start-ups on a loaded machine cannot reorder them.</summary>
public sealed record ScenarioSubscriber(int Host, ushort Channel, AddressFamily Family = AddressFamily.InterNetwork,
    uint? RateLimitBytesPerSecond = null, double LossPercent = 0, uint HistoryMs = 0,
    Func<RelayStatus, bool>? StartWhen = null, Func<RelayStatus, bool>? StopWhen = null);

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
        using var stopSubscribers = new CancellationTokenSource();
        try
        {
            foreach (var (subscriber, index) in options.Subscribers.Select((s, i) => (s, i)))
                if (subscriber.LossPercent > 0)
                    await lab.SetLossAsync(lab.Subscribers[subscriber.Host], subscriber.LossPercent, seed: (ulong)(index + 1), cancellationToken: cancellationToken);

            var subscriberRuns = options.Subscribers
                .Select((s, i) => RunSubscriberAsync(lab, s, i, work, statusFile, stopSubscribers.Token, cancellationToken)).ToList();
            // The relay numbers a subscriber's copies from its acceptance: one accepted after the first packets never gets
            // them (and rightly does not call them lost). So no data flows before the relay has every subscriber that
            // starts at once; a late subscriber's process start-up on a loaded machine took more than the 700 ms once
            // waited here.
            await WaitForSubscribersAsync(statusFile, SubscribersAtStart(options), relay, cancellationToken);
            if (options.BeforePublishing is { } before)
                await before(lab);
            options.Progress?.Invoke($"publishing for {options.DurationSeconds:0.#} s");
            var publisherRuns = options.Publishers.Select((p, i) => RunPublisherAsync(lab, p, i, options, work, cancellationToken)).ToList();
            var publishers = await Task.WhenAll(publisherRuns);
            // A status written after the publishers ended counts everything they sent. The subscribers are still there
            // (they run until stopped below, and the relay keeps them subscribed while the channel is quiet).
            var streamEnded = DateTimeOffset.UtcNow;
            await Task.Delay(300, cancellationToken); // repairs in flight
            var status = await StatusWrittenAfterAsync(statusFile, streamEnded, cancellationToken);
            if (options.DuringStream is { } during)
                await during(lab, lab.BpfFsPath);
            stopSubscribers.Cancel();
            var subscribers = await Task.WhenAll(subscriberRuns);
            options.Progress?.Invoke("done; stopping relay and removing the lab");
            var log = await relay.StopAsync();
            return new ScenarioResult(options.Mode == RelayMode.FastPath ? "fastpath" : "userspace", lab.Describe(), publishers, subscribers, status, log);
        }
        finally
        {
            stopSubscribers.Cancel(); // also when the scenario failed: no subscriber outlives it
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>How many subscribers the relay must have accepted before data flows: those that start at once, as far
    /// as the relay takes them.</summary>
    private static int SubscribersAtStart(ScenarioOptions options) =>
        Math.Min(options.Subscribers.Count(s => s.StartWhen is null), options.RelayMaxSubscribers ?? int.MaxValue);

    /// <summary>Waits until the relay's status lists <paramref name="count"/> subscribers.</summary>
    private static Task WaitForSubscribersAsync(string statusFile, int count, RelayProcess relay, CancellationToken cancellationToken) =>
        WaitForStatusAsync(statusFile, s => s.Subscribers.Count >= count, $"the relay accepts {count} subscriber(s)", cancellationToken,
            () => relay.Log);

    /// <summary>Waits until the relay's status satisfies <paramref name="condition"/>; generous, as five `dotnet` processes
    /// starting on two shared cores under load have taken seconds.</summary>
    private static async Task WaitForStatusAsync(string statusFile, Func<RelayStatus, bool> condition, string what,
        CancellationToken cancellationToken, Func<string>? log = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (await TryReadStatusAsync(statusFile, cancellationToken) is { } status && condition(status))
                return;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"not within 60 s: {what}" + (log is null ? "" : ":\n" + log()));
            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>Runs one subscriber process from its start condition until its stop condition or <paramref name="stop"/>
    /// (SIGTERM: the subscriber unsubscribes and writes its report), so that none ends before the stream does, however
    /// slowly the processes start.</summary>
    private static async Task<SubscriberReport> RunSubscriberAsync(LabNetwork lab, ScenarioSubscriber s, int index, string work,
        string statusFile, CancellationToken stop, CancellationToken cancellationToken)
    {
        if (s.StartWhen is { } startWhen)
            await WaitForStatusAsync(statusFile, startWhen, $"the start condition of subscriber {index}", cancellationToken);
        var json = Path.Combine(work, $"subscriber{index}.json");
        var args = new List<string>
        {
            FastRelayDll, "subscribe", "--relay", RelayAddress(lab.RelayDownstream.Address(s.Family)),
            "--channel", s.Channel.ToString(), "--json", json,
        };
        if (s.RateLimitBytesPerSecond is { } rate)
            args.AddRange(["--rate-limit", rate.ToString()]);
        if (s.HistoryMs > 0)
            args.AddRange(["--history-ms", s.HistoryMs.ToString()]);
        var stderr = new StringBuilder();
        var run = lab.Command(lab.Subscribers[s.Host], "dotnet", args)
            .WithStandardErrorPipe(PipeTarget.ToStringBuilder(stderr))
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(cancellationToken);
        // ip netns exec execs the program: the process id is the subscriber's own.
        using var stopThis = CancellationTokenSource.CreateLinkedTokenSource(stop);
        await using (stopThis.Token.Register(() =>
                     {
                         if (!run.Task.IsCompleted)
                             ProcessSignals.Terminate(run.ProcessId);
                     }))
        {
            if (s.StopWhen is { } stopWhen)
                _ = StopWhenAsync(statusFile, stopWhen, stopThis, run.Task);
            await run;
        }
        if (!File.Exists(json))
            throw new InvalidOperationException($"subscriber {index} wrote no report: {stderr}");
        return JsonSerializer.Deserialize(await File.ReadAllTextAsync(json, cancellationToken), CustomUdpJsonContext.Default.SubscriberReport)!;
    }

    /// <summary>Cancels <paramref name="stopThis"/> once the relay's status satisfies <paramref name="condition"/>, unless the
    /// subscriber ended first.</summary>
    private static async Task StopWhenAsync(string statusFile, Func<RelayStatus, bool> condition, CancellationTokenSource stopThis, Task ended)
    {
        try
        {
            while (!ended.IsCompleted && !stopThis.IsCancellationRequested)
            {
                if (await TryReadStatusAsync(statusFile, CancellationToken.None) is { } status && condition(status))
                {
                    stopThis.Cancel();
                    return;
                }
                await Task.Delay(50);
            }
        }
        catch (ObjectDisposedException)
        {
            // the subscriber's run is over and its token source gone
        }
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
            status = await TryReadStatusAsync(statusFile, cancellationToken) ?? status;
            if (status is not null && status.Updated > after || DateTime.UtcNow > deadline)
                return status;
            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>The relay's status file, or null when there is none yet.</summary>
    private static async Task<RelayStatus?> TryReadStatusAsync(string statusFile, CancellationToken cancellationToken)
    {
        try
        {
            return File.Exists(statusFile) ? RelayStatus.FromJson(await File.ReadAllTextAsync(statusFile, cancellationToken)) : null;
        }
        catch (IOException)
        {
            return null; // replaced while we read it: the next look finds the new one
        }
    }
}
