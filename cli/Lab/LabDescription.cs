using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace FastRelay.Cli.Lab;

/// <summary>The serialisable picture of a lab: `fastrelay lab up --json` output and the registry record.</summary>
/// <param name="State">"creating" while <see cref="LabTopology.UpAsync"/> runs, "up" afterwards.</param>
/// <param name="Namespaces">Every namespace the lab owns (also those not created yet while creating).</param>
public sealed record LabDescription(
    string Prefix,
    string State,
    int RelayInterfaces,
    int Subscribers,
    int? Mtu,
    string SwitchNamespace,
    string Bridge,
    IReadOnlyList<string> Namespaces,
    IReadOnlyList<LabHostDescription> Hosts,
    int CreatorPid,
    DateTimeOffset CreatedAt)
{
    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static LabDescription FromJson(string json) =>
        JsonSerializer.Deserialize<LabDescription>(json, JsonOptions) ?? throw new JsonException("empty lab description");

    /// <summary>A table for humans.</summary>
    public string ToText()
    {
        var text = new StringBuilder();
        text.AppendLine($"lab {Prefix} ({State}): {RelayInterfaces} relay interface{(RelayInterfaces == 1 ? "" : "s")}, " +
                        $"{Subscribers} subscriber{(Subscribers == 1 ? "" : "s")}, MTU {Mtu?.ToString() ?? "default"}");
        text.AppendLine($"  switch: bridge {Bridge} in {SwitchNamespace}");
        text.AppendLine($"  {"host",-6} {"namespace",-16} {"if",-5} {"idx",3}  {"mac",-17}  {"ipv4",-15}  {"ipv6",-22}  segment");
        foreach (var host in Hosts)
        foreach (var nic in host.Interfaces)
            text.AppendLine($"  {host.Name,-6} {host.Namespace,-16} {nic.Name,-5} {nic.IfIndex,3}  {nic.Mac,-17}  {nic.IPv4,-15}  {nic.IPv6,-22}  {nic.Segment}");
        // Commands a user can paste from the repository root (`./fastrelay` is the wrapper there; nothing is on PATH).
        text.AppendLine($"  run in a host: ip netns exec {Prefix}-<host> <command>   (from the repository root)");
        text.AppendLine($"  relay:         ip netns exec {Prefix}-relay ./fastrelay relay --bpffs {LabBpfFs.PathFor(Prefix)}   (pins visible outside)");
        var firstSubscriber = Hosts.FirstOrDefault(h => h.Role == "subscriber");
        var publisher = Hosts.FirstOrDefault(h => h.Role == "publisher");
        if (firstSubscriber is not null && RelayAddressFor(firstSubscriber) is { } down)
            text.AppendLine($"  subscribe:     ip netns exec {firstSubscriber.Namespace} ./fastrelay subscribe --relay {down} --channel 1 --duration 10");
        if (publisher is not null && RelayAddressFor(publisher) is { } up)
            text.AppendLine($"  publish:       ip netns exec {publisher.Namespace} ./fastrelay publish --relay {up} --channel 1 --rate 1000 --duration 5");
        text.Append($"  remove:        ./fastrelay lab down {Prefix}");
        return text.ToString();
    }

    /// <summary>The relay's IPv4 address a host reaches directly (same segment), else the relay's first one (routed).</summary>
    private string? RelayAddressFor(LabHostDescription host)
    {
        var relay = Hosts.FirstOrDefault(h => h.Role == "relay");
        if (relay is null || relay.Interfaces.Count == 0)
            return null;
        var segments = host.Interfaces.Select(i => i.Segment).ToHashSet();
        var nic = relay.Interfaces.FirstOrDefault(i => segments.Contains(i.Segment)) ?? relay.Interfaces[0];
        return nic.IPv4.Split('/')[0];
    }
}

public sealed record LabHostDescription(string Name, string Role, string Namespace, IReadOnlyList<LabInterfaceDescription> Interfaces);

/// <param name="IPv4">Address with prefix length, e.g. 10.58.0.1/24.</param>
/// <param name="IPv6">Address with prefix length, e.g. fd3a::1/64.</param>
public sealed record LabInterfaceDescription(
    string Name,
    int IfIndex,
    string Mac,
    [property: JsonPropertyName("ipv4")] string IPv4,
    [property: JsonPropertyName("ipv6")] string IPv6,
    string Segment);
