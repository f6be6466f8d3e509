using System.Runtime.InteropServices;

namespace FastRelay.Tests.Packets.Fixtures;

/// <summary>CLOCK_MONOTONIC in nanoseconds: the clock of bpf_ktime_get_ns().</summary>
public static partial class MonotonicClock
{
    private const int ClockMonotonic = 1;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime", SetLastError = true)]
    private static partial int ClockGettime(int clock, out Timespec ts);

    public static ulong NowNs()
    {
        if (ClockGettime(ClockMonotonic, out var ts) != 0)
            throw new InvalidOperationException($"clock_gettime: errno {Marshal.GetLastPInvokeError()}");
        return (ulong)(ts.Seconds * 1_000_000_000L + ts.Nanoseconds);
    }
}
