using System.Net;
using System.Text.Json;
using FastRelay.Relay;

namespace FastRelay.Cli.Relay;

/// <summary>How the kernel treats a protocol's sequence numbers, as a configuration states it.</summary>
public enum SequenceSemantics
{
    /// <summary>The publisher's numbers reach every subscriber unchanged (consumers that gap-detect on them).</summary>
    Passthrough,

    /// <summary>Each subscriber gets its own gapless numbering of what it was sent.</summary>
    Renumber,
}

/// <summary>
/// The sections of a generic relay's --config file that the relay reads itself and reloads while it runs (the other keys
/// are the command's options, see <see cref="ConfigFile"/>):
/// <code>
/// {
///   "sequence": "passthrough",                     // optional: states what the descriptor does (checked)
///   "channels": [
///     { "id": 305419896,                           // the channel field's value (0 without one)
///       "upstream": "10.0.0.2:5004",               // the one allowed sender; omit to admit any
///       "streams": [1, 2],                         // only for descriptors that translate stream ids: which are forwarded
///       "subscribers": [ "10.1.0.2:6000",          // an address, or an object with options:
///                        { "address": "10.1.0.3:6000", "name": "studio", "connectionId": "a1b2c3d4",
///                          "budget": { "bytesPerSecond": 1000000, "burstBytes": 65536, "reservePerLevel": 0, "dropFromLevel": 8 } } ] }
///   ]
/// }
/// </code>
/// Every error names the file and the key (as a JSON path, e.g. <c>channels[0].subscribers[1].address</c>).
/// </summary>
public static class RelayConfigFile
{
    public const string ChannelsKey = "channels";
    public const string SequenceKey = "sequence";

    public static readonly string[] Sections = [ChannelsKey, SequenceKey, RetransmissionConfig.Key];

