using System.Runtime.InteropServices;
using FastRelay.Bpf.Native;

namespace FastRelay.Bpf;

public sealed unsafe partial class BpfMap
{
    /// <summary>The kernel copies per-CPU values at 8-byte strides, whatever the value size.</summary>
    private int PerCpuStride => (ValueSize + 7) & ~7;

    /// <summary>Byte-level form for callers that know the value only by its layout (the generic relay host): one
    /// <see cref="ValueSize"/>-byte array per possible CPU; false when the key is absent.</summary>
    public bool TryLookupPerCpu(ReadOnlySpan<byte> key, out byte[][] values)
    {
        if (!IsPerCpu)
            throw new InvalidOperationException($"map '{Name}' is not per-CPU ({Type})");
        if (!TryLookupAllCpus(key, out var raw))
        {
            values = [];
            return false;
        }
        values = new byte[PossibleCpuCount][];
        for (int cpu = 0; cpu < values.Length; cpu++)
            values[cpu] = raw.AsSpan(cpu * PerCpuStride, ValueSize).ToArray();
        return true;
    }

    /// <summary>One value per possible CPU (index = CPU number); false when the key is absent.</summary>
    public bool TryLookupPerCpu<TKey, TValue>(in TKey key, out TValue[] values) where TKey : unmanaged where TValue : unmanaged
    {
        RequirePerCpu<TValue>();
        if (!TryLookupAllCpus(AsBytes(in key), out var raw))
        {
            values = [];
            return false;
        }
        values = new TValue[PossibleCpuCount];
        for (int cpu = 0; cpu < values.Length; cpu++)
            values[cpu] = MemoryMarshal.Read<TValue>(raw.AsSpan(cpu * PerCpuStride, sizeof(TValue)));
        return true;
    }

    /// <summary>The kernel's per-CPU answer: every possible CPU's value at <see cref="PerCpuStride"/> strides.</summary>
    private bool TryLookupAllCpus(ReadOnlySpan<byte> key, out byte[] raw)
    {
        raw = new byte[PerCpuStride * PossibleCpuCount];
        CheckKey(key.Length);
        using (new Lease(_owner.Handle))
        fixed (byte* kp = key)
        fixed (byte* vp = raw)
            return Found(LibBpf.bpf_map__lookup_elem(Ptr, kp, (nuint)key.Length, vp, (nuint)raw.Length, 0), "per-CPU lookup");
    }

    public TValue[] LookupPerCpu<TKey, TValue>(in TKey key) where TKey : unmanaged where TValue : unmanaged =>
        TryLookupPerCpu(in key, out TValue[] values) ? values : throw new KeyNotFoundException($"key {key} not in map '{Name}'");

    /// <summary>Writes one value per possible CPU; <paramref name="values"/> must have <see cref="PossibleCpuCount"/> entries.</summary>
    public void UpdatePerCpu<TKey, TValue>(in TKey key, ReadOnlySpan<TValue> values, BpfUpdateFlags flags = BpfUpdateFlags.Any)
        where TKey : unmanaged where TValue : unmanaged
    {
        RequirePerCpu<TValue>();
        int cpus = PossibleCpuCount, stride = PerCpuStride;
        if (values.Length != cpus)
            throw new ArgumentException($"map '{Name}' needs {cpus} values (one per possible CPU); got {values.Length}");
        var raw = new byte[stride * cpus];
        for (int cpu = 0; cpu < cpus; cpu++)
            MemoryMarshal.Write(raw.AsSpan(cpu * stride), in values[cpu]);
        Update(AsBytes(in key), raw, flags);
    }

    private void RequirePerCpu<TValue>() where TValue : unmanaged
    {
        if (!IsPerCpu) throw new InvalidOperationException($"map '{Name}' ({Type}) is not per-CPU");
        if (sizeof(TValue) != ValueSize)
            throw new ArgumentException($"map '{Name}' has {ValueSize}-byte values; {typeof(TValue).Name} is {sizeof(TValue)} bytes");
    }
}
