using System.Text;
using Xunit.Sdk;

namespace FastRelay.Tests.Generator;

/// <summary>
/// Compares generated text with committed files under tests/FastRelay.Tests/Generator/Expected. Run with
/// <c>FASTRELAY_UPDATE_EXPECTED=1</c> to rewrite them in the source tree instead (then review the git diff).
/// </summary>
public static class ExpectedFiles
{
    public const string UpdateVariable = "FASTRELAY_UPDATE_EXPECTED";

    public static bool Updating => Environment.GetEnvironmentVariable(UpdateVariable) is "1" or "true";

    /// <summary>The committed copy in the source tree (the one updates write).</summary>
    public static string SourcePath(string name) => RepoPaths.Combine("tests", "FastRelay.Tests", "Generator", "Expected", name);

    /// <summary>The copy next to the test binaries, falling back to the source tree.</summary>
    public static string ReadPath(string name)
    {
        var output = Path.Combine(AppContext.BaseDirectory, "Generator", "Expected", name);
        return File.Exists(output) ? output : SourcePath(name);
    }

    public static void AssertMatches(string name, string actual)
    {
        actual = Normalize(actual);
        if (Updating)
        {
            var path = SourcePath(name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            if (!File.Exists(path) || Normalize(File.ReadAllText(path)) != actual)
                File.WriteAllText(path, actual, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            return;
        }

        var readPath = ReadPath(name);
        if (!File.Exists(readPath))
            throw new XunitException($"expected file {SourcePath(name)} is missing; run the tests with {UpdateVariable}=1 to create it");
        var expected = Normalize(File.ReadAllText(readPath));
        if (expected == actual)
            return;
        throw new XunitException(Describe(name, expected, actual));
    }

    /// <summary>The first differing line with a little context, both sides.</summary>
    public static string Describe(string name, string expected, string actual, string? expectedSource = null, string? hint = null)
    {
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        var line = 0;
        while (line < e.Length && line < a.Length && e[line] == a[line])
            line++;
        var sb = new StringBuilder();
        sb.Append($"generated {name} differs from {expectedSource ?? SourcePath(name)} at line {line + 1} ")
            .Append($"(expected {e.Length} lines, got {a.Length}).\n")
            .Append(hint ?? $"Rerun with {UpdateVariable}=1 to accept the new output, then review the git diff.").Append('\n');
        for (var i = Math.Max(0, line - 2); i < line; i++)
            sb.Append($"    {i + 1,5}  {e[i]}\n");
        sb.Append($"  - {line + 1,5}  {(line < e.Length ? e[line] : "<end of file>")}\n");
        sb.Append($"  + {line + 1,5}  {(line < a.Length ? a[line] : "<end of file>")}\n");
        if (line < e.Length && line < a.Length)
        {
            var column = 0;
            while (column < e[line].Length && column < a[line].Length && e[line][column] == a[line][column])
                column++;
            sb.Append($"  first difference at column {column + 1}\n");
        }
        return sb.ToString();
    }

    private static string Normalize(string text) => text.Replace("\r\n", "\n");
}
