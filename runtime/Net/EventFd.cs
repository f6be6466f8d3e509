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
