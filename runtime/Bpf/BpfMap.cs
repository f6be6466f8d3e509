using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastRelay.Bpf.Native;

namespace FastRelay.Bpf;

/// <summary>
/// One map of a <see cref="BpfObject"/>. The generic members reinterpret unmanaged structs as bytes, so the CLR
/// struct must have the C layout; each call checks the byte sizes against the kernel map and throws
/// <see cref="ArgumentException"/> on a mismatch. <see cref="BpfMap{TKey,TValue}"/> checks once instead.
/// </summary>
public sealed unsafe partial class BpfMap
{
    private readonly BpfObject _owner;
    internal nint Ptr { get; }

    internal BpfMap(BpfObject owner, nint ptr)
    {
        _owner = owner;
        Ptr = ptr;
        Name = LibBpf.Str(LibBpf.bpf_map__name(ptr));
    }

    public string Name { get; }
    public BpfObject Object => _owner;

    public BpfMapType Type => Shape.Type;
    public int KeySize => Shape.KeySize;
    /// <summary>For per-CPU maps: the size of one CPU's value.</summary>
    public int ValueSize => Shape.ValueSize;
    public int MaxEntries => Shape.MaxEntries;

    private MapShape? _shape;

    // Before load libbpf may still change a map (e.g. ring buffer size rounding), so the shape is read live until
    // the object is loaded and cached afterwards: every map operation checks sizes against it.
    private MapShape Shape
    {
        get
        {
            if (_shape is { } cached) return cached;
            using var _ = new Lease(_owner.Handle);
            var shape = new MapShape((BpfMapType)LibBpf.bpf_map__type(Ptr), (int)LibBpf.bpf_map__key_size(Ptr),
                (int)LibBpf.bpf_map__value_size(Ptr), (int)LibBpf.bpf_map__max_entries(Ptr));
            if (_owner.IsLoaded) _shape = shape;
            return shape;
        }
    }

    private sealed record MapShape(BpfMapType Type, int KeySize, int ValueSize, int MaxEntries);

    /// <summary>The kernel map fd, owned by the object; negative before load.</summary>
    public int Fd
    {
        get
        {
            using var _ = new Lease(_owner.Handle);
            int fd = LibBpf.bpf_map__fd(Ptr);
            return fd >= 0 ? fd : throw new InvalidOperationException($"BPF map '{Name}' is not created yet (load the object first)");
        }
    }

    public bool IsPerCpu => Type is BpfMapType.PercpuHash or BpfMapType.PercpuArray or BpfMapType.LruPercpuHash
        or BpfMapType.PercpuCgroupStorage;

    /// <summary>libbpf_num_possible_cpus(): the number of values a per-CPU lookup returns.</summary>
    public static int PossibleCpuCount => BpfError.Check(LibBpf.libbpf_num_possible_cpus(), "count possible CPUs");

    // ---- byte-level operations: everything else funnels through these ----

    public bool TryLookup(ReadOnlySpan<byte> key, Span<byte> value, ulong flags = 0)
    {
        CheckKey(key.Length);
        CheckValue(value.Length, perCpu: false);
        using var _ = new Lease(_owner.Handle);
        fixed (byte* k = key)
        fixed (byte* v = value)
            return Found(LibBpf.bpf_map__lookup_elem(Ptr, k, (nuint)key.Length, v, (nuint)value.Length, flags), "lookup");
    }

    public void Update(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, BpfUpdateFlags flags = BpfUpdateFlags.Any)
    {
        CheckKey(key.Length);
        CheckValue(value.Length, IsPerCpu);
        using var _ = new Lease(_owner.Handle);
        fixed (byte* k = key)
        fixed (byte* v = value)
            BpfError.Check(LibBpf.bpf_map__update_elem(Ptr, k, (nuint)key.Length, v, (nuint)value.Length, (ulong)flags), $"update map {Name}");
    }

    /// <summary>False when the key was not present.</summary>
    public bool Delete(ReadOnlySpan<byte> key)
    {
        CheckKey(key.Length);
        using var _ = new Lease(_owner.Handle);
        fixed (byte* k = key)
            return Found(LibBpf.bpf_map__delete_elem(Ptr, k, (nuint)key.Length, 0), "delete");
    }

    /// <summary>Writes the key after <paramref name="current"/> (or the first key when it is empty) into
    /// <paramref name="next"/>; false at the end.</summary>
    public bool TryGetNextKey(ReadOnlySpan<byte> current, Span<byte> next)
    {
        CheckKey(next.Length);
        if (!current.IsEmpty) CheckKey(current.Length);
        using var _ = new Lease(_owner.Handle);
        fixed (byte* c = current)
        fixed (byte* n = next)
            return Found(LibBpf.bpf_map__get_next_key(Ptr, current.IsEmpty ? null : c, n, (nuint)next.Length), "get next key");
    }

    // ---- typed operations ----

    public bool TryLookup<TKey, TValue>(in TKey key, out TValue value) where TKey : unmanaged where TValue : unmanaged
    {
        Unsafe.SkipInit(out value);
        if (TryLookup(AsBytes(in key), MemoryMarshal.AsBytes(MemoryMarshal.CreateSpan(ref value, 1)))) return true;
        value = default;
        return false;
    }

    public TValue Lookup<TKey, TValue>(in TKey key) where TKey : unmanaged where TValue : unmanaged =>
        TryLookup(in key, out TValue value) ? value : throw new KeyNotFoundException($"key {key} not in map '{Name}'");

    public void Update<TKey, TValue>(in TKey key, in TValue value, BpfUpdateFlags flags = BpfUpdateFlags.Any)
        where TKey : unmanaged where TValue : unmanaged => Update(AsBytes(in key), AsBytes(in value), flags);

    public bool Delete<TKey>(in TKey key) where TKey : unmanaged => Delete(AsBytes(in key));

    /// <summary>A snapshot of the keys. Keys deleted concurrently may make a hash map restart from its first key.</summary>
    public IReadOnlyList<TKey> GetKeys<TKey>() where TKey : unmanaged
    {
        var keys = new List<TKey>();
        TKey next = default;
        bool more = TryGetNextKey(default, AsWritableBytes(ref next));
        while (more)
        {
            keys.Add(next);
            TKey current = next;
            more = TryGetNextKey(AsBytes(in current), AsWritableBytes(ref next));
        }
        return keys;
    }

    internal static ReadOnlySpan<byte> AsBytes<T>(in T value) where T : unmanaged =>
        MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value));

    internal static Span<byte> AsWritableBytes<T>(ref T value) where T : unmanaged =>
        MemoryMarshal.AsBytes(new Span<T>(ref value));

    /// <summary>0 → true, -ENOENT → false, anything else throws.</summary>
    private bool Found(int result, string operation)
    {
        if (result == -LibC.ENOENT) return false;
        BpfError.Check(result, $"{operation} in map {Name}");
        return true;
    }

    private void CheckKey(int size)
    {
        if (size != KeySize)
            throw new ArgumentException($"map '{Name}' has {KeySize}-byte keys; got {size} bytes");
    }

    private void CheckValue(int size, bool perCpu)
    {
        if (IsPerCpu && !perCpu)
            throw new InvalidOperationException($"map '{Name}' is per-CPU ({Type}): use LookupPerCpu/UpdatePerCpu");
        int expected = perCpu ? PerCpuStride * PossibleCpuCount : ValueSize;
        if (size != expected)
            throw new ArgumentException($"map '{Name}' expects {expected} value bytes{(perCpu ? " (all CPUs)" : "")}; got {size}");
    }
}
