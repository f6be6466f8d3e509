using System.Globalization;

namespace FastRelay.Cli.Bench.Moq;

/// <summary>
/// CPU time a process has used, from /proc: the sum of the first field (ns on a CPU) of every thread's
/// /proc/PID/task/TID/schedstat, which has nanosecond resolution, where /proc/PID/stat's utime + stime has 10 ms ticks.
/// Threads that exited between two readings take their time with them, so the process's own stat (which keeps exited
/// threads' ticks) is read too and the larger of the two deltas wins (see <see cref="Difference"/>).
/// </summary>
public readonly record struct ProcessCpuTime(long ScheduledNanoseconds, long TickNanoseconds)
{
    public static ProcessCpuTime Read(int processId)
    {
        long scheduled = 0;
        foreach (var task in Directory.EnumerateDirectories($"/proc/{processId}/task"))
        {
            try
            {
                var text = File.ReadAllText(Path.Combine(task, "schedstat"));
                scheduled += long.Parse(text.AsSpan(0, text.IndexOf(' ')), CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
            {
                // The thread exited while we listed it.
            }
        }
        return new ProcessCpuTime(scheduled, StatTicks(processId) * (1_000_000_000L / ClockTicksPerSecond));
    }

    /// <summary>CPU used between two readings, ns: the schedstat delta, unless the tick delta shows more by over two ticks
    /// (threads exited in between and took their schedstat time with them).</summary>
    public static long Difference(ProcessCpuTime before, ProcessCpuTime after) =>
        after.TickNanoseconds - before.TickNanoseconds > after.ScheduledNanoseconds - before.ScheduledNanoseconds + 2 * (1_000_000_000L / ClockTicksPerSecond)
            ? after.TickNanoseconds - before.TickNanoseconds
            : after.ScheduledNanoseconds - before.ScheduledNanoseconds;

    /// <summary>USER_HZ: 100 on every Linux configuration .NET runs on (sysconf(_SC_CLK_TCK)).</summary>
    private const long ClockTicksPerSecond = 100;

    private static long StatTicks(int processId)
    {
        var stat = File.ReadAllText($"/proc/{processId}/stat");
        // Fields after the command name (which may contain spaces, hence the last ')'): state is field 3, utime 14, stime 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }
}
