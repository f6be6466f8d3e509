namespace FastRelay.Cli.Startup;

/// <summary>
/// FASTRELAY_STARTUP_TRACE=1: the process's CPU time (user + system) at each start-up milestone, written to stderr when
/// a command's start-up is over (<see cref="Flush"/>), to see where a command's start goes (docs/startup.md). CPU time
/// is the figure to read, wall time on a loaded machine is mostly waiting for a core. The lines are kept until then
/// because the first console write is itself a few milliseconds of start-up. Off, a milestone costs a field read.
/// </summary>
public static class StartupTrace
{
    private static readonly bool Enabled = Environment.GetEnvironmentVariable("FASTRELAY_STARTUP_TRACE") == "1";
    private static readonly List<(string Milestone, TimeSpan Cpu)> Marks = [];

    public static void Mark(string milestone)
    {
        if (!Enabled)
            return;
        var cpu = Environment.CpuUsage.TotalTime;
        lock (Marks) Marks.Add((milestone, cpu));
    }

    /// <summary>Writes the milestones so far (once each).</summary>
    public static void Flush()
    {
        if (!Enabled)
            return;
        lock (Marks)
        {
            foreach (var (milestone, cpu) in Marks)
                Console.Error.WriteLine($"startup: {milestone}: CPU {cpu.TotalMilliseconds:F0} ms");
            Marks.Clear();
        }
    }
}