    private static readonly JsonDocumentOptions JsonOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>Whether a --config file holds the generic host's sections (so it is not a custom-UDP options file).</summary>
    public static bool HasSections(string path)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path), JsonOptions);
            return document.RootElement.ValueKind == JsonValueKind.Object && Sections.Any(s => document.RootElement.TryGetProperty(s, out _));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return false; // ConfigFile already reported what is wrong with it
        }
    }

    public static RelayPlan Load(string path, ProtocolFeatures features)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"{path}: {e.Message}", e);
        }
        return Parse(text, path, features);
    }

    public static RelayPlan Parse(string json, string path, ProtocolFeatures features)
    {
        try
        {
            return ParseDocument(json, path, features);
        }
        catch (ConfigFieldException e)
        {
            throw new UserFacingException(e.Message, e);
        }
    }

    /// <summary>One subscriber entry as the file has it ("ADDRESS:PORT" or an object with options), read from a control
    /// request's body; errors name the key relative to the entry (<c>address</c>, <c>budget.burstBytes</c>).</summary>
    /// <exception cref="ConfigFieldException">A key is missing, unknown or has a wrong value.</exception>
    public static SubscriberPlan ParseSubscriber(JsonElement entry, string source, ProtocolFeatures features) =>
        new Reader(source, features).Subscriber(entry, "");

    /// <summary>A subscriber's "budget" object as the file has it, or null (no budget).</summary>
    /// <exception cref="ConfigFieldException">A key is missing, unknown or has a wrong value.</exception>
    public static BudgetPlan? ParseBudget(JsonElement budget, string source, ProtocolFeatures features) =>
        budget.ValueKind == JsonValueKind.Null ? null : new Reader(source, features).Budget(budget, "");

    /// <summary>The file's top-level value (comments and trailing commas allowed), for every section's reader; invalid
    /// JSON is an error naming the file.</summary>
    internal static JsonElement ParseRoot(string json, string path)
    {
        try
        {
            using var document = JsonDocument.Parse(json, JsonOptions);
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new UserFacingException($"{path}: not valid JSON: {e.Message}", e);
        }
    }

    private static RelayPlan ParseDocument(string json, string path, ProtocolFeatures features)
    {
        var root = ParseRoot(json, path);
        var reader = new Reader(path, features);
        if (root.ValueKind != JsonValueKind.Object)
            throw reader.Error("(top level)", $"expected a JSON object, found {Kind(root)}");
        if (root.TryGetProperty(SequenceKey, out var sequence))
            reader.CheckSequence(sequence);
        if (!root.TryGetProperty(ChannelsKey, out var channels) || channels.ValueKind == JsonValueKind.Null)
            return RelayPlan.Empty;
        if (channels.ValueKind != JsonValueKind.Array)
            throw reader.Error(ChannelsKey, $"expected an array of channels, found {Kind(channels)}");
        var plan = new List<ChannelPlan>();
        var index = 0;
        foreach (var channel in channels.EnumerateArray())
            plan.Add(reader.Channel(channel, $"{ChannelsKey}[{index++}]"));
        reader.CheckTotals(plan);
        return new RelayPlan(plan);
    }

    private static string Kind(JsonElement e) => e.ValueKind.ToString().ToLowerInvariant();

    private sealed class Reader(string path, ProtocolFeatures features)
    {
        private static readonly string[] ChannelKeys = ["id", "upstream", "subscribers", "streams"];
        private static readonly string[] SubscriberKeys = ["address", "name", "connectionId", "budget"];
        private static readonly string[] BudgetKeys = ["bytesPerSecond", "burstBytes", "reservePerLevel", "dropFromLevel"];

        private string ProtocolName => features.Protocol.Name;

        public ConfigFieldException Error(string key, string problem) => new(path, key.Length == 0 ? "(top level)" : key, problem);

        /// <summary>A key under <paramref name="at"/>; entries read on their own (control requests) have no prefix.</summary>
        private static string Key(string at, string name) => at.Length == 0 ? name : $"{at}.{name}";

        public void CheckSequence(JsonElement value)
        {
            var stated = value.ValueKind == JsonValueKind.String && Enum.TryParse<SequenceSemantics>(value.GetString(), ignoreCase: true, out var s)
                ? s
                : throw Error(SequenceKey, $"expected \"passthrough\" or \"renumber\", found {value.GetRawText()}");
            if (!features.HasPacketNumber)
                throw Error(SequenceKey, $"descriptor {features.Protocol.DescriptorType} has no [PacketNumber]: there is no sequence to pass through or renumber");
            var actual = features.RenumbersPerSubscriber ? SequenceSemantics.Renumber : SequenceSemantics.Passthrough;
            if (stated != actual)
                throw Error(SequenceKey, $"\"{stated.ToString().ToLowerInvariant()}\", but descriptor {features.Protocol.DescriptorType} is built to " +
                    (actual == SequenceSemantics.Renumber
                        ? "renumber per subscriber ([PacketNumber(Translate = true)]); set Translate = false in the descriptor to pass numbers through"
                        : "pass numbers through ([PacketNumber(Translate = false)]); set Translate = true in the descriptor to renumber per subscriber"));
        }

        public ChannelPlan Channel(JsonElement channel, string at)
        {
            RequireObject(channel, at, ChannelKeys);
            ulong id = 0;
            if (channel.TryGetProperty("id", out var idValue))
            {
                if (idValue.ValueKind != JsonValueKind.Number || !idValue.TryGetUInt64(out id))
                    throw Error($"{at}.id", $"expected a non-negative integer, found {idValue.GetRawText()}");
                if (!features.HasChannel && id != 0)
                    throw Error($"{at}.id", $"{ProtocolName} has no [Channel] field, so its only channel is 0");
                if (id > features.MaxChannelId)
                    throw Error($"{at}.id", $"{id} does not fit {ProtocolName}'s channel field (at most {features.MaxChannelId})");
            }
            else if (features.HasChannel)
                throw Error($"{at}.id", $"missing: {ProtocolName} has a [Channel] field, so each channel names its value");

            IPEndPoint? upstream = null;
            if (channel.TryGetProperty("upstream", out var upstreamValue) && upstreamValue.ValueKind != JsonValueKind.Null)
                upstream = Endpoint(upstreamValue, $"{at}.upstream");

            var subscribers = new List<SubscriberPlan>();
            if (channel.TryGetProperty("subscribers", out var list) && list.ValueKind != JsonValueKind.Null)
            {
                if (list.ValueKind != JsonValueKind.Array)
                    throw Error($"{at}.subscribers", $"expected an array, found {Kind(list)}");
                var i = 0;
                foreach (var item in list.EnumerateArray())
                {
                    var subscriber = Subscriber(item, $"{at}.subscribers[{i}]");
                    if (subscribers.Any(s => s.Address.Equals(subscriber.Address)))
                        throw Error($"{at}.subscribers[{i}]", $"{subscriber.Address} is listed twice in this channel");
                    subscribers.Add(subscriber);
                    i++;
                }
            }
            if (subscribers.Count > features.Protocol.MaxSubscribers)
                throw Error($"{at}.subscribers", $"{subscribers.Count} subscribers; {ProtocolName} has {features.Protocol.MaxSubscribers} slots (descriptor MaxSubscribers)");
            return new ChannelPlan(id, upstream, subscribers, Streams(channel, $"{at}.streams"));
        }

        /// <summary>"streams": [1, 2] forwards those upstream stream ids unchanged; {"1": 100} maps upstream 1 to 100.
        /// Required when the descriptor translates stream ids (a copy without a mapping is not forwarded), refused otherwise.</summary>
        private Dictionary<ulong, ulong>? Streams(JsonElement channel, string at)
        {
            if (!channel.TryGetProperty("streams", out var value) || value.ValueKind == JsonValueKind.Null)
            {
                if (features.TranslatesStreams)
                    throw Error(at, $"missing: {ProtocolName} translates stream ids ([StreamId] with Translate = true), so each channel lists the streams it forwards " +
                                    "([1, 2] keeps their ids, {\"1\": 100} maps them)");
                return null;
            }
            if (!features.TranslatesStreams)
                throw Error(at, $"{ProtocolName} does not translate stream ids: every stream is forwarded as it is");
            var streams = new Dictionary<ulong, ulong>();
            ulong Id(JsonElement v, string key) =>
                v.ValueKind == JsonValueKind.Number && v.TryGetUInt64(out var n) ? n
                : v.ValueKind == JsonValueKind.String && ulong.TryParse(v.GetString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out n) ? n
                : throw Error(key, $"expected a non-negative integer stream id, found {v.GetRawText()}");
            if (value.ValueKind == JsonValueKind.Array)
            {
                var i = 0;
                foreach (var item in value.EnumerateArray())
                {
                    var id = Id(item, $"{at}[{i}]");
                    if (!streams.TryAdd(id, id))
                        throw Error($"{at}[{i}]", $"stream {id} is listed twice");
                    i++;
                }
            }
            else if (value.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in value.EnumerateObject())
                {
                    var upstreamId = Id(JsonDocument.Parse(JsonSerializer.Serialize(property.Name)).RootElement, $"{at}.{property.Name}");
                    streams[upstreamId] = Id(property.Value, $"{at}.{property.Name}");
                }
            }
            else
                throw Error(at, $"expected an array of stream ids or an object of upstream → downstream ids, found {Kind(value)}");
            return streams;
        }

        public SubscriberPlan Subscriber(JsonElement item, string at)
        {
            if (item.ValueKind == JsonValueKind.String)
                return new SubscriberPlan(Endpoint(item, at));
            RequireObject(item, at, SubscriberKeys);
            if (!item.TryGetProperty("address", out var address))
                throw Error(Key(at, "address"), "missing");
            string? name = null;
            if (item.TryGetProperty("name", out var nameValue))
                name = nameValue.ValueKind == JsonValueKind.String ? nameValue.GetString() : throw Error(Key(at, "name"), "expected a string");
            byte[]? cid = null;
            if (item.TryGetProperty("connectionId", out var cidValue))
            {
                if (!features.HasConnectionId)
                    throw Error(Key(at, "connectionId"), $"{ProtocolName} has no [ConnectionId] field");
                try
                {
                    cid = Convert.FromHexString(cidValue.GetString() ?? "");
                }
                catch (Exception e) when (e is FormatException or InvalidOperationException)
                {
                    throw Error(Key(at, "connectionId"), $"expected hex digits, found {cidValue.GetRawText()}");
                }
                if (cid.Length != features.ConnectionIdLength)
                    throw Error(Key(at, "connectionId"), $"{cid.Length} bytes; {ProtocolName}'s connection id is {features.ConnectionIdLength}");
            }
            BudgetPlan? budget = null;
            if (item.TryGetProperty("budget", out var budgetValue) && budgetValue.ValueKind != JsonValueKind.Null)
                budget = Budget(budgetValue, Key(at, "budget"));
            return new SubscriberPlan(Endpoint(address, Key(at, "address")), name, cid, budget);
        }

        public BudgetPlan Budget(JsonElement value, string at)
        {
            if (!features.PriorityDrop)
                throw Error(at, $"{ProtocolName} has no priority drop (descriptor PriorityDrop = false): the kernel applies no budget");
            RequireObject(value, at, BudgetKeys);
            long Number(string key, long min, long max, long? fallback)
            {
                if (!value.TryGetProperty(key, out var n))
                    return fallback ?? throw Error(Key(at, key), "missing");
                if (n.ValueKind != JsonValueKind.Number || !n.TryGetInt64(out var v) || v < min || v > max)
                    throw Error(Key(at, key), $"expected an integer in {min}..{max}, found {n.GetRawText()}");
                return v;
            }
            var rate = Number("bytesPerSecond", 1, long.MaxValue / 1000, null);
            var burst = Number("burstBytes", 1, long.MaxValue / 2, null);
            var reserve = Number("reservePerLevel", 0, uint.MaxValue, 0);
            var dropFrom = Number("dropFromLevel", 1, features.PriorityLevels, features.PriorityLevels);
            return new BudgetPlan(rate, burst, (uint)reserve, (uint)dropFrom);
        }

        public void CheckTotals(List<ChannelPlan> plan)
        {
            for (var i = 0; i < plan.Count; i++)
                if (plan.Take(i).Any(c => c.Id == plan[i].Id))
                    throw Error($"{ChannelsKey}[{i}].id", $"channel {plan[i].Id} is listed twice");
            if (plan.Count > features.Protocol.MaxChannels)
                throw Error(ChannelsKey, $"{plan.Count} channels; {ProtocolName} has room for {features.Protocol.MaxChannels} (descriptor MaxChannels)");
            var total = plan.Sum(c => c.Subscribers.Count);
            if (total > features.Protocol.MaxSubscribers)
                throw Error(ChannelsKey, $"{total} subscribers in all; {ProtocolName} has {features.Protocol.MaxSubscribers} slots (descriptor MaxSubscribers)");
        }

        private void RequireObject(JsonElement value, string at, string[] keys)
        {
            if (value.ValueKind != JsonValueKind.Object)
                throw Error(at, $"expected an object, found {Kind(value)}");
            foreach (var property in value.EnumerateObject())
                if (!keys.Contains(property.Name, StringComparer.Ordinal))
                    throw Error(Key(at, property.Name), $"unknown key (keys: {string.Join(", ", keys)})");
        }

        private IPEndPoint Endpoint(JsonElement value, string at)
        {
            var text = value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Error(at, $"expected \"ADDRESS:PORT\", found {value.GetRawText()}");
            if (!IPEndPoint.TryParse(text, out var endpoint) || endpoint.Port == 0 || !text.Contains(':', StringComparison.Ordinal)
                || (endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !text.Contains(']', StringComparison.Ordinal)))
                throw Error(at, $"\"{text}\" is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT; port 1..65535)");
            if (endpoint.Address.Equals(IPAddress.Any) || endpoint.Address.Equals(IPAddress.IPv6Any))
                throw Error(at, $"\"{text}\": an unspecified address cannot be sent to or matched");
            return endpoint;
        }
    }
}

/// <summary>A configuration entry with a missing, unknown or wrong key: <see cref="Key"/> is its JSON path (relative to the
/// entry for a control request), <see cref="Problem"/> what is wrong; the message names the source too.</summary>
public sealed class ConfigFieldException(string source, string key, string problem) : Exception($"{source}: {key}: {problem}")
{
    public string Key { get; } = key;
    public string Problem { get; } = problem;
}
