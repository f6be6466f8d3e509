using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using FastRelay.Cli.Lab;
using FastRelay.Cli.Relay;
using FastRelay.Protocols.Moq.Clients;
using FastRelay.Protocols.Moq.Relay.Status;

namespace FastRelay.Cli.Scenario;

/// <summary>One subscriber of the MoQ demo: its lab host, the family it reaches the relay with, whether it offers the
/// fast path (0xBAAD) or stays encrypted, the share of UDP packets its link drops on the way in (seeded), and a cap on
/// its link's rate towards it (bits/s, 0 = none: a congested access link).</summary>
public sealed record MoqDemoSubscriber(int Host, AddressFamily Family, bool FastPath = true, double LossPercent = 0, long RateLimitBitsPerSecond = 0);

public sealed record MoqDemoOptions
{
    public RelayMode Mode { get; init; } = RelayMode.FastPath;
    public double DurationSeconds { get; init; } = 6;
    public double FramesPerSecond { get; init; } = 30;
    public int GopFrames { get; init; } = 30;
    public string Bitrate { get; init; } = "2M";
    public required IReadOnlyList<MoqDemoSubscriber> Subscribers { get; init; }
    public string? ObjectPath { get; init; }
    public Action<string>? Progress { get; init; }

    /// <summary>The publisher's first object leaves this long after the relay's SUBSCRIBE (made for the first subscriber
    /// that joined): time for the other subscriber processes to subscribe too, so each receives the whole track as it is
    /// sent, through the kernel. One that joins later still gets every object: the first group from the relay's cache
    /// (by userspace), the rest through the kernel.</summary>
    public double JoinSeconds { get; init; } = 2;

    public long Objects => (long)Math.Round(DurationSeconds * FramesPerSecond);
}

/// <summary>What the MoQ demo produced: the publisher's and every subscriber's own report, and the relay's status
/// once every subscriber left (its fast-path figures per subscriber connection).</summary>
public sealed record MoqDemoResult(MoqDemoOptions Options, LabDescription Lab, MoqPublisherReport Publisher,
    IReadOnlyList<(MoqDemoSubscriber Subscriber, string Address, MoqSubscriberReport Report)> Subscribers, MoqRelayStatus? RelayStatus);

/// <summary>
/// The flagship demo for real: a lab, `moq relay` (the QUIC kernel fast path attached to both relay interfaces, or
/// userspace), `moq publish` of a synthetic video-like track and the demo's `moq subscribe`s, each a separate
/// `fastrelay` process in its own network namespace. The publisher waits until every subscriber has subscribed, so each
/// gets the whole track; every process's JSON report and the relay's status are collected. The lab and every process
/// are removed afterwards, also on failure.
/// </summary>
public static class MoqDemoScenario
{
    private const int Port = 4443;
    private const string Namespace = "demo/cam1";
    private const string TrackName = "video";
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(90);

