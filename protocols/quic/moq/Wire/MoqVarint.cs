using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace FastRelay.Protocols.Moq.Wire;

/// <summary>
/// The draft-19 variable-length integer (§"Variable-Length Integers"): the number of leading 1 bits of the first byte
/// gives the length (1..9 bytes); the bits after the first 0 and the following bytes hold the value, big endian.
/// It is NOT the QUIC varint. Any length that can hold the value is valid on receive; we always write the shortest.
/// </summary>
public static class MoqVarint
{
    public const int MaxLength = 9;

    /// <summary>Encoded length announced by a first byte (1..9).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int LengthFromFirstByte(byte first)
    {
        int ones = BitOperations.LeadingZeroCount((uint)(byte)~first) - 24;
        return ones >= 8 ? 9 : ones + 1;
    }

    /// <summary>Shortest encoded length of <paramref name="value"/>.</summary>
    public static int GetLength(ulong value)
    {
        if (value < 1UL << 7) return 1;
        if (value < 1UL << 14) return 2;
        if (value < 1UL << 21) return 3;
        if (value < 1UL << 28) return 4;
        if (value < 1UL << 35) return 5;
        if (value < 1UL << 42) return 6;
        if (value < 1UL << 49) return 7;
        if (value < 1UL << 56) return 8;
        return 9;
    }

    /// <summary>Reads one varint; false when <paramref name="source"/> holds fewer bytes than the first byte announces.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out ulong value, out int length)
    {
        if (source.IsEmpty) { value = 0; length = 0; return false; }
        byte first = source[0];
        length = LengthFromFirstByte(first);
        if (source.Length < length) { value = 0; length = 0; return false; }
        if (length == 9) { value = BinaryPrimitives.ReadUInt64BigEndian(source[1..]); return true; }
        // For length n <= 8 the first byte keeps 8 - n value bits (0 for n = 8).
        ulong v = length == 8 ? 0UL : (ulong)(first & (0xFF >> length));
        for (int i = 1; i < length; i++) v = (v << 8) | source[i];
        value = v;
        return true;
    }

    /// <summary>Writes the shortest encoding; returns the number of bytes written.</summary>
    public static int Write(Span<byte> destination, ulong value) => Write(destination, value, GetLength(value));

    /// <summary>Writes with a forced <paramref name="length"/> (tests and senders that want a fixed width).</summary>
    public static int Write(Span<byte> destination, ulong value, int length)
    {
        if (length < GetLength(value) || length > 9) throw new ArgumentOutOfRangeException(nameof(length));
        if (destination.Length < length) throw new ArgumentException("destination too small", nameof(destination));
        if (length == 9)
        {
            destination[0] = 0xFF;
            BinaryPrimitives.WriteUInt64BigEndian(destination[1..], value);
            return 9;
        }
        ulong v = value;
        for (int i = length - 1; i >= 1; i--) { destination[i] = (byte)v; v >>= 8; }
        byte prefix = (byte)(0xFF00 >> (length - 1)); // length-1 leading ones, then a zero
        destination[0] = length == 8 ? (byte)0xFE : (byte)(prefix | (byte)v);
        return length;
    }
}
