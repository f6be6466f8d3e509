using System.CommandLine;
using FastRelay.Cli;
using FastRelay.Cli.Startup;

StartupTrace.Mark("main");
// Only the command the first argument names is built whole (CliRoot.Create); none for `--help` or no arguments.
var root = CliRoot.Create(args.Length > 0 ? args[0] : "");

try
{
    StartupTrace.Mark("command tree built");
    args = ConfigFile.Expand(root, args);
    var parse = root.Parse(args);
    StartupTrace.Mark("parsed");
    // The relays and the other traffic-carrying commands run with tiered compilation off (does not return for them).
    SteadyStateRuntime.RestartIfNeeded(parse);
    // Our own handler below prints user errors without a stack trace; System.CommandLine's would print them as crashes.
    return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (UserFacingException e)
{
    Console.Error.WriteLine("fastrelay: " + e.Message);
    return 1;
}
catch (FastRelay.Bpf.BpfException e) when (e.Errno is 1 or 13) // EPERM, EACCES
{
    // Not a crash: the process lacks a capability. Say which ones the relays need instead of printing a stack trace.
    Console.Error.WriteLine($"fastrelay: {e.Message.Split('\n')[0]}");
    Console.Error.WriteLine("fastrelay: the kernel refused: run as root, or with CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (CAP_SYS_ADMIN only to mount bpffs); see docs/operations.md");
    return 1;
}
finally
{
    StartupTrace.Flush(); // FASTRELAY_STARTUP_TRACE: the milestones not written yet (quic get writes its own at connect)
}
