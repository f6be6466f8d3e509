using System.Numerics;

namespace FastRelay.Protocols.Moq.Clients;

/// <summary>Latency percentiles in microseconds, as reported.</summary>
public sealed record LatencyStats(long Count, long MinUs, double MeanUs, long P50Us, long P90Us, long P99Us, long MaxUs);

/// <summary>
/// Histogram of one-way latencies in whole microseconds: exact below 2048 µs (where relay latencies on one host live),
/// above that 256 buckets per power of two (each within 0.4 % of the values it holds), so memory is fixed (~125 KB) however
/// many objects arrive. Percentiles are nearest-rank (the smallest recorded value with at least q × n values at or below
/// it), reporting a bucket's highest value clamped to the exact min and max. One writer.
/// </summary>
public sealed class LatencyHistogram
{
    private const int ExactLimit = 2048;          // 2^11
    private const int ExactBits = 11;
    private const int SubBucketBits = 8;
    private const int SubBuckets = 1 << SubBucketBits;
    private const int BucketCount = ExactLimit + (63 - ExactBits + 1) * SubBuckets;

    private readonly long[] _counts = new long[BucketCount];
    private double _sum;

    public long Count { get; private set; }
    public long Min { get; private set; } = long.MaxValue;
    public long Max { get; private set; }

    /// <summary>Records a latency ≥ 0 µs (negative values are the caller's to count: clocks not shared).</summary>
    public void Record(long microseconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(microseconds);
        _counts[Index((ulong)microseconds)]++;
        Count++;
        _sum += microseconds;
        if (microseconds < Min) Min = microseconds;
        if (microseconds > Max) Max = microseconds;
    }

    /// <summary>Adds every value <paramref name="other"/> holds (e.g. to pool several subscribers' latencies).</summary>
    public void Add(LatencyHistogram other)
    {
        if (other.Count == 0) return;
        for (var i = 0; i < _counts.Length; i++) _counts[i] += other._counts[i];
        Count += other.Count;
        _sum += other._sum;
        Min = Math.Min(Min, other.Min);
        Max = Math.Max(Max, other.Max);
    }

    /// <summary>Nearest-rank percentile, q in 0..1; 0 when empty.</summary>
    public long ValueAt(double q)
    {
        if (Count == 0) return 0;
        var rank = Math.Max(1, (long)Math.Ceiling(Math.Clamp(q, 0, 1) * Count));
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank) return Math.Clamp(HighestIn(i), Min, Max);
        }
        return Max;
    }

    public LatencyStats Stats() => Count == 0
        ? new LatencyStats(0, 0, 0, 0, 0, 0, 0)
        : new LatencyStats(Count, Min, Math.Round(_sum / Count, 1), ValueAt(0.50), ValueAt(0.90), ValueAt(0.99), Max);

    private static int Index(ulong v)
    {
        if (v < ExactLimit) return (int)v;
        var exponent = 63 - BitOperations.LeadingZeroCount(v);      // ≥ 11
        var sub = (int)(v >> (exponent - SubBucketBits)) - SubBuckets; // 0..255: the bits below the leading one
        return ExactLimit + (exponent - ExactBits) * SubBuckets + sub;
    }

    private static long HighestIn(int index)
    {
        if (index < ExactLimit) return index;
        var exponent = (index - ExactLimit) / SubBuckets + ExactBits;
        var sub = (ulong)((index - ExactLimit) % SubBuckets + SubBuckets);
        var shift = exponent - SubBucketBits;
        var highest = ((sub + 1) << shift) - 1;
        return highest > long.MaxValue ? long.MaxValue : (long)highest;
    }
}
