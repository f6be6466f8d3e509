using System.Runtime.InteropServices;
using FastRelay.Bpf.Native;

namespace FastRelay.Net;

/// <summary>Interface name ↔ ifindex in the calling thread's network namespace.</summary>
public static unsafe class NetDevice
{
    /// <summary>The ifindex of <paramref name="name"/>; throws <see cref="ArgumentException"/> when there is no such device.</summary>
    public static int IndexOf(string name)
    {
        uint index = LibC.if_nametoindex(name);
        if (index == 0)
            throw new ArgumentException($"network device '{name}' not found in this network namespace ({NetworkNamespace.CurrentIdentity()})", nameof(name));
        return (int)index;
    }

    /// <summary>The MTU of <paramref name="ifindex"/>, or null when no device has it. Asked of the kernel (SIOCGIFMTU) rather
    /// than read from /sys, which shows the namespace of whoever mounted it, not necessarily the caller's.</summary>
    public static int? MtuOf(int ifindex)
    {
        var name = NameOf(ifindex);
        if (name is null)
            return null;
        int fd = LibC.socket(LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0)
            return null;
        using var owned = new OwnedFd(fd);
        byte* ifreq = stackalloc byte[40]; // struct ifreq: the name, then a union whose int is ifr_mtu
        new Span<byte>(ifreq, 40).Clear();
        System.Text.Encoding.UTF8.GetBytes(name, new Span<byte>(ifreq, 15));
        return LibC.ioctl(fd, LibC.SIOCGIFMTU, ifreq) == 0 ? *(int*)(ifreq + 16) : null;
    }

    /// <summary>The name of <paramref name="ifindex"/>, or null when no device has it.</summary>
    public static string? NameOf(int ifindex)
    {
        byte* buf = stackalloc byte[16]; // IF_NAMESIZE
        return LibC.if_indextoname((uint)ifindex, buf) == 0 ? null : Marshal.PtrToStringUTF8((nint)buf);
    }
}
