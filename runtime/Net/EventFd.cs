using System.Runtime.InteropServices;

namespace FastRelay.Net;

/// <summary>
/// A Linux eventfd: lets any thread wake a thread blocked in poll() on it (with other fds) with one write. Signals
/// coalesce until <see cref="Drain"/>. A SafeHandle, so a <see cref="Signal"/> racing Dispose never writes to a closed
/// (or reused) fd number.
/// </summary>
public sealed partial class EventFd : SafeHandle
{
    private const int EfdCloexec = 0x80000, EfdNonblock = 0x800;

    private EventFd(int fd) : base(-1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle == -1;

    /// <summary>A new non-blocking eventfd, or null where the kernel refuses one (the caller falls back to polling).</summary>
    public static EventFd? TryCreate()
    {
        if (!OperatingSystem.IsLinux()) return null;
        var fd = eventfd(0, EfdCloexec | EfdNonblock);
        return fd < 0 ? null : new EventFd(fd);
    }

    /// <summary>The fd to poll for POLLIN; valid while this object is.</summary>
    public int Fd => (int)handle;

    /// <summary>Makes the fd readable (wakes a poller). Safe from any thread, also after Dispose (then nothing happens).</summary>
    public unsafe void Signal()
    {
        var added = false;
        try
        {
            DangerousAddRef(ref added);
            ulong one = 1;
            _ = write((int)handle, &one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added) DangerousRelease();
        }
    }

    /// <summary>Makes the fd unreadable again (after a poll said it was readable); nothing after Dispose (the number
    /// may already belong to another file by then).</summary>
    public unsafe void Drain()
    {
        var added = false;
        try
        {
            DangerousAddRef(ref added);
            ulong value;
            _ = read((int)handle, &value, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added) DangerousRelease();
        }
    }

    /// <summary>
    /// Sleeps until this eventfd is signalled, <paramref name="otherFd"/> is readable, or <paramref name="timeout"/> has
    /// passed (to the nanosecond; EINTR counts as a timeout). A signal is drained before returning, so one given after
    /// this returns wakes the next wait. Returns whether <paramref name="otherFd"/> is readable (POLLIN, or an error/hang-up
    /// the caller meets when it reads).
    /// </summary>
    public unsafe bool WaitWith(int otherFd, TimeSpan timeout)
    {
        var added = false;
        try
        {
            DangerousAddRef(ref added);
            var fds = stackalloc LinuxSockets.PollFd[2];
            fds[0] = new() { Fd = (int)handle, Events = LinuxSockets.PollIn };
            fds[1] = new() { Fd = otherFd, Events = LinuxSockets.PollIn };
            var ns = Math.Max(0, (long)(timeout.Ticks * 100));
            var spec = new LinuxSockets.TimeSpec { Seconds = ns / 1_000_000_000, Nanoseconds = ns % 1_000_000_000 };
            if (LinuxSockets.ppoll(fds, 2, &spec, null) <= 0) return false;
            if (fds[0].Revents != 0)
            {
                ulong value;
                _ = read((int)handle, &value, sizeof(ulong));
            }
            return fds[1].Revents != 0;
        }
        finally
        {
            if (added) DangerousRelease();
        }
    }

    protected override bool ReleaseHandle() => close((int)handle) == 0;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int eventfd(uint initial, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint write(int fd, void* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint read(int fd, void* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
