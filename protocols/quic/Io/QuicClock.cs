using System.Diagnostics;

namespace FastRelay.Protocols.Quic.Io;

/// <summary>The connection cores count time in microseconds of the monotonic clock.</summary>
public static class QuicClock
{
    private static readonly double MicrosPerTick = 1_000_000.0 / Stopwatch.Frequency;

    public static long NowMicros => (long)(Stopwatch.GetTimestamp() * MicrosPerTick);
}