    public static async Task<MoqDemoResult> RunAsync(MoqDemoOptions options, CancellationToken cancellationToken = default)
    {
        var hosts = options.Subscribers.Max(s => s.Host) + 1;
        options.Progress?.Invoke($"lab up: publisher, relay (2 interfaces), {hosts} subscriber host(s)");
        await using var lab = await LabTopology.UpAsync(new LabOptions { Subscribers = hosts, RelayInterfaces = 2 }, cancellationToken);
        var work = Directory.CreateTempSubdirectory("fastrelay-moq-demo-").FullName;
        var processes = new List<MoqLabProcess>();
        try
        {
            var statusDir = Path.Combine(work, "status");
            string[] fastPath = options.Mode == RelayMode.FastPath
                ? ["--mode", "fastpath", "--interface", lab.RelayUpstream.Name, "--interface", lab.RelayDownstream.Name, "--bpffs", lab.BpfFsPath,
                   .. options.ObjectPath is { } o ? new[] { "--object", o } : []]
                : ["--mode", "userspace"];
            options.Progress?.Invoke(options.Mode == RelayMode.FastPath
                ? "starting moq relay --mode fastpath (generates and attaches the quic_moq TC programs)"
                : "starting moq relay --mode userspace");
            var relay = Started(processes, MoqLabProcess.Start(lab, lab.Relay, "relay",
                ["relay", "--address", "::", "--port", Port.ToString(CultureInfo.InvariantCulture), "--name", "demo", "--status-dir", statusDir, .. fastPath]));
            await relay.WaitForLogAsync(l => l.Contains("listening on"), "'listening on'", StepTimeout, cancellationToken);

            options.Progress?.Invoke($"publishing {options.Objects} objects ({options.FramesPerSecond:0.#}/s, a group every {options.GopFrames}, {options.Bitrate}bit/s), the first {options.JoinSeconds:0.#} s after the first subscription");
            var publisherJson = Path.Combine(work, "publisher.json");
            var publisher = Started(processes, MoqLabProcess.Start(lab, lab.Publisher, "publisher",
                ["publish", UrlOf(lab.RelayUpstream.IPv4), "-k", "-n", Namespace, "-t", TrackName, "--fast-path",
                 "--fps", Invariant(options.FramesPerSecond), "--gop", Invariant(options.GopFrames), "--bitrate", options.Bitrate,
                 "--count", Invariant(options.Objects), "--wait-for-subscriber", "--delay", Invariant(options.JoinSeconds), "--json", publisherJson]));
            await relay.WaitForLogAsync(l => l.Contains("publishes namespace"), "the publisher's PUBLISH_NAMESPACE", StepTimeout, cancellationToken);

            foreach (var (s, i) in options.Subscribers.Select((s, i) => (s, i)).Where(x => x.s.LossPercent > 0))
                await lab.SetLossAsync(lab.Subscribers[s.Host], s.LossPercent, seed: (ulong)(i + 1), cancellationToken: cancellationToken);
            foreach (var s in options.Subscribers.Where(s => s.RateLimitBitsPerSecond > 0))
                await lab.SetRateLimitAsync(lab.Subscribers[s.Host], s.RateLimitBitsPerSecond, cancellationToken: cancellationToken);
            var subscribers = new List<(MoqDemoSubscriber, string Address, MoqLabProcess Process, string Json)>();
            foreach (var (s, i) in options.Subscribers.Select((s, i) => (s, i)))
            {
                var address = lab.RelayDownstream.Address(s.Family);
                var json = Path.Combine(work, $"s{i}.json");
                var process = Started(processes, MoqLabProcess.Start(lab, lab.Subscribers[s.Host], $"s{i}",
                    ["subscribe", UrlOf(address), "-k", "-n", Namespace, "-t", TrackName, "--start", "absolute 0/0",
                     "--expect", Invariant(options.Objects), "--duration", Invariant(options.DurationSeconds + StepTimeout.TotalSeconds),
                     "--json", json, .. s.FastPath ? new[] { "--fast-path" } : []]));
                subscribers.Add((s, lab.Subscribers[s.Host].Address(s.Family).ToString(), process, json));
            }
            await relay.WaitForLogAsync(l => MoqRelayLog.AcceptedSubscriptions(l) >= subscribers.Count, "a SUBSCRIBE from every subscriber", StepTimeout, cancellationToken);
            options.Progress?.Invoke($"{subscribers.Count} subscriber(s) subscribed; streaming");

            var reports = new List<(MoqDemoSubscriber, string, MoqSubscriberReport)>();
            foreach (var (s, address, process, json) in subscribers)
            {
                await process.WaitForExitAsync(StepTimeout + TimeSpan.FromSeconds(options.DurationSeconds));
                reports.Add((s, address, ReadReport(json, MoqClientJsonContext.Default.MoqSubscriberReport, process)));
            }
            await publisher.WaitForExitAsync(StepTimeout);
            var published = ReadReport(publisherJson, MoqClientJsonContext.Default.MoqPublisherReport, publisher);

            // The status is rewritten every second; once no subscriber holds a kernel slot it has their final figures.
            var (status, _) = await MoqRelayStatusFile.WaitAsync(Path.Combine(statusDir, "demo.json"),
                s => options.Mode != RelayMode.FastPath || s.FastPath is { Slots: 0 }, TimeSpan.FromSeconds(10), cancellationToken);
            options.Progress?.Invoke("done; stopping the relay and removing the lab");
            return new MoqDemoResult(options, lab.Describe(), published, reports, status);
        }
        finally
        {
            for (var i = processes.Count - 1; i >= 0; i--)
                await processes[i].DisposeAsync();
            Directory.Delete(work, recursive: true);
        }
    }

    private static MoqLabProcess Started(List<MoqLabProcess> processes, MoqLabProcess process)
    {
        processes.Add(process);
        return process;
    }

    private static T ReadReport<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, MoqLabProcess process) =>
        File.Exists(path) && JsonSerializer.Deserialize(File.ReadAllText(path), type) is { } report
            ? report
            : throw new UserFacingException($"{process.Name} wrote no report:\n{process.Log}");

    private static string UrlOf(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? $"moqt://[{address}]:{Port}/" : $"moqt://{address}:{Port}/";

    private static string Invariant(IFormattable value) => value.ToString(null, CultureInfo.InvariantCulture);
}
