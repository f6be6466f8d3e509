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

    /// <summary>The name of <paramref name="ifindex"/>, or null when no device has it.</summary>
    public static string? NameOf(int ifindex)
    {
        byte* buf = stackalloc byte[16]; // IF_NAMESIZE
        return LibC.if_indextoname((uint)ifindex, buf) == 0 ? null : Marshal.PtrToStringUTF8((nint)buf);
    }
}
