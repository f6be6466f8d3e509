using System.Buffers.Binary;

namespace FastRelay.Protocols.CustomUdp.Wire;

/// <summary>Outcome of <see cref="TestPayload.Verify"/>.</summary>
public enum TestPayloadStatus : byte
{
    Ok,
    /// <summary>Fewer than <see cref="TestPayload.MinSize"/> bytes.</summary>
    TooShort,
    /// <summary>The length field disagrees with the bytes received (truncated or padded on the way).</summary>
    LengthMismatch,
    /// <summary>The pattern does not match the (channel, publisher sequence) the payload names: corrupted.</summary>
    Corrupt,
    /// <summary>An intact payload of another channel than the one expected.</summary>
    WrongChannel,
}

/// <summary>
/// DATA payload of the test tools (the bytes after the 16-byte header):
/// <code>
/// 0..7   u64 publisher sequence (the publisher's own counter, not renumbered by the relay)
/// 8..9   u16 channel
/// 10..11 u16 length of the whole payload (these 16 bytes included)
/// 12..15 u32 check: the first word of a splitmix64 stream seeded from (channel, publisher sequence, length)
/// 16..   pattern: the rest of that stream, little-endian 8-byte words
/// </code>
/// A subscriber recomputes the pattern: any flipped, lost or added byte is <see cref="TestPayloadStatus.Corrupt"/> or
/// <see cref="TestPayloadStatus.LengthMismatch"/>, and an intact packet of another channel is
/// <see cref="TestPayloadStatus.WrongChannel"/>. Allocation-free.
/// </summary>
public static class TestPayload
{
    public const int MinSize = 16;
    public const int MaxSize = ushort.MaxValue;

    /// <summary>Smallest DATA packet carrying a test payload (header + 16).</summary>
    public const int MinPacketSize = CustomUdpWire.HeaderSize + MinSize;

    /// <summary>Writes a test payload of <paramref name="length"/> bytes (≥ <see cref="MinSize"/>); returns length.</summary>
    public static int Write(Span<byte> destination, ushort channel, ulong publisherSequence, int length)
    {
        if (length < MinSize || length > MaxSize) throw new ArgumentOutOfRangeException(nameof(length), $"a test payload is {MinSize}..{MaxSize} bytes");
        if (destination.Length < length) throw new ArgumentException($"need {length} bytes", nameof(destination));
        BinaryPrimitives.WriteUInt64BigEndian(destination, publisherSequence);
        BinaryPrimitives.WriteUInt16BigEndian(destination[8..], channel);
        BinaryPrimitives.WriteUInt16BigEndian(destination[10..], (ushort)length);
        var state = Seed(channel, publisherSequence, (ushort)length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], (uint)Next(ref state));
        var pattern = destination[MinSize..length];
        while (pattern.Length >= 8)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(pattern, Next(ref state));
            pattern = pattern[8..];
        }
        if (!pattern.IsEmpty)
        {
            var last = Next(ref state);
            for (var i = 0; i < pattern.Length; i++) pattern[i] = (byte)(last >> (8 * i));
        }
        return length;
    }

    /// <summary>Writes a whole DATA packet (header + test payload) of <paramref name="packetSize"/> bytes; returns it.</summary>
    public static int WritePacket(Span<byte> destination, ushort channel, ulong publisherSequence, byte priority, int packetSize, ulong timestampNs)
    {
        if (packetSize < MinPacketSize) throw new ArgumentOutOfRangeException(nameof(packetSize), $"a test packet is at least {MinPacketSize} bytes");
        PacketHeader.Data(channel, unchecked((uint)publisherSequence), timestampNs, priority).Write(destination);
        Write(destination[CustomUdpWire.HeaderSize..], channel, publisherSequence, packetSize - CustomUdpWire.HeaderSize);
        return packetSize;
    }

    /// <summary>Checks a payload (the bytes after the header). Never throws.</summary>
    public static TestPayloadStatus Verify(ReadOnlySpan<byte> payload, ushort expectedChannel, out ulong publisherSequence)
    {
        publisherSequence = 0;
        if (payload.Length < MinSize) return TestPayloadStatus.TooShort;
        publisherSequence = BinaryPrimitives.ReadUInt64BigEndian(payload);
        var channel = BinaryPrimitives.ReadUInt16BigEndian(payload[8..]);
        if (BinaryPrimitives.ReadUInt16BigEndian(payload[10..]) != payload.Length) return TestPayloadStatus.LengthMismatch;
        var state = Seed(channel, publisherSequence, (ushort)payload.Length);
        ulong diff = BinaryPrimitives.ReadUInt32BigEndian(payload[12..]) ^ (uint)Next(ref state);
        var pattern = payload[MinSize..];
        while (pattern.Length >= 8)
        {
            diff |= BinaryPrimitives.ReadUInt64LittleEndian(pattern) ^ Next(ref state);
            pattern = pattern[8..];
        }
        if (!pattern.IsEmpty)
        {
            var last = Next(ref state);
            for (var i = 0; i < pattern.Length; i++) diff |= (byte)(pattern[i] ^ (byte)(last >> (8 * i)));
        }
        if (diff != 0) return TestPayloadStatus.Corrupt;
        return channel == expectedChannel ? TestPayloadStatus.Ok : TestPayloadStatus.WrongChannel;
    }

    private static ulong Seed(ushort channel, ulong publisherSequence, ushort length) =>
        unchecked(publisherSequence * 0x9E3779B97F4A7C15UL ^ ((ulong)channel << 48 | (ulong)length << 32 | 0x5EED_C0DEUL));

    private static ulong Next(ref ulong state)
    {
        unchecked
        {
            var z = state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
