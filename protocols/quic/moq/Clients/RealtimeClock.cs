namespace FastRelay.Protocols.Moq.Clients;

/// <summary>
/// CLOCK_REALTIME in microseconds since the Unix epoch, read through a <see cref="TimeProvider"/> so tests can drive it.
/// On Linux <see cref="TimeProvider.System"/>'s UTC time is clock_gettime(CLOCK_REALTIME), the clock every process on
/// the host shares: the publisher stamps it, the subscriber subtracts it.
/// </summary>
public static class RealtimeClock
{
    public static long NowMicroseconds(TimeProvider time) =>
        (time.GetUtcNow().UtcTicks - DateTime.UnixEpoch.Ticks) / (TimeSpan.TicksPerMillisecond / 1000);
}
