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
        Assert.All(lazy.Subcommands.Where(c => c.Name != name), c => Assert.Empty(c.Subcommands.Concat<Symbol>(c.Options)));
    }

    /// <summary>The help a command line prints is the whole tree's: the root's (every command listed with the arguments
    /// shown beside its name) and a command's own (built whole).</summary>
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

    /// <summary>`--help`, a typo or nothing builds no command whole: each is listed as the whole tree lists it (names,
    /// descriptions, the arguments help shows beside a name), and a typo gets the whole tree's suggestions.</summary>
    [Theory]
    [InlineData("--help")]
    [InlineData("qiuc")]
    [InlineData("")]
    public async Task A_first_argument_that_names_no_command_lists_every_command_as_the_whole_tree_does(string invoked)
    {
        var whole = CliRoot.Create();
        var listing = CliRoot.Create(invoked);

        Assert.Equal(whole.Subcommands.Select(c => (c.Name, c.Description, string.Join(",", c.Arguments.Select(a => a.Name)))),
            listing.Subcommands.Select(c => (c.Name, c.Description, string.Join(",", c.Arguments.Select(a => a.Name)))));
        Assert.Equal(await HelpAsync(whole, ["qiuc"]), await HelpAsync(listing, ["qiuc"]));
        Assert.Equal(await HelpAsync(whole, []), await HelpAsync(listing, []));
    }

    private static async Task<string> HelpAsync(RootCommand root, string[] args)
    {
        var output = new StringWriter();
        await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = output });
        return output.ToString();
    }
}
