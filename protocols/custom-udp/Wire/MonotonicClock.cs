using System.Diagnostics;
using System.Runtime.InteropServices;

namespace FastRelay.Protocols.CustomUdp.Wire;

/// <summary>
/// CLOCK_MONOTONIC in nanoseconds: the clock the header timestamp carries and the clock of <c>bpf_ktime_get_ns()</c>.
/// It is one clock per machine (per kernel, not per process, and network namespaces do not change it; only time
/// namespaces could offset it, which `ip netns` does not create), so a receive time minus a sender's header timestamp
/// is a one-way delay when both run on the same machine.
/// <para>
/// On Linux, .NET's <see cref="Stopwatch.GetTimestamp"/> is <c>clock_gettime(CLOCK_MONOTONIC)</c> in ns
/// (<see cref="Stopwatch.Frequency"/> = 10^9; System.Native's SystemNative_GetTimestamp), a vDSO read costing ~20 ns
/// and no P/Invoke transition of ours. <see cref="NowNs"/> uses it when the frequency is 10^9 on Linux, and calls
/// clock_gettime itself otherwise. The tests check Stopwatch against <see cref="ClockGettimeNs"/> (bracketing).
/// </para>
/// </summary>
public static class MonotonicClock
{
    /// <summary>Linux clock ids.</summary>
    public const int ClockMonotonic = 1;
    public const int ClockMonotonicRaw = 4;
    public const int ClockBoottime = 7;

    /// <summary>True when <see cref="Stopwatch.GetTimestamp"/> is read directly as CLOCK_MONOTONIC ns.</summary>
    public static readonly bool UsesStopwatch = OperatingSystem.IsLinux() && Stopwatch.Frequency == 1_000_000_000;

    /// <summary>CLOCK_MONOTONIC now, in nanoseconds.</summary>
    public static ulong NowNs() => UsesStopwatch ? (ulong)Stopwatch.GetTimestamp() : Fallback();

    private static ulong Fallback()
    {
        if (OperatingSystem.IsLinux())
            return ClockGettimeNs(ClockMonotonic);
        // Not Linux: no cross-process guarantee; still a monotonic ns clock for in-process use.
        return (ulong)(Stopwatch.GetTimestamp() * (1_000_000_000.0 / Stopwatch.Frequency));
    }

    /// <summary>clock_gettime(<paramref name="clockId"/>) in ns via libc (Linux). Throws if the call fails.</summary>
    public static ulong ClockGettimeNs(int clockId)
    {
        if (clock_gettime(clockId, out var ts) != 0)
            throw new InvalidOperationException($"clock_gettime({clockId}) failed: errno {Marshal.GetLastPInvokeError()}");
        return (ulong)(ts.Seconds * 1_000_000_000L + ts.Nanoseconds);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int clock_gettime(int clockId, out Timespec ts);
}
