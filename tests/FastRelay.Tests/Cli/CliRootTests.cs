using System.CommandLine;
using FastRelay.Cli;
using Xunit;

namespace FastRelay.Tests.Cli;

/// <summary>A command line builds only the top-level command it names (CliRoot.Create(invoked), docs/startup.md); the
/// others are their name and description. The tree it parses must be the whole tree's where it matters.</summary>
public sealed class CliRootTests
{
    public static TheoryData<string> TopLevelNames => new(CliRoot.Create().Subcommands.Select(c => c.Name));

    /// <summary>Every command, option and argument below <paramref name="command"/>, with descriptions and defaults
    /// shown as help shows them.</summary>
    private static IEnumerable<string> Shape(Command command, string path = "")
    {
        path += "/" + command.Name;
        yield return $"{path}: {command.Description} (action: {command.Action is not null})";
        foreach (var option in command.Options)
            yield return $"{path} option {option.Name} [{string.Join(',', option.Aliases)}]: {option.Description} required {option.Required}";
        foreach (var argument in command.Arguments)
            yield return $"{path} argument {argument.Name}: {argument.Description}";
        foreach (var sub in command.Subcommands)
            foreach (var line in Shape(sub, path))
                yield return line;
    }

    [Theory]
    [MemberData(nameof(TopLevelNames))]
    public void The_named_command_is_built_whole_and_the_others_are_listed_as_in_the_whole_tree(string name)
    {
        var whole = CliRoot.Create();
        var lazy = CliRoot.Create(name);

        Assert.Equal(whole.Subcommands.Select(c => (c.Name, c.Description)), lazy.Subcommands.Select(c => (c.Name, c.Description)));
        Assert.Equal(Shape(whole.Subcommands.Single(c => c.Name == name)), Shape(lazy.Subcommands.Single(c => c.Name == name)));
        Assert.All(lazy.Subcommands.Where(c => c.Name != name), c => Assert.Empty(c.Subcommands.Concat<Symbol>(c.Options).Concat(c.Arguments)));
    }

    /// <summary>The help a command line prints is the whole tree's: the root's (its first argument names no command, so
    /// the whole tree is built) and a command's own (built whole).</summary>
    [Theory]
    [InlineData("--help")]
    [InlineData("quic", "--help")]
    [InlineData("quic", "get", "--help")]
    [InlineData("moq", "--help")]
    [InlineData("relay", "ctl", "--help")]
    public async Task The_help_a_command_line_prints_is_the_whole_trees(params string[] args)
    {
        Assert.Equal(await HelpAsync(CliRoot.Create(), args), await HelpAsync(CliRoot.Create(args[0]), args));
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("qiuc")]
    public void A_first_argument_that_names_no_command_builds_the_whole_tree(string invoked)
    {
        Assert.Equal(Shape(CliRoot.Create()), Shape(CliRoot.Create(invoked)));
    }

    private static async Task<string> HelpAsync(RootCommand root, string[] args)
    {
        var output = new StringWriter();
        await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output });
        return output.ToString();
    }
}
