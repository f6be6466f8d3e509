using System.Text.Json;
using System.Text.Json.Serialization;
using FastRelay.Generated;

namespace FastRelay.Cli.Gen;

/// <summary>manifest.json beside the objects: what was built, from what, with which compiler; what each object
/// contains (programs, maps with key/value layouts, events). One entry per protocol; gen replaces its own entry.</summary>
public sealed record Manifest(int FormatVersion, string Generator, List<ManifestProtocol> Protocols)
{
    public const string FileName = "manifest.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static Manifest Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
            return new Manifest(1, GeneratorVersion, new List<ManifestProtocol>());
        try
        {
            return JsonSerializer.Deserialize<Manifest>(File.ReadAllText(path), Json)
                   ?? throw new UserFacingException($"{path} is empty");
        }
        catch (JsonException e)
        {
            throw new UserFacingException($"{path} is not a FastRelay manifest: {e.Message}", e);
        }
    }

    public Manifest With(ManifestProtocol protocol)
    {
        var protocols = Protocols.Where(p => p.Name != protocol.Name).Append(protocol).OrderBy(p => p.Name, StringComparer.Ordinal).ToList();
        return this with { Generator = GeneratorVersion, Protocols = protocols };
    }

    public void Save(string directory)
    {
        var path = Path.Combine(directory, FileName);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this, Json) + "\n");
        File.Move(temporary, path, overwrite: true); // never leave a half-written manifest behind
    }

    public static string GeneratorVersion => "FastRelay " + (typeof(Manifest).Assembly.GetName().Version?.ToString() ?? "0");
}

public sealed record ManifestProtocol(
    string Name,
    string Descriptor,
    string SourceFile,
    int UdpPort,
    int MaxSubscribers,
    int MaxChannels,
    string Object,
    string ObjectSha256,
    string Header,
    string HeaderSha256,
    string TemplatesSha256,
    string Clang,
    IReadOnlyList<string> Programs,
    IReadOnlyList<MapLayout> Maps,
    IReadOnlyList<SharedStructLayout> Structs,
    ManifestEvent Events);

public sealed record ManifestEvent(string Map, string Struct, int Size);
