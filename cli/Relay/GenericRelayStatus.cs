using System.Text.Json;
using System.Text.Json.Serialization;
using FastRelay.Generated;
using FastRelay.Relay;

namespace FastRelay.Cli.Relay;

/// <summary>A snapshot of a running generic relay, written beside the custom-UDP relays' status files and printed by
/// `fastrelay status`; <see cref="Kind"/> tells the two formats apart.</summary>
public sealed record GenericRelayStatus(
    string Kind,
    string Name,
    string Mode,
    string Protocol,
    string Descriptor,
    int Port,
    int ProcessId,
    DateTimeOffset Updated,
    string Sequence,
    IReadOnlyList<string> Attachments,
    IReadOnlyList<GenericChannelStatus> Channels,
    IReadOnlyList<GenericSubscriberStatus> Subscribers,
    long AbsorbedPackets,
    IReadOnlyDictionary<string, ulong> Kernel,
    GenericControlStatus? Control = null,
    GenericRetransmissionStatus? Retransmission = null)
{
    public const string KindName = "generic";

    public string ToJson() => JsonSerializer.Serialize(this, GenericRelayStatusJson.Default.GenericRelayStatus);

    public static GenericRelayStatus? FromJson(string json) => JsonSerializer.Deserialize(json, GenericRelayStatusJson.Default.GenericRelayStatus);

    /// <summary>True when a status file's JSON is this format (the custom-UDP relay's has no "kind").</summary>
    public static bool IsGeneric(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.ValueKind == JsonValueKind.Object
                   && document.RootElement.TryGetProperty("kind", out var kind) && kind.ValueKind == JsonValueKind.String && kind.GetString() == KindName;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    public void Print(TextWriter output, bool running)
    {
        output.WriteLine($"relay {Name}: generic host ({Mode}) for {Protocol} ({Descriptor}), UDP {Port}, sequence numbers {Sequence}, pid {ProcessId} ({(running ? "running" : "not running")}), updated {Updated:HH:mm:ss}");
        foreach (var a in Attachments)
            output.WriteLine($"  attached: {a}");
        if (Control is not null)
            output.WriteLine($"  control API: {Control.Url} (token in {Control.TokenFile})");
        foreach (var c in Channels)
            output.WriteLine($"  channel {c.Id}: upstream {c.Upstream ?? "any sender"}, {c.Subscribers} subscribers");
        output.WriteLine($"  {"slot",4} {"subscriber",-28} {"channel",10} {"forwarded",10} {"bytes",12} {"budget-drop",11}");
        foreach (var s in Subscribers)
            output.WriteLine($"  {(s.Slot < 0 ? "-" : s.Slot.ToString()),4} {s.Name + (s.Owner == "api" ? " (api)" : ""),-28} {s.Channel,10} {s.Forwarded,10} {s.ForwardedBytes,12} {s.DroppedByBudget,11}" +
                             (s.Problem is null ? "" : $"  waiting: {s.Problem}"));
        output.WriteLine($"  {(Mode == "userspace" ? "copy loop" : "kernel")}: {string.Join(", ", Kernel.Select(k => $"{k.Key} {k.Value}"))}; absorbed by the relay socket: {AbsorbedPackets}");
        if (Retransmission is { } r)
            output.WriteLine($"  retransmission ({r.Format}, UDP {r.Port}): {r.Counters.Requests} requests, {r.Counters.Answered} answered with {r.Counters.PacketsSent} packets " +
                             $"({r.Counters.BytesSent} bytes); refused: {r.Counters.Malformed} malformed, {r.Counters.NotSubscriber} not from a subscriber; " +
                             $"{r.Counters.NothingKept} found nothing kept, {r.Counters.CutByBudget} cut by budget; {r.Counters.Recorded} upstream packets kept");
    }
}

public sealed record GenericChannelStatus(ulong Id, string? Upstream, int Subscribers);

/// <param name="Owner">"file" (listed in the configuration file) or "api" (added through the control API).</param>
public sealed record GenericSubscriberStatus(ulong Channel, string Name, string Address, int Slot, string? Problem, ulong Forwarded, ulong ForwardedBytes, ulong DroppedByBudget, ulong Received,
    string Owner = "file", BudgetPlan? Budget = null);

/// <summary>The retransmission service's format, port and counters (with a "retransmission" section only).</summary>
public sealed record GenericRetransmissionStatus(string Format, int Port, FastRelay.Relay.Retransmission.RetransmissionCounters Counters);

/// <summary>Where the relay's control API listens and which file holds its token (`relay ctl --name` reads both).</summary>
public sealed record GenericControlStatus(string Url, string TokenFile);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(GenericRelayStatus))]
internal sealed partial class GenericRelayStatusJson : JsonSerializerContext;

