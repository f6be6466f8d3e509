using System.CommandLine;
using FastRelay.Cli.Commands;

namespace FastRelay.Cli;

/// <summary>The `fastrelay` command tree, built in one place so the executable and the tests (which compare it with the
/// README's command list) see the same commands.</summary>
public static class CliRoot
{
    public const string Description = "FastRelay: describe a UDP protocol once, relay it from the Linux kernel.";

    /// <summary>The top-level commands, in the order help lists them: name and description (constants), and how to build
    /// the whole command.</summary>
    private static readonly (string Name, string Description, Func<Command> Create)[] TopLevel =
    [
        (GenCommand.Name, GenCommand.Description, GenCommand.Create),
        (VerifyCommand.Name, VerifyCommand.Description, VerifyCommand.Create),
        (PublishCommand.Name, PublishCommand.Description, PublishCommand.Create),
        (SubscribeCommand.Name, SubscribeCommand.Description, SubscribeCommand.Create),
        (LabCommand.Name, LabCommand.Description, LabCommand.Create),
        (RelayCommand.Name, RelayCommand.Description, RelayCommand.Create),
        (StatusCommand.Name, StatusCommand.Description, StatusCommand.Create),
        (DemoCommand.Name, DemoCommand.Description, DemoCommand.Create),
        (BenchCommand.Name, BenchCommand.Description, BenchCommand.Create),
        (QuicCommand.Name, QuicCommand.Description, QuicCommand.Create),
        (MoqCommand.Name, MoqCommand.Description, () => MoqCommand.Create()),
        (FuzzCommand.Name, FuzzCommand.Description, FuzzCommand.Create),
    ];

    /// <summary>The whole tree.</summary>
    public static RootCommand Create() => Create(invoked: null);

    /// <summary>
    /// The tree for one command line: the top-level command <paramref name="invoked"/> names (the first argument) is
    /// built whole, every other one only as its name and description, which is all the root's help, a typo's
    /// suggestions and the parser need of it. Building every command's options touched most of the CLI's types (and
    /// loaded the custom-UDP, MoQ and JSON assemblies) on every start. Null, or a first argument that names no
    /// command (an option, a typo): the whole tree.
    /// </summary>
    public static RootCommand Create(string? invoked)
    {
        if (invoked is not null && !Array.Exists(TopLevel, c => c.Name == invoked))
            invoked = null;
        var root = new RootCommand(Description);
        foreach (var (name, description, create) in TopLevel)
            root.Add(invoked is null || invoked == name ? create() : new Command(name, description));
        // `moq relay` and `moq status` (the relay's verbs) join the `moq` group MoqCommand made.
        if (invoked is null or MoqCommand.Name)
            MoqRelayCommand.Register(root);
        return root;
    }
}
