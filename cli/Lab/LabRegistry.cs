using System.Text.Json;

namespace FastRelay.Cli.Lab;

/// <summary>
/// Records of the labs this tool created, one JSON file per lab in /run/fastrelay-lab/&lt;prefix&gt;.json (tmpfs: gone
/// after a reboot, like the namespaces). Lets `fastrelay lab down` remove a lab another process created. The record is
/// written before the first namespace, so a lab whose creator died midway is still found.
/// </summary>
public static class LabRegistry
{
    /// <summary>Default /run/fastrelay-lab; FASTRELAY_LAB_REGISTRY overrides it.</summary>
    public static string Directory =>
        Environment.GetEnvironmentVariable("FASTRELAY_LAB_REGISTRY") is { Length: > 0 } dir ? dir : "/run/fastrelay-lab";

    public static string PathOf(string prefix) => Path.Combine(Directory, prefix + ".json");

    public static void Save(LabDescription description)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var path = PathOf(description.Prefix);
        var temporary = path + ".tmp" + Environment.ProcessId;
        File.WriteAllText(temporary, description.ToJson() + "\n");
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The record of a lab, or null when there is none (or it is unreadable).</summary>
    public static LabDescription? TryLoad(string prefix)
    {
        try
        {
            return LabDescription.FromJson(File.ReadAllText(PathOf(prefix)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Prefixes with a record.</summary>
    public static IReadOnlyList<string> Prefixes() =>
        System.IO.Directory.Exists(Directory)
            ? System.IO.Directory.EnumerateFiles(Directory, "*.json").Select(f => Path.GetFileNameWithoutExtension(f)!).Order(StringComparer.Ordinal).ToList()
            : [];

    public static void Remove(string prefix) => File.Delete(PathOf(prefix));
}
