namespace FastRelay.Bpf;

/// <summary>
/// A typed view of a <see cref="BpfMap"/>, checked once at construction: the CLR key and value sizes must equal the
/// kernel map's, otherwise <see cref="BpfMapLayoutException"/> names both. Generated accessors derive from or wrap
/// this type; it is deliberately a thin forwarder to <see cref="BpfMap"/>.
/// </summary>
public unsafe class BpfMap<TKey, TValue> where TKey : unmanaged where TValue : unmanaged
{
    public BpfMap(BpfMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        if (sizeof(TKey) != map.KeySize || sizeof(TValue) != map.ValueSize)
            throw new BpfMapLayoutException(
                $"map '{map.Name}' ({map.Type}) has {map.KeySize}-byte keys and {map.ValueSize}-byte values, but " +
                $"{typeof(TKey).Name} is {sizeof(TKey)} bytes and {typeof(TValue).Name} is {sizeof(TValue)} bytes");
        Map = map;
    }

    public BpfMap Map { get; }
    public string Name => Map.Name;

    public bool TryLookup(in TKey key, out TValue value) => Map.TryLookup(in key, out value);
    public TValue Lookup(in TKey key) => Map.Lookup<TKey, TValue>(in key);
    public void Update(in TKey key, in TValue value, BpfUpdateFlags flags = BpfUpdateFlags.Any) => Map.Update(in key, in value, flags);
    public bool Delete(in TKey key) => Map.Delete(in key);
    public int LookupBatch(Span<TKey> keys, Span<TValue> values) => Map.LookupBatch(keys, values);
    public void UpdateBatch(ReadOnlySpan<TKey> keys, ReadOnlySpan<TValue> values) => Map.UpdateBatch(keys, values);
    public IReadOnlyList<TKey> GetKeys() => Map.GetKeys<TKey>();
    /// <summary>Per-CPU maps only: one value per possible CPU.</summary>
    public TValue[] LookupPerCpu(in TKey key) => Map.LookupPerCpu<TKey, TValue>(in key);
}
