using System.CommandLine;
using FastRelay.Cli.Commands;

namespace FastRelay.Tests.Moq.Browser;

/// <summary>Runs a `fastrelay moq ...` verb in-process (the real command line and the real session connector), as the
/// CLI tests do, capturing its output.</summary>
internal static class MoqCli
{
    public static async Task<(int Exit, string Out, string Error)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var root = new RootCommand { MoqCommand.Create(new MoqCommandEnvironment { Out = output, Error = error }) };
        var exit = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        return (exit, output.ToString(), error.ToString());
    }
}
