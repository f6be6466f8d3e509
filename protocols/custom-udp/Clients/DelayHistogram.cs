using System.Numerics;

namespace FastRelay.Protocols.CustomUdp.Clients;

/// <summary>Delay percentiles in microseconds.</summary>
public sealed record DelayStats(long Count, double MinUs, double MeanUs, double P50Us, double P90Us, double P99Us, double P999Us, double MaxUs);

/// <summary>
/// Log-linear histogram of nanosecond values (HdrHistogram-style: values below 256 exact, above that 128 sub-buckets per
/// power of two, so every bucket is within 0.8 % of the values it holds), preallocated: <see cref="Record"/> never
/// allocates and costs a few ns. Percentiles report the bucket's highest value (clamped to the exact maximum).
/// Not thread-safe: one writer.
/// </summary>
public sealed class DelayHistogram
{
    private const int SubBucketBits = 7;
    private const int SubBuckets = 1 << SubBucketBits;          // 128
    private const int ExactLimit = SubBuckets * 2;               // values < 256 have their own bucket
    private const int BucketCount = ExactLimit + (64 - SubBucketBits - 1) * SubBuckets;

    private readonly long[] _counts = new long[BucketCount];

    public long Count { get; private set; }
    public ulong Min { get; private set; } = ulong.MaxValue;
    public ulong Max { get; private set; }
    public double Sum { get; private set; }

    public void Record(ulong valueNs)
    {
        _counts[Index(valueNs)]++;
        Count++;
        Sum += valueNs;
        if (valueNs < Min) Min = valueNs;
        if (valueNs > Max) Max = valueNs;
    }

    public void Reset()
    {
        Array.Clear(_counts);
        Count = 0;
        Sum = 0;
        Min = ulong.MaxValue;
        Max = 0;
    }

    /// <summary>The value at quantile <paramref name="q"/> (0..1) in ns; 0 when empty.</summary>
    public ulong ValueAt(double q)
    {
        if (Count == 0) return 0;
        var rank = (long)Math.Ceiling(Math.Clamp(q, 0, 1) * Count);
        if (rank < 1) rank = 1;
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank) return Math.Min(Math.Max(HighestIn(i), Min), Max);
        }
        return Max;
    }

    public DelayStats Stats() => Count == 0
        ? new DelayStats(0, 0, 0, 0, 0, 0, 0, 0)
        : new DelayStats(Count, Us(Min), Math.Round(Sum / Count / 1000.0, 1), Us(ValueAt(0.50)), Us(ValueAt(0.90)),
            Us(ValueAt(0.99)), Us(ValueAt(0.999)), Us(Max));

    private static double Us(ulong ns) => Math.Round(ns / 1000.0, 1);

    private static int Index(ulong v)
    {
        if (v < ExactLimit) return (int)v;
        var shift = 63 - BitOperations.LeadingZeroCount(v) - SubBucketBits; // ≥ 1
        var sub = (int)(v >> shift);                                          // 128..255
        return ExactLimit + (shift - 1) * SubBuckets + (sub - SubBuckets);
    }

    private static ulong HighestIn(int index)
    {
        if (index < ExactLimit) return (ulong)index;
        var shift = (index - ExactLimit) / SubBuckets + 1;
        var sub = (ulong)((index - ExactLimit) % SubBuckets + SubBuckets);
        return ((sub + 1) << shift) - 1;
    }
}
