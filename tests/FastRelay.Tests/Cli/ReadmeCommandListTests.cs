using System.CommandLine;
using System.Text.RegularExpressions;
using FastRelay.Cli;
using FastRelay.Tests.Infrastructure;
using Xunit;

namespace FastRelay.Tests.Cli;

/// <summary>The README's "Commands" table names exactly the commands `fastrelay --help` offers (a command added to the CLI
/// and forgotten in the README, or one the README promises and the CLI lacks, fails here).</summary>
public sealed partial class ReadmeCommandListTests
{
    [GeneratedRegex(@"^\| `fastrelay (?<command>[a-z ]+?)` \|", RegexOptions.Multiline)]
    private static partial Regex CommandRow();

    [Fact]
    public void The_readme_lists_every_command_of_the_cli_and_no_other()
    {
        var readme = File.ReadAllText(Path.Combine(RepoPaths.Root, "README.md"));
        var start = readme.IndexOf("\n## Commands\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no \"## Commands\" section");
        var end = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var section = readme[start..(end < 0 ? readme.Length : end)];
        var listed = CommandRow().Matches(section).Select(m => m.Groups["command"].Value).ToList();

        var offered = Leaves(CliRoot.Create(), "").ToList();

        Assert.Empty(listed.GroupBy(c => c).Where(g => g.Count() > 1).Select(g => g.Key));
        Assert.Equal(offered.Order(), listed.Order());
    }

    /// <summary>The commands a user runs: groups (`lab`, `quic`, `moq`) are listed by their subcommands; a command that
    /// runs by itself and has subcommands too (`relay`, `relay ctl ...`) is listed with them.</summary>
    private static IEnumerable<string> Leaves(Command command, string prefix)
    {
        foreach (var sub in command.Subcommands)
        {
            var path = prefix.Length == 0 ? sub.Name : $"{prefix} {sub.Name}";
            if (sub.Subcommands.Count == 0 || sub.Action is not null)
                yield return path;
            foreach (var leaf in Leaves(sub, path))
                yield return leaf;
        }
    }
}
