using FastRelay.Protocols.Moq.Wire;
using System.Text.Json;
using System.Text.Json.Serialization;
using FastRelay.Protocols.Moq.Relay.Model;

namespace FastRelay.Protocols.Moq.Relay.Auth;

/// <summary>
/// The operator's --auth file: JSON mapping namespace prefixes ("a/b", fields split on '/'; "" is every namespace) to
/// the tokens that may publish and subscribe there:
/// <code>
/// { "namespaces": { "live": { "publish": ["pub-secret"], "subscribe": ["*"] },
///                   "live/private": { "publish": ["pub-secret"], "subscribe": ["viewer-secret"] } } }
/// </code>
/// </summary>
public static class AuthFile
{
    public static RelayAuthPolicy Parse(string json)
    {
        AuthFileModel? model;
        try
        {
            model = JsonSerializer.Deserialize(json, AuthFileJson.Default.AuthFileModel);
        }
        catch (JsonException e)
        {
            throw new FormatException($"auth file is not valid JSON: {e.Message}", e);
        }
        if (model?.Namespaces is not { Count: > 0 } namespaces)
            throw new FormatException("auth file has no \"namespaces\" entries (an open relay needs no file)");
        var rules = namespaces
            .Select(kv => new AuthRule(RelayNames.Namespace(kv.Key), kv.Value.Publish, kv.Value.Subscribe))
            .ToList();
        return RelayAuthPolicy.FromRules(rules);
    }

    public static RelayAuthPolicy Load(string path) => Parse(File.ReadAllText(path));
}

internal sealed class AuthFileModel
{
    public Dictionary<string, AuthFileEntry>? Namespaces { get; set; }
}

internal sealed class AuthFileEntry
{
    public List<string>? Publish { get; set; }
    public List<string>? Subscribe { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true)]
[JsonSerializable(typeof(AuthFileModel))]
internal sealed partial class AuthFileJson : JsonSerializerContext;
