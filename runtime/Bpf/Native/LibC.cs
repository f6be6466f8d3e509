using System.Runtime.InteropServices;

namespace FastRelay.Bpf.Native;

/// <summary>The few libc calls libbpf does not wrap: formatting its printf-style log lines and owning plain fds.</summary>
internal static unsafe partial class LibC
{
    // "libc.so" on glibc is a linker script, so name the real shared object.
    private const string Lib = "libc.so.6";

    internal const int F_DUPFD_CLOEXEC = 1030;
    internal const int EINTR = 4, ENOENT = 2, ENOSPC = 28, EINVAL = 22;

    /// <summary><paramref name="args"/> is the callee's <c>va_list</c>: a pointer on x86-64 and (by-reference
    /// struct) on arm64.</summary>
    [LibraryImport(Lib)] internal static partial int vsnprintf(byte* buf, nuint size, byte* format, nint args);
    [LibraryImport(Lib, SetLastError = true)] internal static partial int close(int fd);
    [LibraryImport(Lib, SetLastError = true)] internal static partial int fcntl(int fd, int cmd, int arg);
}
