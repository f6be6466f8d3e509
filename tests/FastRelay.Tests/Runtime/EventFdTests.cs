using System.Diagnostics;
using FastRelay.Net;
using Xunit;

namespace FastRelay.Tests.Runtime;

/// <summary>
/// The eventfd that wakes the QUIC endpoint's loop: a Signal from another thread ends a long ppoll at once, signals
/// coalesce until drained, and a Signal after Dispose does nothing (no write to a closed or reused fd number).
/// </summary>
public sealed unsafe class EventFdTests
{
    [Fact]
    public void A_signal_from_another_thread_ends_a_long_wait_and_a_drain_rearms_it()
    {
        using var wake = EventFd.TryCreate() ?? throw new InvalidOperationException("eventfd refused");
        Assert.False(Wait(wake, TimeSpan.FromMilliseconds(1)));

        var clock = Stopwatch.StartNew();
        var signaller = new Thread(() => { Thread.Sleep(50); wake.Signal(); });
        signaller.Start();
        Assert.True(Wait(wake, TimeSpan.FromSeconds(30)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"woke after {clock.Elapsed}");
        signaller.Join();

        wake.Signal();
        wake.Signal();
        Assert.True(Wait(wake, TimeSpan.Zero));
        wake.Drain();
        Assert.False(Wait(wake, TimeSpan.FromMilliseconds(1)));
    }

    [Fact]
    public void WaitWith_wakes_for_a_signal_or_the_other_fd_and_drains_the_signal()
    {
        using var wake = EventFd.TryCreate() ?? throw new InvalidOperationException("eventfd refused");
        using var other = EventFd.TryCreate() ?? throw new InvalidOperationException("eventfd refused");
        // Neither ready: a timeout, the other not readable.
        Assert.False(wake.WaitWith(other.Fd, TimeSpan.FromMilliseconds(1)));
        // Signalled: returns at once (30 s would fail the run), the other still not readable, and the signal is drained.
        wake.Signal();
        var clock = Stopwatch.StartNew();
        Assert.False(wake.WaitWith(other.Fd, TimeSpan.FromSeconds(30)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20));
        Assert.False(Wait(wake, TimeSpan.Zero));
        // The other fd readable: reported, and left as it is (its owner consumes it).
        other.Signal();
        Assert.True(wake.WaitWith(other.Fd, TimeSpan.FromSeconds(30)));
        Assert.True(Wait(other, TimeSpan.Zero));
    }

    [Fact]
    public void A_signal_after_dispose_does_nothing()
    {
        var wake = EventFd.TryCreate() ?? throw new InvalidOperationException("eventfd refused");
        wake.Dispose();
        wake.Signal();
        Assert.True(wake.IsClosed);
    }

    private static bool Wait(EventFd wake, TimeSpan timeout)
    {
        var fd = new LinuxSockets.PollFd { Fd = wake.Fd, Events = LinuxSockets.PollIn };
        var ts = new LinuxSockets.TimeSpec { Seconds = (long)timeout.TotalSeconds, Nanoseconds = timeout.Ticks % TimeSpan.TicksPerSecond * 100 };
        return LinuxSockets.ppoll(&fd, 1, &ts, null) == 1 && (fd.Revents & LinuxSockets.PollIn) != 0;
    }
}
