using System.Runtime.InteropServices;

namespace FastRelay.Bpf.Native;

// Namespaces, mounts, interface names and netlink sockets: libc calls used by the attach and route code.
internal static unsafe partial class LibC
{
    internal const int O_RDONLY = 0, O_CLOEXEC = 0x80000;
    internal const int CLONE_NEWNET = 0x40000000;
    internal const int EEXIST = 17, EBUSY = 16, ENODEV = 19, EOPNOTSUPP = 95, EAGAIN = 11, EPERM = 1, ENOLINK = 67;
    internal const int AF_NETLINK = 16, SOCK_RAW = 3, SOCK_CLOEXEC = 0x80000, NETLINK_ROUTE = 0;
    internal const int SOL_SOCKET = 1, SO_RCVTIMEO = 20, SOL_NETLINK = 270, NETLINK_EXT_ACK = 11;
    internal const long BPF_FS_MAGIC = 0xcafe4a11;

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int open(string path, int flags);
    [LibraryImport(Lib, SetLastError = true)] internal static partial int setns(int fd, int nstype);

    internal const int O_DIRECTORY = 0x10000, LOCK_EX = 2, LOCK_NB = 4, EWOULDBLOCK = EAGAIN;
    [LibraryImport(Lib, SetLastError = true)] internal static partial int flock(int fd, int operation);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int mount(string source, string target, string fstype, nuint flags, nint data);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int umount2(string target, int flags);

    internal const int MNT_DETACH = 2;
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int statfs(string path, byte* buf);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial uint if_nametoindex(string name);
    [LibraryImport(Lib, SetLastError = true)] internal static partial nint if_indextoname(uint index, byte* name);

    [LibraryImport(Lib, SetLastError = true)] internal static partial int socket(int domain, int type, int protocol);
    [LibraryImport(Lib, SetLastError = true)] internal static partial int bind(int fd, void* addr, uint len);
    [LibraryImport(Lib, SetLastError = true)] internal static partial int setsockopt(int fd, int level, int name, void* value, uint len);
    [LibraryImport(Lib, SetLastError = true)] internal static partial nint send(int fd, void* buf, nuint len, int flags);
    [LibraryImport(Lib, SetLastError = true)] internal static partial nint recv(int fd, void* buf, nuint len, int flags);

    internal const int AF_INET = 2, SOCK_DGRAM = 2;
    internal const nuint SIOCGIFMTU = 0x8921;
    [LibraryImport(Lib, SetLastError = true)] internal static partial int ioctl(int fd, nuint request, void* arg);
}

/// <summary>A plain fd owned by this process (namespace files, netlink sockets), closed exactly once.</summary>
internal sealed class OwnedFd : SafeHandle
{
    internal OwnedFd(int fd) : base(-1, ownsHandle: true) => SetHandle(fd);
    public override bool IsInvalid => handle < 0;
    internal int Fd => (int)handle;
    protected override bool ReleaseHandle() => LibC.close((int)handle) == 0;
}
