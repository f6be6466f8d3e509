namespace FastRelay.Cli.Scenario;

/// <summary>
/// SIGTERM for the processes a scenario or the bench starts. CliWrap's graceful cancellation sends SIGINT, which a
/// process can inherit as ignored (background jobs of a shell, some hosts); every FastRelay tool handles SIGTERM.
/// </summary>
public static partial class ProcessSignals
{
    private const int SigTerm = 15;

    public static void Terminate(int pid) => Kill(pid, SigTerm);

    /// <summary>SIGKILL: the crash a relay must survive (tests of what a new instance finds after it).</summary>
    public static void KillNow(int pid) => Kill(pid, SigKill);

    private const int SigKill = 9;

    /// <summary>SIGUSR1: a `moq relay` rewrites its status file now (MoqRelayRunner.StatusSignal).</summary>
    public static void RequestStatus(int pid) => Kill(pid, (int)FastRelay.Cli.Moq.MoqRelayRunner.StatusSignal);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
