namespace FastRelay.Protocols.Quic.Http3.Qpack;

/// <summary>Prefixed integers (RFC 7541 §5.1, used by QPACK per RFC 9204 §4.1.1). The prefix occupies the low
/// <c>prefixBits</c> bits of the first byte; the caller owns the high bits (flags).</summary>
public static class QpackInteger
{
    /// <summary>Values above this are refused: 2^62-1 is the largest quantity QUIC itself can express, and stopping
    /// there keeps the shift arithmetic below from overflowing on hostile continuation bytes.</summary>
    public const ulong MaxValue = (1UL << 62) - 1;

    /// <summary>Reads an integer with an N-bit prefix. Returns false with <paramref name="truncated"/> = true when the
    /// input ends inside the integer, or false with truncated = false when it exceeds <see cref="MaxValue"/>.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, int prefixBits, out ulong value, out int consumed, out bool truncated)
    {
        value = 0;
        consumed = 0;
        truncated = source.IsEmpty;
        if (truncated)
            return false;
        ulong max = (1UL << prefixBits) - 1;
        value = source[0] & max;
        consumed = 1;
        if (value < max)
            return true;
        int shift = 0;
        while (true)
        {
            if (consumed >= source.Length)
            {
                truncated = true;
                return false;
            }
            byte b = source[consumed++];
            ulong part = (ulong)(b & 0x7f);
            // 9 continuation bytes hold 63 bits; anything past that, or a sum past MaxValue, is refused.
            if (shift > 56 || (part << shift) >> shift != part || MaxValue - value < part << shift)
                return false;
            value += part << shift;
            shift += 7;
            if ((b & 0x80) == 0)
                return true;
        }
    }

    public static int GetLength(ulong value, int prefixBits)
    {
        ulong max = (1UL << prefixBits) - 1;
        if (value < max)
            return 1;
        value -= max;
        int length = 2;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }
        return length;
    }

    /// <summary>Writes <paramref name="value"/> with an N-bit prefix; <paramref name="flags"/> supplies the bits above
    /// the prefix of the first byte. Returns the bytes written.</summary>
    public static int Write(Span<byte> destination, ulong value, int prefixBits, byte flags)
    {
        int length = GetLength(value, prefixBits);
        if (destination.Length < length)
            throw new ArgumentException("destination too small", nameof(destination));
        ulong max = (1UL << prefixBits) - 1;
        if (value < max)
        {
            destination[0] = (byte)(flags | (byte)value);
            return 1;
        }
        destination[0] = (byte)(flags | (byte)max);
        value -= max;
        int i = 1;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(0x80 | (value & 0x7f));
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }
}
