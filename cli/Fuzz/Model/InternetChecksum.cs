using System.Buffers.Binary;

namespace FastRelay.Cli.Fuzz.Model;

/// <summary>
/// RFC 1071 / RFC 1624 one's-complement arithmetic, as the model needs it: full checksums for headers it builds, and the
/// incremental update (HC' = ~(~HC + ~m + m')) that keeps whatever error a received checksum had. The kernel sums in
/// 32 bits and folds; a 16-bit end-around-carry sum is congruent modulo 0xFFFF, and both are non-zero for the kernel's
/// inputs (its ~HC is 0xFFFF0000 | ~HC16), so "a zero sum is 0xFFFF" gives the same word.
/// </summary>
public static class InternetChecksum
{
    /// <summary>16-bit end-around-carry sum of big-endian words (an odd tail padded with zero).</summary>
    public static uint Sum(ReadOnlySpan<byte> data, uint sum = 0)
    {
        var i = 0;
        for (; i + 1 < data.Length; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (i < data.Length)
            sum += (uint)data[i] << 8;
        return Fold(sum);
    }

    /// <summary>The sum of the complements of the words (what "taking them out" of a sum adds).</summary>
    public static uint SumComplement(ReadOnlySpan<byte> data, uint sum = 0)
    {
        var i = 0;
        for (; i + 1 < data.Length; i += 2)
            sum += (ushort)~BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (i < data.Length)
            sum += (ushort)~((uint)data[i] << 8);
        return Fold(sum);
    }

    public static uint Fold(uint sum)
    {
        while (sum > 0xFFFF)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return sum;
    }

    /// <summary>A checksum field updated for a change whose old and new words are summed in <paramref name="change"/>
    /// (complements of the old words plus the new words).</summary>
    public static ushort Update(ushort field, uint change)
    {
        var sum = Fold((uint)(ushort)~field + change);
        if (sum == 0)
            sum = 0xFFFF;
        return (ushort)~sum;
    }

    /// <summary>A checksum computed in full over a sum (the header checksum of a new IPv4 header).</summary>
    public static ushort Complete(uint sum)
    {
        sum = Fold(sum);
        return (ushort)~sum;
    }
}