/// <summary>Writes the status file about once a second (atomically: a reader never sees half a file) and removes it when
/// the relay stops cleanly.</summary>
internal sealed class GenericRelayStatusWriter(GenericRelayOptions options, GeneratedProtocol protocol, FastPathHost? fastPath, RelayPlanSources sources, AbsorbedCounter absorbed)
{
    private readonly RelayHost host = sources.Host;

    /// <summary>Set once the control API listens.</summary>
    public GenericControlStatus? Control { get; set; }

    /// <summary>Set when the configuration turns retransmission on.</summary>
    public (FastRelay.Relay.Retransmission.RetransmissionService Service, int Port)? Retransmission { get; set; }

    /// <summary>The fr_stats counters worth a glance; the rest stay in `bpftool map dump`.</summary>
    private static readonly string[] KernelCounters =
        ["upstream_seen", "upstream_matched", "upstream_not_matched", "upstream_no_channel", "upstream_foreign_source", "clones", "clone_errors", "egress_rewritten", "events_lost"];

    private long _next;

    public GenericRelayStatus Snapshot()
    {
        var features = host.Features;
        var plan = host.Plan;
        var subscribers = host.Subscribers();
        var kernel = host.Plane.PlaneCounters();
        return new GenericRelayStatus(
            GenericRelayStatus.KindName, options.Name ?? protocol.Name, host.Plane.Mode, protocol.Name, protocol.DescriptorType, host.Port, Environment.ProcessId, DateTimeOffset.Now,
            features.SequenceDescription,
            (fastPath?.Attachments ?? []).Select(a => $"{a.ProgramName} on {FastRelay.Net.NetDevice.NameOf(a.Ifindex) ?? a.Ifindex.ToString()} {a.Direction.ToString().ToLowerInvariant()} ({a.Mode})").ToList(),
            plan.Channels.Select(c => new GenericChannelStatus(c.Id, c.Upstream?.ToString(), c.Subscribers.Count)).ToList(),
            subscribers.Select(s => new GenericSubscriberStatus(s.Channel, s.Plan.Name ?? s.Plan.Address.ToString(), s.Plan.Address.ToString(), s.Slot, s.Problem,
                s.Counters.ForwardedPackets, s.Counters.ForwardedBytes, s.Counters.DroppedBudget, s.Counters.ReceivedPackets,
                sources.OwnerOf(s.Channel, s.Plan.Address) == SubscriberOwner.Api ? "api" : "file", s.Plan.Budget)).ToList(),
            Interlocked.Read(ref absorbed.Packets),
            KernelCounters.Where(kernel.ContainsKey).ToDictionary(k => k, k => kernel[k]),
            Control,
            Retransmission is var (service, port) ? new GenericRetransmissionStatus(service.Format.Name, port, service.Counters()) : null);
    }

    public void WriteIfDue()
    {
        if (options.StatusFile is not { } path || Environment.TickCount64 < _next)
            return;
        _next = Environment.TickCount64 + 1000;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, Snapshot().ToJson());
        File.Move(temporary, path, overwrite: true);
    }

    public void Remove()
    {
        if (options.StatusFile is { } path && File.Exists(path))
            File.Delete(path);
    }
}
