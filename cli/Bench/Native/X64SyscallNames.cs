namespace FastRelay.Cli.Bench.Native;

/// <summary>Names of the x86-64 syscalls a relay makes (arch/x86/entry/syscalls/syscall_64.tbl); others by number.</summary>
public static class X64SyscallNames
{
    private static readonly Dictionary<int, string> Names = new()
    {
        [0] = "read", [1] = "write", [3] = "close", [5] = "fstat", [7] = "poll", [8] = "lseek", [9] = "mmap", [10] = "mprotect",
        [11] = "munmap", [13] = "rt_sigaction", [14] = "rt_sigprocmask", [16] = "ioctl", [17] = "pread64", [18] = "pwrite64",
        [24] = "sched_yield", [28] = "madvise", [35] = "nanosleep", [39] = "getpid", [41] = "socket", [44] = "sendto",
        [45] = "recvfrom", [46] = "sendmsg", [47] = "recvmsg", [54] = "setsockopt", [55] = "getsockopt", [72] = "fcntl",
        [82] = "rename", [186] = "gettid", [202] = "futex", [228] = "clock_gettime", [230] = "clock_nanosleep",
        [232] = "epoll_wait", [233] = "epoll_ctl", [257] = "openat", [262] = "newfstatat", [270] = "pselect6", [271] = "ppoll",
        [281] = "epoll_pwait", [284] = "eventfd", [290] = "eventfd2", [299] = "recvmmsg", [307] = "sendmmsg", [318] = "getrandom",
        [321] = "bpf", [332] = "statx", [435] = "clone3", [441] = "epoll_pwait2",
    };

    public static string NameOf(int number) =>
        number == 511 ? "other (>= 511)" : Names.TryGetValue(number, out var name) ? name : $"#{number}";
}
