using System.CommandLine;
using FastRelay.Cli;
using FastRelay.Cli.Commands;

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
};
// `moq relay` and `moq status` (the relay's verbs) join the `moq` group MoqCommand made.
MoqRelayCommand.Register(root);

try
{
    // Our own handler below prints user errors without a stack trace; System.CommandLine's would print them as crashes.
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (UserFacingException e)
{
    Console.Error.WriteLine("fastrelay: " + e.Message);
    return 1;
}
