using FastRelay.Bpf.Native;

namespace FastRelay.Bpf;

// Batch operations (BPF_MAP_LOOKUP_BATCH / BPF_MAP_UPDATE_BATCH, kernel 5.6+): many elements per syscall, for readers
// that would otherwise make one syscall per slot on a timer (the QUIC fast path's credit refresh for 64 subscribers).
public sealed unsafe partial class BpfMap
{
    /// <summary>
    /// Reads up to <paramref name="keys"/>.Length elements from the start of the map in one syscall (an array map:
    /// keys 0, 1, ... in order) into <paramref name="keys"/> and <paramref name="values"/>; returns how many were read.
    /// Not for per-CPU maps.
    /// </summary>
    public int LookupBatch<TKey, TValue>(Span<TKey> keys, Span<TValue> values) where TKey : unmanaged where TValue : unmanaged
    {
        CheckKey(sizeof(TKey));
        CheckValue(sizeof(TValue), perCpu: false);
        if (values.Length < keys.Length) throw new ArgumentException("values must hold as many elements as keys", nameof(values));
        using var _ = new Lease(_owner.Handle);
        uint count = (uint)keys.Length;
        TKey next = default;
        fixed (TKey* k = keys)
        fixed (TValue* v = values)
        {
            int result = LibBpf.bpf_map_lookup_batch(LibBpf.bpf_map__fd(Ptr), null, &next, k, v, &count, null);
            // ENOENT: the end of the map was reached; count still says how many were read.
            if (result < 0 && result != -2) BpfError.Check(result, $"lookup batch in map {Name}");
        }
        return (int)count;
    }

    /// <summary>Writes every (key, value) pair in one syscall.</summary>
    public void UpdateBatch<TKey, TValue>(ReadOnlySpan<TKey> keys, ReadOnlySpan<TValue> values) where TKey : unmanaged where TValue : unmanaged
    {
        CheckKey(sizeof(TKey));
        CheckValue(sizeof(TValue), perCpu: false);
        if (values.Length != keys.Length) throw new ArgumentException("one value per key", nameof(values));
        if (keys.IsEmpty) return;
        using var _ = new Lease(_owner.Handle);
        uint count = (uint)keys.Length;
        fixed (TKey* k = keys)
        fixed (TValue* v = values)
            BpfError.Check(LibBpf.bpf_map_update_batch(LibBpf.bpf_map__fd(Ptr), k, v, &count, null), $"update batch in map {Name}");
    }
}
