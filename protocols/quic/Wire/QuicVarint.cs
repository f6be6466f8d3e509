using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace FastRelay.Protocols.Quic.Wire;

/// <summary>
/// QUIC variable-length integers (RFC 9000 §16): the two most significant bits of the first byte give the length
/// (1, 2, 4 or 8 bytes), the rest is the value in network byte order. Values range 0..2^62-1.
/// </summary>
public static class QuicVarint
{
    public const ulong MaxValue = (1UL << 62) - 1;

    /// <summary>The shortest encoding length of <paramref name="value"/>; 0 if the value is larger than 2^62-1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int GetLength(ulong value) => value switch
    {
        <= 63 => 1,
        <= 16383 => 2,
        <= 1073741823 => 4,
        <= MaxValue => 8,
        _ => 0,
    };

    /// <summary>The encoding length announced by a first byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int GetLengthFromFirstByte(byte first) => 1 << (first >> 6);

    /// <summary>Whether <paramref name="value"/> fits an encoding of <paramref name="length"/> bytes (1, 2, 4 or 8).</summary>
    public static bool Fits(ulong value, int length) => length switch
    {
        1 => value <= 63,
        2 => value <= 16383,
        4 => value <= 1073741823,
        8 => value <= MaxValue,
        _ => false,
    };

    /// <summary>Reads a varint; false (nothing consumed) when the source is too short.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryRead(ReadOnlySpan<byte> source, out ulong value, out int length)
    {
        if (source.IsEmpty) { value = 0; length = 0; return false; }
        byte first = source[0];
        length = 1 << (first >> 6);
        if (source.Length < length) { value = 0; length = 0; return false; }
        switch (length)
        {
            case 1: value = first; break;
            case 2: value = BinaryPrimitives.ReadUInt16BigEndian(source) & 0x3fffu; break;
            case 4: value = BinaryPrimitives.ReadUInt32BigEndian(source) & 0x3fffffffu; break;
            default: value = BinaryPrimitives.ReadUInt64BigEndian(source) & MaxValue; break;
        }
        return true;
    }

    /// <summary>Writes the shortest encoding; false if the destination is too short or the value too large.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryWrite(Span<byte> destination, ulong value, out int written)
    {
        written = GetLength(value);
        if (written == 0 || destination.Length < written) { written = 0; return false; }
        WriteUnchecked(destination, value, written);
        return true;
    }

    /// <summary>
    /// Writes <paramref name="value"/> with exactly <paramref name="length"/> bytes (1, 2, 4 or 8), a non-minimal
    /// encoding if need be: the fast path keeps packet-number-like fields (stream ids, Length) at fixed offsets.
    /// False if the value does not fit that length or the destination is too short.
    /// </summary>
    public static bool TryWrite(Span<byte> destination, ulong value, int length, out int written)
    {
        written = 0;
        if (!Fits(value, length) || destination.Length < length) return false;
        WriteUnchecked(destination, value, length);
        written = length;
        return true;
    }

    /// <summary>Writes the shortest encoding and returns its length; throws if it does not fit (a caller bug).</summary>
    public static int Write(Span<byte> destination, ulong value)
    {
        if (!TryWrite(destination, value, out int written))
            throw new ArgumentException(value > MaxValue ? $"{value} exceeds 2^62-1" : "destination too short");
        return written;
    }

    /// <summary>Writes with a forced length (0 = shortest) and returns it; throws if it does not fit (a caller bug).</summary>
    public static int Write(Span<byte> destination, ulong value, int length)
    {
        if (length == 0) return Write(destination, value);
        if (!TryWrite(destination, value, length, out int written))
            throw new ArgumentException($"{value} does not fit a {length}-byte varint or destination too short");
        return written;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteUnchecked(Span<byte> destination, ulong value, int length)
    {
        switch (length)
        {
            case 1: destination[0] = (byte)value; break;
            case 2: BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)(value | 0x4000)); break;
            case 4: BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)value | 0x80000000u); break;
            default: BinaryPrimitives.WriteUInt64BigEndian(destination, value | 0xC000000000000000UL); break;
        }
    }
}
