using System.CommandLine;
using FastRelay.Cli;

var root = CliRoot.Create();

try
{
    args = ConfigFile.Expand(root, args);
    // Our own handler below prints user errors without a stack trace; System.CommandLine's would print them as crashes.
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (UserFacingException e)
{
    Console.Error.WriteLine("fastrelay: " + e.Message);
    return 1;
}
