using FastRelay.Bpf.Native;

namespace FastRelay.Bpf;

// Batch operations (BPF_MAP_LOOKUP_BATCH / BPF_MAP_UPDATE_BATCH / BPF_MAP_DELETE_BATCH, kernel 5.6+): many elements per
// syscall, for writers and readers that would otherwise make one syscall per subscriber (the MoQ fast path maps and
// unmaps a new subgroup's stream for every subscriber at once). The kernel processes a batch in order and stops at the
// first element it refuses; the count it returns says how many it processed before that one.
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

    /// <summary>
    /// Writes the (key, value) pairs in order in one syscall until the kernel refuses one (a full hash map: E2BIG);
    /// returns how many were written before it (all of them: <paramref name="keys"/>.Length) and, in
    /// <paramref name="errno"/>, why the next one was refused (0 when none was). The caller decides what to do with the
    /// refused element and the ones after it (which were not attempted). A refusal of the whole batch (not an element's)
    /// throws <see cref="BpfException"/>.
    /// </summary>
    public int TryUpdateBatch<TKey, TValue>(ReadOnlySpan<TKey> keys, ReadOnlySpan<TValue> values, out int errno) where TKey : unmanaged where TValue : unmanaged
    {
        CheckKey(sizeof(TKey));
        CheckValue(sizeof(TValue), perCpu: false);
        if (values.Length != keys.Length) throw new ArgumentException("one value per key", nameof(values));
        errno = 0;
        if (keys.IsEmpty) return 0;
        using var _ = new Lease(_owner.Handle);
        uint count = (uint)keys.Length;
        int result;
        fixed (TKey* k = keys)
        fixed (TValue* v = values)
            result = LibBpf.bpf_map_update_batch(LibBpf.bpf_map__fd(Ptr), k, v, &count, null);
        if (result >= 0) return keys.Length;
        // A refusal of the batch itself (a map type without batch updates, bad arguments) comes before any element, with
        // the count left as asked: that is an error, not a partial write.
        if (!IsElementRefusal(-result)) BpfError.Check(result, $"update batch in map {Name}");
        errno = -result;
        // The kernel's count is what it processed before the refused element (never more than asked).
        return (int)Math.Min(count, (uint)keys.Length - 1);
    }

    // What the kernel answers for one element of a batch (a hash map's update or delete of it): full (E2BIG), no memory
    // (ENOMEM), bucket busy (EBUSY), already there or absent (EEXIST, ENOENT).
    private static bool IsElementRefusal(int errno) => errno is 7 or 12 or 16 or 17 or 2;

    /// <summary>
    /// Deletes every key, in one syscall when all are in the map; returns how many were deleted. A key that is not in
    /// the map is skipped: the kernel stops a batch at it (ENOENT), so the keys after it go in one more call. Any other
    /// refusal throws <see cref="BpfException"/> (the keys before it are deleted). Hash maps only: an array map's
    /// elements cannot be deleted.
    /// </summary>
    public int DeleteBatch<TKey>(ReadOnlySpan<TKey> keys) where TKey : unmanaged
    {
        CheckKey(sizeof(TKey));
        var deleted = 0;
        using var _ = new Lease(_owner.Handle);
        var fd = LibBpf.bpf_map__fd(Ptr);
        fixed (TKey* k = keys)
        {
            var at = 0;
            while (at < keys.Length)
            {
                uint count = (uint)(keys.Length - at);
                var result = LibBpf.bpf_map_delete_batch(fd, k + at, &count, null);
                if (result >= 0)
                {
                    deleted += keys.Length - at;
                    break;
                }
                // count: the keys deleted before the refused one.
                var done = (int)Math.Min(count, (uint)(keys.Length - at - 1));
                deleted += done;
                if (result != -2) BpfError.Check(result, $"delete batch in map {Name}");
                at += done + 1;   // ENOENT: skip the absent key, go on with the rest
            }
        }
        return deleted;
    }
}
