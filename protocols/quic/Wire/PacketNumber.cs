using System.Buffers.Binary;

namespace FastRelay.Protocols.Quic.Wire;

/// <summary>
/// Packet number truncation and recovery (RFC 9000 §17.1, Appendix A.2 and A.3). Packet numbers are 0..2^62-1 and
/// travel as their 1..4 least significant bytes.
/// </summary>
public static class PacketNumber
{
    public const ulong MaxValue = (1UL << 62) - 1;

    /// <summary>
    /// The number of bytes needed so the receiver can recover <paramref name="fullPacketNumber"/>: enough to
    /// represent more than twice the range of unacknowledged packet numbers (Appendix A.2).
    /// <paramref name="largestAcknowledged"/> is null when nothing has been acknowledged in this number space.
    /// </summary>
    public static int GetEncodedLength(ulong fullPacketNumber, ulong? largestAcknowledged)
    {
        ulong unacked = largestAcknowledged is { } acked ? fullPacketNumber - acked : fullPacketNumber + 1;
        // min_bits = log2(num_unacked) + 1, num_bytes = ceil(min_bits / 8).
        int minBits = 64 - System.Numerics.BitOperations.LeadingZeroCount(unacked) + 1;
        int bytes = (minBits + 7) / 8;
        return Math.Clamp(bytes, 1, 4);
    }

    /// <summary>Writes the <paramref name="length"/> least significant bytes of the packet number (1..4), big-endian.</summary>
    public static void Write(Span<byte> destination, ulong fullPacketNumber, int length)
    {
        if (length is < 1 or > 4) throw new ArgumentOutOfRangeException(nameof(length));
        if (destination.Length < length) throw new ArgumentException("destination too short");
        for (int i = length - 1; i >= 0; i--)
        {
            destination[i] = (byte)fullPacketNumber;
            fullPacketNumber >>= 8;
        }
    }

    /// <summary>Reads a truncated packet number of 1..4 bytes.</summary>
    public static uint ReadTruncated(ReadOnlySpan<byte> source, int length) => length switch
    {
        1 => source[0],
        2 => BinaryPrimitives.ReadUInt16BigEndian(source),
        3 => (uint)(source[0] << 16 | source[1] << 8 | source[2]),
        4 => BinaryPrimitives.ReadUInt32BigEndian(source),
        _ => throw new ArgumentOutOfRangeException(nameof(length)),
    };

    /// <summary>
    /// Recovers the full packet number closest to <paramref name="largestReceived"/> + 1 (Appendix A.3).
    /// <paramref name="largestReceived"/> is null before any packet was processed in this number space.
    /// </summary>
    public static ulong Decode(ulong? largestReceived, ulong truncated, int lengthBytes)
    {
        int bits = lengthBytes * 8;
        ulong expected = largestReceived is { } largest ? largest + 1 : 0;
        ulong window = 1UL << bits;
        ulong halfWindow = window / 2;
        ulong mask = window - 1;
        ulong candidate = (expected & ~mask) | truncated;
        // Careful unsigned versions of "candidate <= expected - hwin" and "candidate > expected + hwin".
        if (expected >= halfWindow && candidate <= expected - halfWindow && candidate < (1UL << 62) - window)
            return candidate + window;
        if (candidate > expected + halfWindow && candidate >= window)
            return candidate - window;
        return candidate;
    }
}
