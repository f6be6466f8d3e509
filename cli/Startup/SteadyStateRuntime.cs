using System.CommandLine;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastRelay.Cli.Startup;

/// <summary>
/// Two runtime set-ups for one executable (docs/startup.md). Every assembly is ReadyToRun-compiled and the runtimeconfig
/// turns tiered compilation on, so a short command (`--help`, `quic get`, `status`) starts from precompiled code and
/// quick-JITs what has none. The commands that carry traffic for as long as they run (the relays, `quic serve`, the
/// test publishers and subscribers, the bench and the demo that measure them) must instead run exactly as they always
/// have: tiered compilation off, so nothing is re-jitted during the first seconds, and the data-path assemblies
/// JIT-compiled fully optimised rather than running their precompiled code (a little slower, and with tiering off it
/// would be their code for good). Both are runtime start-up settings, fixed before Main runs, so such a command
/// restarts its own process once (execve: same pid, same arguments, same standard streams) with
/// DOTNET_TieredCompilation=0 and DOTNET_ReadyToRunExcludeList naming the data-path assemblies. That costs the relay
/// one runtime start (tens of milliseconds) at launch, once; the short commands pay nothing.
/// </summary>
public static partial class SteadyStateRuntime
{
    /// <summary>Set in the restarted process only, so it knows the runtime settings below are ours (and takes them out
    /// of the environment its own child processes get) rather than the user's.</summary>
    public const string MarkerVariable = "FASTRELAY_STEADY_STATE_RUNTIME";

    public const string TieredCompilationVariable = "DOTNET_TieredCompilation";
    public const string ReadyToRunExcludeListVariable = "DOTNET_ReadyToRunExcludeList";

    /// <summary>The per-packet code: the kernel-facing runtime, the custom-UDP relay and the QUIC and MoQ stacks. Their
    /// ReadyToRun code is rejected in a steady-state process, so the JIT compiles them fully optimised, as before they
    /// were precompiled at all.</summary>
    public static readonly string[] DataPathAssemblies =
        ["FastRelay.Runtime", "FastRelay.Protocols.CustomUdp", "FastRelay.Protocols.Quic", "FastRelay.Protocols.Moq"];

    private static readonly ConditionalWeakTable<Command, object> Marked = new();

    /// <summary>Marks <paramref name="command"/> as one that runs on the steady-state runtime; returns it.</summary>
    public static Command Mark(Command command)
    {
        Marked.AddOrUpdate(command, Marked);
        return command;
    }

    public static bool IsMarked(Command command) => Marked.TryGetValue(command, out _);

    /// <summary>The runtime settings a steady-state process starts with: our own (restarted) or the user's, who set
    /// DOTNET_TieredCompilation themselves and so chose for us.</summary>
    public static bool RuntimeIsChosen => Environment.GetEnvironmentVariable(TieredCompilationVariable) is not null;

    /// <summary>
    /// Called with the parsed command line before its action runs. When the command is marked and this process runs
    /// on the start-up settings, replaces the process with the same command on the steady-state settings (does not
    /// return). In the restarted process, takes the settings out of the environment child processes inherit (a relay
    /// that starts `dotnet build` or a client must not hand it tiering off). Returns normally in every other case, and
    /// when the restart itself fails (said on stderr: the command then runs on the start-up settings).
    /// </summary>
    public static void RestartIfNeeded(ParseResult parse)
    {
        if (Environment.GetEnvironmentVariable(MarkerVariable) == "1")
        {
            foreach (var name in (string[])[MarkerVariable, TieredCompilationVariable, ReadyToRunExcludeListVariable])
                Environment.SetEnvironmentVariable(name, null);
            return;
        }
        // --help, --version and parse errors print and exit: not worth a second runtime start.
        if (parse.Errors.Count > 0 || parse.Action is null || parse.Action != parse.CommandResult.Command.Action)
            return;
        if (!IsMarked(parse.CommandResult.Command) || RuntimeIsChosen || !OperatingSystem.IsLinux())
            return;
        var error = Restart();
        Console.Error.WriteLine($"fastrelay: could not restart with tiered compilation off ({error}); running with it on");
    }

    /// <summary>The environment of the restarted process: this one's plus the steady-state settings.</summary>
    public static IEnumerable<string> RestartEnvironment()
    {
        foreach (System.Collections.DictionaryEntry variable in Environment.GetEnvironmentVariables())
        {
            var name = (string)variable.Key;
            if (name is MarkerVariable or TieredCompilationVariable or ReadyToRunExcludeListVariable)
                continue;
            yield return $"{name}={variable.Value}";
        }
        yield return $"{TieredCompilationVariable}=0";
        yield return $"{ReadyToRunExcludeListVariable}={string.Join(';', DataPathAssemblies)}";
        yield return $"{MarkerVariable}=1";
    }

    /// <summary>execve of /proc/self/exe (the dotnet host, or the tool's apphost) with /proc/self/cmdline, the exact
    /// argument vector this process was started with. Returns only on failure, with the reason.</summary>
    private static unsafe string Restart()
    {
        string[] arguments;
        try
        {
            // Each argument ends in a NUL; only the last one is dropped, so an empty last argument survives.
            var cmdline = File.ReadAllText("/proc/self/cmdline");
            arguments = cmdline[..^1].Split('\0');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "/proc/self/cmdline: " + e.Message;
        }
        var argv = ToCStrings(arguments);
        var envp = ToCStrings(RestartEnvironment());
        try
        {
            // Anything buffered is the user's: written before the old image is gone.
            Console.Out.Flush();
            Console.Error.Flush();
            fixed (nint* argvPointer = argv)
            fixed (nint* envpPointer = envp)
            {
                Execve("/proc/self/exe", argvPointer, envpPointer);
                return Marshal.GetLastPInvokeErrorMessage();
            }
        }
        finally
        {
            foreach (var pointer in argv) Marshal.FreeCoTaskMem(pointer);
            foreach (var pointer in envp) Marshal.FreeCoTaskMem(pointer);
        }
    }

    /// <summary>NUL-terminated UTF-8 copies and the terminating null pointer execve wants.</summary>
    private static nint[] ToCStrings(IEnumerable<string> strings) =>
        [.. strings.Select(s => Marshal.StringToCoTaskMemUTF8(s)), 0];

    [LibraryImport("libc", EntryPoint = "execve", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Execve(string path, nint* argv, nint* envp);
}
