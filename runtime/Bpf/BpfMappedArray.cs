using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastRelay.Bpf.Native;

namespace FastRelay.Bpf;

/// <summary>
/// An array map created with BPF_F_MMAPABLE, mapped into this process: its elements are read and written as memory,
/// without a syscall, while the kernel programs read and update the same bytes. For state userspace changes far more
/// often than a syscall per change allows (the QUIC fast path's congestion budget moves with every ACK). Writers on
/// both sides must use atomic operations where both write the same field (the kernel's __sync_fetch_and_add pairs with
/// <see cref="Interlocked"/>). The mapping keeps the map alive by itself; dispose to unmap.
/// </summary>
public sealed unsafe class BpfMappedArray<T> : IDisposable where T : unmanaged
{
    private const uint BpfFMmapable = 1u << 10;
    private const int ProtRead = 1, ProtWrite = 2, MapShared = 1;

    private byte* _base;
    private readonly nuint _length;
    private readonly int _stride;

    public BpfMappedArray(BpfMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        if (map.Type != BpfMapType.Array)
            throw new ArgumentException($"map '{map.Name}' is {map.Type}; only array maps can be mapped", nameof(map));
        if ((LibBpf.bpf_map__map_flags(map.Ptr) & BpfFMmapable) == 0)
            throw new ArgumentException($"map '{map.Name}' was not created with BPF_F_MMAPABLE", nameof(map));
        if (sizeof(T) != map.ValueSize)
            throw new BpfMapLayoutException($"map '{map.Name}' has {map.ValueSize}-byte values, but {typeof(T).Name} is {sizeof(T)} bytes");
        // The kernel lays array elements out 8-byte aligned (round_up(value_size, 8)) and maps whole pages.
        _stride = (sizeof(T) + 7) & ~7;
        Count = map.MaxEntries;
        var page = (nuint)Environment.SystemPageSize;
        _length = ((nuint)(_stride * Count) + page - 1) / page * page;
        var address = MappedMemory.mmap(null, _length, ProtRead | ProtWrite, MapShared, map.Fd, 0);
        if (address == (void*)-1)
            throw new BpfException($"mmap of map '{map.Name}'", Marshal.GetLastPInvokeError());
        _base = (byte*)address;
    }

    public int Count { get; }

    /// <summary>Element <paramref name="index"/>, in the shared memory itself.</summary>
    public ref T this[uint index]
    {
        get
        {
            ObjectDisposedException.ThrowIf(_base is null, this);
            if (index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"the map has {Count} elements");
            return ref Unsafe.AsRef<T>(_base + (nuint)index * (nuint)_stride);
        }
    }

    public void Dispose()
    {
        var address = _base;
        if (address is null) return;
        _base = null;
        MappedMemory.munmap(address, _length);
    }
}

internal static unsafe partial class MappedMemory
{
    [LibraryImport("libc", SetLastError = true)]
    internal static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int munmap(void* addr, nuint length);
}
