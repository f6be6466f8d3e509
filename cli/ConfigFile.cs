using System.CommandLine;
using System.Globalization;
using System.Text.Json;

namespace FastRelay.Cli;

/// <summary>
/// `--config FILE` for the relays: a JSON object whose keys are the command's option names without the dashes
/// (<c>{"port": 7400, "mode": "Userspace", "interface": ["eth0", "eth1"]}</c>). The file is turned into the same flags
/// before parsing, so a value is checked exactly as on the command line; flags given on the command line win. A key that
/// is not an option of the command, or a value of the wrong shape, is an error naming the file and the key.
/// </summary>
public static class ConfigFile
{
    public const string OptionName = "--config";

    public static Option<string?> CreateOption() => new(OptionName)
    {
        Description = "JSON file of options: keys are option names without dashes (e.g. {\"port\": 7400}); flags on the command line win.",
    };

    /// <summary>The arguments with the config file's options inserted after the command's name; unchanged without --config.</summary>
    public static string[] Expand(RootCommand root, string[] args)
    {
        var at = Array.IndexOf(args, OptionName);
        if (at < 0 || at + 1 >= args.Length)
            return args;
        Command command = root;
        var pathLength = 0;
        while (pathLength < args.Length && command.Subcommands.FirstOrDefault(c => c.Name == args[pathLength]) is { } sub)
        {
            command = sub;
            pathLength++;
        }
        var commandText = "fastrelay " + string.Join(' ', args.Take(pathLength));
        if (!command.Options.Any(o => o.Name == OptionName))
            throw new UserFacingException($"{OptionName} is not an option of `{commandText}`");
        var path = args[at + 1];
        JsonElement config;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            config = document.RootElement.Clone();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new UserFacingException($"{OptionName} {path}: {e.Message}", e);
        }
        if (config.ValueKind != JsonValueKind.Object)
            throw new UserFacingException($"{path}: expected a JSON object of options, found {config.ValueKind}");

        var given = args.ToHashSet(StringComparer.Ordinal);
        var inserted = new List<string>();
        foreach (var property in config.EnumerateObject())
        {
            if (command is SectionedCommand sectioned && sectioned.Sections.Contains(property.Name))
                continue; // read by the command itself (the generic relay's channels), not an option
            var name = "--" + property.Name;
            var option = command.Options.FirstOrDefault(o => o.Name == name && o.Name != OptionName)
                ?? throw new UserFacingException($"{path}: unknown key \"{property.Name}\" for `{commandText}` (keys: " +
                    string.Join(", ", command.Options.Where(o => o.Name.StartsWith("--") && o.Name != OptionName && o.Name != "--help").Select(o => o.Name[2..])) + ")");
            if (given.Contains(option.Name) || option.Aliases.Any(given.Contains))
                continue; // the command line wins
            switch (property.Value.ValueKind)
            {
                case JsonValueKind.Null:
                    break;
                case JsonValueKind.Array:
                    foreach (var item in property.Value.EnumerateArray())
                        inserted.AddRange([option.Name, Scalar(path, property.Name, item)]);
                    break;
                default:
                    inserted.AddRange([option.Name, Scalar(path, property.Name, property.Value)]);
                    break;
            }
        }
        return [.. args.Take(pathLength), .. inserted, .. args.Skip(pathLength)];
    }

    private static string Scalar(string path, string key, JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => throw new UserFacingException($"{path}: key \"{key}\" must be a string, a number, true/false or an array of those, not {value.ValueKind.ToString().ToLower(CultureInfo.InvariantCulture)}"),
    };
}

/// <summary>A command whose --config file also holds sections that are not options but data the command reads from the
/// file itself (the generic relay's "channels", reloaded while it runs).</summary>
public sealed class SectionedCommand(string name, string description, params string[] sections) : Command(name, description)
{
    public IReadOnlySet<string> Sections { get; } = sections.ToHashSet(StringComparer.Ordinal);
}
