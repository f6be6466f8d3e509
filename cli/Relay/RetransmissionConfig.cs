using System.Text.Json;
using FastRelay.Relay;
using FastRelay.Relay.Retransmission;

namespace FastRelay.Cli.Relay;

/// <summary>
/// The optional "retransmission" section of a generic relay's --config file: the relay keeps the upstream packets it
/// forwarded and answers re-requests in the protocol's own format on a port of their own. Read at start (a change needs
/// a restart; the channels' reload does not touch it):
/// <code>
/// "retransmission": { "format": "moldudp64", "port": 26478,
///                     "packetsPerChannel": 4096, "bytesPerChannel": 8388608,       // the history
///                     "bytesPerSecond": 1000000, "burstBytes": 262144,             // each requester's budget
///                     "packetsPerRequest": 64 }
/// </code>
/// </summary>
public sealed record RetransmissionConfig(IRetransmissionFormat Format, int Port, RetransmissionOptions Options)
{
    public const string Key = "retransmission";
    private static readonly string[] Keys = ["format", "port", "packetsPerChannel", "bytesPerChannel", "bytesPerSecond", "burstBytes", "packetsPerRequest"];

    /// <summary>The section of the file, or null when it has none (retransmission is opt-in).</summary>
    public static RetransmissionConfig? Load(string path, ProtocolFeatures features)
    {
        try
        {
            return Parse(File.ReadAllText(path), path, features);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"{path}: {e.Message}", e);
        }
    }

    public static RetransmissionConfig? Parse(string json, string path, ProtocolFeatures features)
    {
        var root = RelayConfigFile.ParseRoot(json, path);
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty(Key, out var section) || section.ValueKind == JsonValueKind.Null)
            return null;
        UserFacingException Error(string key, string problem) => new($"{path}: {Key}{(key.Length > 0 ? "." + key : "")}: {problem}");
        if (section.ValueKind != JsonValueKind.Object)
            throw Error("", $"expected an object, found {section.ValueKind.ToString().ToLowerInvariant()}");
        foreach (var property in section.EnumerateObject())
            if (!Keys.Contains(property.Name, StringComparer.Ordinal))
                throw Error(property.Name, $"unknown key (keys: {string.Join(", ", Keys)})");
        if (!features.HasPacketNumber)
            throw Error("", $"descriptor {features.Protocol.DescriptorType} has no [PacketNumber]: there is no sequence to re-request by");
        if (features.RenumbersPerSubscriber)
            throw Error("", $"descriptor {features.Protocol.DescriptorType} renumbers per subscriber: requests name the subscriber's numbers, " +
                "which this service does not map back (it keeps the publisher's)");
        if (!section.TryGetProperty("format", out var formatValue) || formatValue.ValueKind != JsonValueKind.String)
            throw Error("format", $"missing or not a string (formats: {string.Join(", ", RetransmissionFormats.Names)})");
        var format = RetransmissionFormats.Find(formatValue.GetString()!)
                     ?? throw Error("format", $"\"{formatValue.GetString()}\" is not a known format (formats: {string.Join(", ", RetransmissionFormats.Names)})");
        long Number(string key, long min, long max, long fallback)
        {
            if (!section.TryGetProperty(key, out var n))
                return fallback;
            if (n.ValueKind != JsonValueKind.Number || !n.TryGetInt64(out var v) || v < min || v > max)
                throw Error(key, $"expected an integer in {min}..{max}, found {n.GetRawText()}");
            return v;
        }
        if (!section.TryGetProperty("port", out _))
            throw Error("port", "missing: requests arrive on a port of their own");
        var port = (int)Number("port", 1, 65535, 0);
        var defaults = new RetransmissionOptions();
        var options = new RetransmissionOptions(
            PacketsPerChannel: (int)Number("packetsPerChannel", 1, 1 << 20, defaults.PacketsPerChannel),
            BytesPerChannel: Number("bytesPerChannel", 1500, 1L << 30, defaults.BytesPerChannel),
            BytesPerSecond: Number("bytesPerSecond", 1, long.MaxValue / 1000, defaults.BytesPerSecond),
            BurstBytes: Number("burstBytes", 1500, long.MaxValue / 2, defaults.BurstBytes),
            PacketsPerRequest: (int)Number("packetsPerRequest", 1, 1024, defaults.PacketsPerRequest));
        return new RetransmissionConfig(format, port, options);
    }
}
