using System.CommandLine;
using FastRelay.Cli.Commands;

namespace FastRelay.Cli;

/// <summary>The `fastrelay` command tree, built in one place so the executable and the tests (which compare it with the
/// README's command list) see the same commands.</summary>
public static class CliRoot
{
    public const string Description = "FastRelay: describe a UDP protocol once, relay it from the Linux kernel.";

    /// <summary>A top-level command: how to build it whole, and what the root's listing shows of it (name, description
    /// and the arguments help prints beside the name).</summary>
    private sealed record TopLevelCommand(string Name, string Description, Func<Command> Create, params Func<Argument>[] Listed)
    {
        public Command CreateListing()
        {
            var command = new Command(Name, Description);
            foreach (var argument in Listed)
                command.Add(argument());
            return command;
        }
    }

    /// <summary>The top-level commands, in the order help lists them.</summary>
    private static readonly TopLevelCommand[] TopLevel =
    [
        new(GenCommand.Name, GenCommand.Description, GenCommand.Create),
        new(VerifyCommand.Name, VerifyCommand.Description, VerifyCommand.Create, VerifyCommand.CreatePathArgument),
        new(PublishCommand.Name, PublishCommand.Description, PublishCommand.Create),
        new(SubscribeCommand.Name, SubscribeCommand.Description, SubscribeCommand.Create),
        new(LabCommand.Name, LabCommand.Description, LabCommand.Create),
        new(RelayCommand.Name, RelayCommand.Description, RelayCommand.Create),
        new(StatusCommand.Name, StatusCommand.Description, StatusCommand.Create),
        new(DemoCommand.Name, DemoCommand.Description, DemoCommand.Create, DemoCommand.CreateProfileArgument),
        new(BenchCommand.Name, BenchCommand.Description, BenchCommand.Create),
        new(QuicCommand.Name, QuicCommand.Description, QuicCommand.Create),
        new(MoqCommand.Name, MoqCommand.Description, () => MoqCommand.Create()),
        new(FuzzCommand.Name, FuzzCommand.Description, FuzzCommand.Create),
    ];

    /// <summary>The whole tree.</summary>
    public static RootCommand Create() => Create(invoked: null);

    /// <summary>
    /// The tree for one command line, given its first argument: the top-level command that names is built whole, every
    /// other one only as the root's listing shows it (name, description, the arguments beside the name), which is all
    /// the parser, the root's help and a typo's suggestions need of it. Building every command's options touched most
    /// of the CLI's types (and loaded the custom-UDP, MoQ and JSON assemblies) on every start. A first argument that
    /// names no command (`--help`, a typo, none: "") builds no command whole. Null: the whole tree.
    /// </summary>
    public static RootCommand Create(string? invoked)
    {
        var root = new RootCommand(Description);
        foreach (var command in TopLevel)
            root.Add(invoked is null || invoked == command.Name ? command.Create() : command.CreateListing());
        // `moq relay` and `moq status` (the relay's verbs) join the `moq` group MoqCommand made.
        if (invoked is null or MoqCommand.Name)
            MoqRelayCommand.Register(root);
        return root;
    }
}
