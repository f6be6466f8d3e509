using System.CommandLine;
using FastRelay.Cli.Commands;

namespace FastRelay.Cli;

/// <summary>The `fastrelay` command tree, built in one place so the executable and the tests (which compare it with the
/// README's command list) see the same commands.</summary>
public static class CliRoot
{
    public static RootCommand Create()
    {
        var root = new RootCommand("FastRelay: describe a UDP protocol once, relay it from the Linux kernel.")
        {
            GenCommand.Create(),
            VerifyCommand.Create(),
            PublishCommand.Create(),
            SubscribeCommand.Create(),
            LabCommand.Create(),
            RelayCommand.Create(),
            StatusCommand.Create(),
            DemoCommand.Create(),
            BenchCommand.Create(),
            QuicCommand.Create(),
            MoqCommand.Create(),
            FuzzCommand.Create(),
        };
        // `moq relay` and `moq status` (the relay's verbs) join the `moq` group MoqCommand made.
        MoqRelayCommand.Register(root);
        return root;
    }
}
