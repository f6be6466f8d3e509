using System.Text.Json;
using FastRelay.Relay;

namespace FastRelay.Cli.Relay;

/// <summary>
/// The subscribers added through the control API, kept on disk so a restarted relay has them again: a state file next
/// to the configuration file (<c>relay.json</c> → <c>relay.api-subscribers.json</c>), rewritten after every change the
/// API makes (and after a reload that dropped some), written beside and renamed over (a crash leaves the old file or
/// the new one, never half of one). Each subscriber is stored as the configuration file writes one and read back with
/// its parser (<see cref="RelayConfigFile.ParseSubscriber"/>), so both mean the same:
/// <code>
/// { "channels": [ { "id": 7, "subscribers": [ { "address": "10.1.0.4:9200", "name": "late-desk", "budget": { ... } } ] } ] }
/// </code>
/// The file is the relay's, not the operator's: subscribers are added and removed through the API (<c>relay ctl</c>);
/// ownership stays as <see cref="RelayPlanSources"/> defines it (a restored subscriber is the API's).
/// </summary>
public sealed class ApiSubscriberState(string path, ProtocolFeatures features)
{
    /// <summary>The most bytes read back: far more than 256 subscribers with every option take.</summary>
    public const int MaxBytes = 1 << 20;

    public string Path { get; } = System.IO.Path.GetFullPath(path);

    /// <summary>Where the state of a relay configured by <paramref name="configPath"/> is kept.</summary>
    public static string PathFor(string configPath) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(configPath))!,
            System.IO.Path.GetFileNameWithoutExtension(configPath) + ".api-subscribers.json");

    /// <summary>The saved subscribers by channel; none when there is no file. A file that cannot be read as written
    /// stops the relay with its path (deleting it starts the relay without them).</summary>
    public IReadOnlyDictionary<ulong, IReadOnlyList<SubscriberPlan>> Load()
    {
        var saved = new Dictionary<ulong, IReadOnlyList<SubscriberPlan>>();
        if (!File.Exists(Path))
            return saved;
        try
        {
            using (var stream = File.OpenRead(Path))
                if (stream.Length > MaxBytes)
                    throw new UserFacingException($"{Path}: {stream.Length} bytes, more than the {MaxBytes} a state file of API subscribers can hold; delete it to start without them");
            using var document = JsonDocument.Parse(File.ReadAllText(Path), new JsonDocumentOptions { MaxDepth = 8 });
            if (!document.RootElement.TryGetProperty(RelayConfigFile.ChannelsKey, out var channels) || channels.ValueKind != JsonValueKind.Array)
                throw new UserFacingException($"{Path}: no \"channels\" array");
            var index = 0;
            foreach (var channel in channels.EnumerateArray())
            {
                var at = $"channels[{index++}]";
                if (!channel.TryGetProperty("id", out var idValue) || !idValue.TryGetUInt64(out var id))
                    throw new UserFacingException($"{Path}: {at}.id: expected a channel number");
                if (!channel.TryGetProperty("subscribers", out var subscribers) || subscribers.ValueKind != JsonValueKind.Array)
                    throw new UserFacingException($"{Path}: {at}.subscribers: expected an array");
                var list = subscribers.EnumerateArray().Select((s, i) => RelayConfigFile.ParseSubscriber(s, $"{Path}: {at}.subscribers[{i}]", features)).ToList();
                if (saved.ContainsKey(id))
                    throw new UserFacingException($"{Path}: {at}: channel {id} is listed twice");
                saved[id] = list;
            }
            return saved;
        }
        catch (Exception e) when (e is JsonException or ConfigFieldException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            throw new UserFacingException($"{Path}: the saved API subscribers cannot be read ({e.Message}); delete the file to start without them", e);
        }
    }

    /// <summary>Replaces the file with <paramref name="added"/> (an empty list removes it).</summary>
    public void Save(IReadOnlyDictionary<ulong, IReadOnlyList<SubscriberPlan>> added)
    {
        if (added.Values.All(l => l.Count == 0))
        {
            File.Delete(Path);
            return;
        }
        var temporary = Path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write))
        {
            using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartObject();
                json.WriteStartArray(RelayConfigFile.ChannelsKey);
                foreach (var (channel, subscribers) in added.Where(c => c.Value.Count > 0).OrderBy(c => c.Key))
                {
                    json.WriteStartObject();
                    json.WriteNumber("id", channel);
                    json.WriteStartArray("subscribers");
                    foreach (var subscriber in subscribers)
                        WriteSubscriber(json, subscriber);
                    json.WriteEndArray();
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            // On disk before the rename makes it the state: a power cut must not leave an empty file behind the name.
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, Path, overwrite: true);
    }

    /// <summary>One subscriber as the configuration file writes it.</summary>
    private static void WriteSubscriber(Utf8JsonWriter json, SubscriberPlan subscriber)
    {
        json.WriteStartObject();
        json.WriteString("address", subscriber.Address.ToString());
        if (subscriber.Name is { } name)
            json.WriteString("name", name);
        if (subscriber.ConnectionId is { } cid)
            json.WriteString("connectionId", Convert.ToHexStringLower(cid));
        if (subscriber.Budget is { } budget)
        {
            json.WriteStartObject("budget");
            json.WriteNumber("bytesPerSecond", budget.BytesPerSecond);
            json.WriteNumber("burstBytes", budget.BurstBytes);
            json.WriteNumber("reservePerLevel", budget.ReservePerLevel);
            json.WriteNumber("dropFromLevel", budget.DropFromLevel);
            json.WriteEndObject();
        }
        json.WriteEndObject();
    }
}
