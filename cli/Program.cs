using System.CommandLine;
using FastRelay.Cli;
using FastRelay.Cli.Commands;

var root = new RootCommand("FastRelay: describe a UDP protocol once, relay it from the Linux kernel.")
{
    GenCommand.Create(),
    VerifyCommand.Create(),
    LabCommand.Create(),
    PublishCommand.Create(),
    SubscribeCommand.Create(),
};

try
{
    return await root.Parse(args).InvokeAsync();
}
catch (UserFacingException e)
{
    Console.Error.WriteLine("fastrelay: " + e.Message);
    return 1;
}
