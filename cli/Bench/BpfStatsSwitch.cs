namespace FastRelay.Cli.Bench;

/// <summary>
/// kernel.bpf_stats_enabled on for as long as this lives, then back to what it was: with it on the kernel times every
/// BPF program run (a clock read per run, so it stays off outside a measurement). Null with a progress line where the
/// sysctl cannot be written (not root, no procfs): the kernel's time then goes unreported.
/// </summary>
public sealed class BpfStatsSwitch : IDisposable
{
    private const string Path = "/proc/sys/kernel/bpf_stats_enabled";
    private readonly string _before;

    private BpfStatsSwitch(string before) => _before = before;

    public static BpfStatsSwitch? TurnOn(Action<string> progress)
    {
        try
        {
            var before = File.ReadAllText(Path).Trim();
            File.WriteAllText(Path, "1");
            return new BpfStatsSwitch(before);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            progress($"the fast path's kernel time is not measured: {Path} not writable ({e.Message})");
            return null;
        }
    }

    public void Dispose()
    {
        try { File.WriteAllText(Path, _before); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* as it was: nothing to undo */ }
    }
}
