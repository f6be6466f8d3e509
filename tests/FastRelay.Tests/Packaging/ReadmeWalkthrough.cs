using FastRelay.Tests.Infrastructure;

namespace FastRelay.Tests.Packaging;

/// <summary>
/// The README's "Describe your own protocol" walkthrough as a user copies it: the project file of step 1, the
/// descriptor of step 2 and the `fastrelay` commands of step 4, taken from README.md itself so the test runs what the
/// README says and the two cannot drift apart.
/// </summary>
public sealed record ReadmeWalkthrough(string ProjectFile, string Descriptor, IReadOnlyList<string[]> Commands)
{
    public const string Heading = "## Describe your own protocol";

    public static ReadmeWalkthrough Load()
    {
        var readme = File.ReadAllText(Path.Combine(RepoPaths.Root, "README.md"));
        var start = readme.IndexOf("\n" + Heading + "\n", StringComparison.Ordinal);
        if (start < 0) throw new InvalidOperationException($"README.md has no \"{Heading}\" section");
        var end = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var section = readme[start..(end < 0 ? readme.Length : end)];

        var stepFour = section.IndexOf("4. **", StringComparison.Ordinal);
        if (stepFour < 0) throw new InvalidOperationException("the walkthrough has no step 4");
        var commands = CodeBlock(section[stepFour..], "sh")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('#')[0].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(words => words.Length > 0)
            .ToList();
        if (commands.Any(words => words[0] != "fastrelay"))
            throw new InvalidOperationException("step 4 runs something other than the installed `fastrelay`: " +
                                                string.Join(" | ", commands.Select(w => string.Join(' ', w))));
        return new ReadmeWalkthrough(CodeBlock(section, "xml"), CodeBlock(section, "csharp"), commands);
    }

    /// <summary>The first fenced block of that language, without the list item's indentation.</summary>
    private static string CodeBlock(string text, string language)
    {
        var fence = text.IndexOf("```" + language + "\n", StringComparison.Ordinal);
        if (fence < 0) throw new InvalidOperationException($"no ```{language} block in the walkthrough");
        var lineStart = text.LastIndexOf('\n', fence) + 1;
        var indent = fence - lineStart;
        var bodyStart = fence + 3 + language.Length + 1;
        var close = text.IndexOf("\n" + new string(' ', indent) + "```", bodyStart - 1, StringComparison.Ordinal);
        if (close < 0) throw new InvalidOperationException($"unclosed ```{language} block in the walkthrough");
        var lines = text[bodyStart..close].Split('\n')
            .Select(line => line.Length >= indent && line[..indent].Trim().Length == 0 ? line[indent..] : line.TrimStart());
        return string.Join('\n', lines) + "\n";
    }
}
