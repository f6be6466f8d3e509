using System.Diagnostics;
using FastRelay.Protocols.CustomUdp.Wire;
using Xunit;

namespace FastRelay.Tests.CustomUdp;

/// <summary>The header timestamp's clock: CLOCK_MONOTONIC ns, the same in every process and network namespace.</summary>
public sealed class MonotonicClockTests
{
    [Fact]
    public void Stopwatch_is_CLOCK_MONOTONIC_in_nanoseconds_on_Linux()
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.Equal(1_000_000_000, Stopwatch.Frequency);
        Assert.True(MonotonicClock.UsesStopwatch);
        for (var i = 0; i < 1000; i++)
        {
            var before = MonotonicClock.ClockGettimeNs(MonotonicClock.ClockMonotonic);
            var stopwatch = (ulong)Stopwatch.GetTimestamp();
            var after = MonotonicClock.ClockGettimeNs(MonotonicClock.ClockMonotonic);
            Assert.InRange(stopwatch, before, after);
        }
        // Not CLOCK_BOOTTIME or CLOCK_MONOTONIC_RAW, which drift apart from it (suspend, NTP slew) — when they do here.
        var now = MonotonicClock.NowNs();
        var raw = MonotonicClock.ClockGettimeNs(MonotonicClock.ClockMonotonicRaw);
        var boot = MonotonicClock.ClockGettimeNs(MonotonicClock.ClockBoottime);
        Assert.True(now <= MonotonicClock.ClockGettimeNs(MonotonicClock.ClockMonotonic));
        _ = (raw, boot);
    }

    [Fact]
    public void Another_process_in_another_network_namespace_reads_the_same_clock()
    {
        if (!OperatingSystem.IsLinux()) return;
        // python's time.monotonic_ns() is clock_gettime(CLOCK_MONOTONIC); `unshare --net` runs it in a new netns.
        foreach (var (file, args) in new[] { ("unshare", "--net python3 -c \"import time; print(time.monotonic_ns())\""),
                                             ("python3", "-c \"import time; print(time.monotonic_ns())\"") })
        {
            var before = MonotonicClock.NowNs();
            string output;
            try
            {
                using var process = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
                output = process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                if (process.ExitCode != 0) continue; // no privilege for unshare, or no python3: nothing to compare
            }
            catch (System.ComponentModel.Win32Exception)
            {
                continue;
            }
            var after = MonotonicClock.NowNs();
            Assert.InRange(ulong.Parse(output.Trim()), before, after);
        }
    }
}
