using System.Globalization;
using System.Text;
using System.Text.Json;
using FastRelay.Protocols.Moq.Relay.Status;

namespace FastRelay.Cli.Scenario;

/// <param name="KernelShare">Share of the subscriber's fast-path subgroup stream bytes the kernel forwarded (the
/// relay's per-connection figures); null when it was never on a kernel slot (encrypted, or a userspace relay).</param>
/// <param name="RelayPacketsLost">Packets the relay's QUIC stack declared lost on the subscriber's fast-path
/// connection (their data was sent again from the relay's copy).</param>
public sealed record MoqDemoSubscriberLine(
    string Subscriber,
    string Family,
    string Connection,
    long Sent,
    long Received,
    long Missing,
    long Duplicates,
    long IntegrityFailures,
    long LatencyP50Us,
    long LatencyP99Us,
    long KernelBytes,
    long RelayBytes,
    double? KernelShare,
    long RelayPacketsLost,
    string Groups,
    string? EndedBecause);

/// <summary>The MoQ demo's result: the publisher's totals, one line per subscriber, the relay's fast-path totals, and
/// whether every subscriber received every object intact.</summary>
public sealed record MoqDemoSummary(
    string Mode,
    long Published,
    long PublishedBytes,
    double PublishedObjectsPerSecond,
    IReadOnlyList<MoqDemoSubscriberLine> Subscribers,
    MoqFastPathStatus? FastPath,
    bool AllReceivedEverything)
{
    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static MoqDemoSummary From(MoqDemoResult result)
    {
        var fastPath = result.RelayStatus?.FastPath;
        var lines = result.Subscribers.Select((x, i) =>
        {
            var (subscriber, address, report) = x;
            // The relay names the connection by its remote endpoint; on a dual-stack socket an IPv4 peer reads
            // "[::ffff:10.x.0.10]:port".
            var slots = fastPath?.Subscribers?.Where(f => SameAddress(f.Remote, address)).ToList() ?? [];
            long kernel = slots.Sum(f => f.KernelBytes), relay = slots.Sum(f => f.UserspaceBytes);
            return new MoqDemoSubscriberLine($"s{i}", subscriber.Family == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4",
                subscriber.FastPath ? "fast-path" : "encrypted", result.Publisher.Objects, report.Verified, report.MissingObjects, report.Duplicates,
                report.IntegrityFailures, report.Latency.P50Us, report.Latency.P99Us, kernel, relay,
                slots.Count == 0 ? null : kernel + relay == 0 ? 0 : (double)kernel / (kernel + relay), slots.Sum(f => f.PacketsLost),
                $"{report.FirstGroup?.ToString() ?? "-"}..{report.LastGroup?.ToString() ?? "-"}", report.EndedBecause);
        }).ToList();
        var complete = result.Publisher.Objects > 0 && result.Publisher.StoppedBecause is null &&
                       lines.All(l => l.Received == l.Sent && l.Missing == 0 && l.Duplicates == 0 && l.IntegrityFailures == 0);
        return new MoqDemoSummary(result.Options.Mode == Relay.RelayMode.FastPath ? "fastpath" : "userspace", result.Publisher.Objects,
            result.Publisher.Bytes, result.Publisher.ObjectsPerSecond, lines, fastPath, complete);
    }

    private static bool SameAddress(string remoteEndPoint, string address) =>
        System.Net.IPEndPoint.TryParse(remoteEndPoint, out var remote) && System.Net.IPAddress.TryParse(address, out var expected) &&
        (remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address).Equals(expected);

    public string ToText()
    {
        var text = new StringBuilder();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"  publisher: {Published} objects, {PublishedBytes / 1e6:0.###} MB, {PublishedObjectsPerSecond:0.#} objects/s"));
        text.AppendLine($"  {"sub",-4} {"family",-6} {"connection",-10} {"sent",6} {"received",9} {"missing",8} {"p50 µs",8} {"p99 µs",8} {"kernel bytes",13} {"relay bytes",12} {"kernel",7}");
        foreach (var l in Subscribers)
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"  {l.Subscriber,-4} {l.Family,-6} {l.Connection,-10} {l.Sent,6} {l.Received,9} {l.Missing,8} {l.LatencyP50Us,8} {l.LatencyP99Us,8} {l.KernelBytes,13} {l.RelayBytes,12} {(l.KernelShare is { } k ? k.ToString("P1", CultureInfo.InvariantCulture) : "-"),7}"));
        if (FastPath is { } f)
            text.AppendLine($"  relay kernel fast path: {f.TappedStreams} subgroup streams tapped, {f.KernelForwardedBytes} bytes in {f.ForwardedPackets} packets forwarded by TC, " +
                            $"{f.NotForwardedPackets} left to userspace");
        text.Append(AllReceivedEverything
            ? "  every subscriber received every object intact"
            : "  NOT every subscriber received every object intact");
        return text.ToString();
    }
}
