using System.Text;
using System.Text.Json;

namespace FastRelay.Cli.Scenario;

public sealed record DemoSubscriberLine(
    string Subscriber,
    string Family,
    long Sent,
    long Received,
    long Repaired,
    long Unrepaired,
    long IntegrityErrors,
    ulong ForwardedByRelay,
    double DelayP50Us,
    double DelayP99Us,
    string Mode);

/// <summary>The demo's result: one line per subscriber, and whether each received every packet.</summary>
public sealed record DemoSummary(string Mode, long Published, IReadOnlyList<DemoSubscriberLine> Subscribers, bool AllReceivedEverything)
{
    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static DemoSummary From(ScenarioResult result)
    {
        var published = result.Publishers.Sum(p => p.PacketsSent);
        var lines = result.Subscribers.Select((s, i) =>
        {
            var sent = result.Publishers.Where(p => p.Channel == s.Channel).Sum(p => p.PacketsSent);
            var relayView = result.RelayStatusDuringStream?.Subscribers
                .FirstOrDefault(r => r.Endpoint.StartsWith(EndpointPrefix(result, i), StringComparison.Ordinal));
            return new DemoSubscriberLine($"s{i}", s.Relay.StartsWith('[') ? "IPv6" : "IPv4", sent, s.Received, s.Repaired,
                s.UnrepairedGaps, s.IntegrityErrors, relayView?.Forwarded ?? 0, s.Delay.P50Us, s.Delay.P99Us, result.Mode);
        }).ToList();
        var complete = lines.All(l => l.Received + l.Repaired >= l.Sent && l.IntegrityErrors == 0 && l.Sent > 0);
        return new DemoSummary(result.Mode, published, lines, complete);
    }

    /// <summary>How the relay prints this subscriber's endpoint, up to the port: "10.x.0.10:" or "[fdxx::a]:".</summary>
    private static string EndpointPrefix(ScenarioResult result, int subscriber)
    {
        var iface = result.Lab.Hosts.First(h => h.Name == $"s{subscriber}").Interfaces[0];
        return result.Subscribers[subscriber].Relay.StartsWith('[')
            ? "[" + iface.IPv6.Split('/')[0] + "]:"
            : iface.IPv4.Split('/')[0] + ":";
    }

    public string ToText()
    {
        var text = new StringBuilder();
        text.AppendLine($"  {"sub",-4} {"family",-6} {"sent",7} {"received",9} {"repaired",9} {"lost",5} {"relay-forwarded",16} {"p50 µs",8} {"p99 µs",8}  mode");
        foreach (var l in Subscribers)
            text.AppendLine($"  {l.Subscriber,-4} {l.Family,-6} {l.Sent,7} {l.Received,9} {l.Repaired,9} {l.Unrepaired,5} {l.ForwardedByRelay,16} {l.DelayP50Us,8:0.0} {l.DelayP99Us,8:0.0}  {l.Mode}");
        text.Append(AllReceivedEverything
            ? "  every subscriber received every packet of its channel"
            : "  NOT every subscriber received every packet");
        return text.ToString();
    }
}
