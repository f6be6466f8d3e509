using System.Buffers.Binary;

namespace FastRelay.Protocols.Moq.Clients;

/// <summary>
/// The small header at the start of every synthetic (or <c>--stamp</c>ed) object payload, so a subscriber can check the
/// object it got is the one that was sent and measure its one-way latency. Big-endian, 52 bytes:
/// <code>
///  0  magic "MQFR"            4
///  4  version (1)             1
///  5  flags (bit 0: key)      1
///  6  reserved (0)            2
///  8  track sequence          8   0, 1, 2, … over the whole track (detects gaps and duplicates across groups)
/// 16  group id                8   must equal the MoQ location the object arrived under
/// 24  object id               8
/// 32  send time               8   CLOCK_REALTIME µs since the Unix epoch, stamped just before the write
/// 40  payload length          4   the whole object, header included (detects truncation)
/// 44  checksum                8   <see cref="PayloadChecksum"/> of bytes 0..43 and of everything after byte 51
/// </code>
/// The wall clock rather than a monotonic one because publisher and subscriber are separate processes: on one host
/// CLOCK_REALTIME is the same clock for both; across hosts the latency is only as good as their clock synchronisation.
/// </summary>
public readonly record struct ObjectPayloadHeader(
    ulong TrackSequence,
    ulong GroupId,
    ulong ObjectId,
    long SendTimeMicroseconds,
    uint PayloadLength,
    bool IsKey)
{
    public const int Size = 52;
    public const byte Version = 1;
    private const uint Magic = 0x4D514652; // "MQFR"
    private const int ChecksumOffset = 44;
    private const byte KeyFlag = 0x01;

    /// <summary>Writes the header into <paramref name="payload"/> (whose first <see cref="Size"/> bytes it owns) and the
    /// checksum over the header and <c>payload[Size..]</c>, which must already hold the body. <see cref="PayloadLength"/>
    /// must equal <c>payload.Length</c>.</summary>
    public void WriteWithChecksum(Span<byte> payload)
    {
        if (payload.Length < Size) throw new ArgumentException($"a stamped payload is at least {Size} bytes", nameof(payload));
        if (PayloadLength != (uint)payload.Length) throw new ArgumentException("PayloadLength must be the payload's length", nameof(payload));
        BinaryPrimitives.WriteUInt32BigEndian(payload, Magic);
        payload[4] = Version;
        payload[5] = IsKey ? KeyFlag : (byte)0;
        BinaryPrimitives.WriteUInt16BigEndian(payload[6..], 0);
        BinaryPrimitives.WriteUInt64BigEndian(payload[8..], TrackSequence);
        BinaryPrimitives.WriteUInt64BigEndian(payload[16..], GroupId);
        BinaryPrimitives.WriteUInt64BigEndian(payload[24..], ObjectId);
        BinaryPrimitives.WriteInt64BigEndian(payload[32..], SendTimeMicroseconds);
        BinaryPrimitives.WriteUInt32BigEndian(payload[40..], PayloadLength);
        BinaryPrimitives.WriteUInt64BigEndian(payload[ChecksumOffset..], PayloadChecksum.Compute(payload[..ChecksumOffset], payload[Size..]));
    }

    /// <summary>True when the payload starts with the magic and this version (it is a stamped payload at all); says
    /// nothing about integrity.</summary>
    public static bool IsStamped(ReadOnlySpan<byte> payload) =>
        payload.Length >= 5 && BinaryPrimitives.ReadUInt32BigEndian(payload) == Magic && payload[4] == Version;

    /// <summary>Reads the header fields without verifying anything (for a sender's own log, or after
    /// <see cref="Verify"/> said Ok); false when the payload is not stamped or shorter than the header.</summary>
    public static bool TryReadUnverified(ReadOnlySpan<byte> payload, out ObjectPayloadHeader header)
    {
        header = default;
        if (!IsStamped(payload) || payload.Length < Size) return false;
        header = new ObjectPayloadHeader(
            BinaryPrimitives.ReadUInt64BigEndian(payload[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(payload[16..]),
            BinaryPrimitives.ReadUInt64BigEndian(payload[24..]),
            BinaryPrimitives.ReadInt64BigEndian(payload[32..]),
            BinaryPrimitives.ReadUInt32BigEndian(payload[40..]),
            (payload[5] & KeyFlag) != 0);
        return true;
    }

    /// <summary>Reads and verifies a stamped payload: length and checksum.</summary>
    public static PayloadVerdict Verify(ReadOnlySpan<byte> payload, out ObjectPayloadHeader header)
    {
        header = default;
        if (!IsStamped(payload)) return PayloadVerdict.NotStamped;
        if (!TryReadUnverified(payload, out header)) return PayloadVerdict.Truncated;
        if (header.PayloadLength != (uint)payload.Length)
            return header.PayloadLength > (uint)payload.Length ? PayloadVerdict.Truncated : PayloadVerdict.TooLong;
        var expected = BinaryPrimitives.ReadUInt64BigEndian(payload[ChecksumOffset..]);
        return PayloadChecksum.Compute(payload[..ChecksumOffset], payload[Size..]) == expected ? PayloadVerdict.Ok : PayloadVerdict.ChecksumMismatch;
    }
}

/// <summary>What <see cref="ObjectPayloadHeader.Verify"/> found.</summary>
public enum PayloadVerdict
{
    Ok,
    /// <summary>No header: a raw object (e.g. CMAF from <c>--input</c> without <c>--stamp</c>); nothing to verify.</summary>
    NotStamped,
    /// <summary>Shorter than the header or than the length the header states.</summary>
    Truncated,
    /// <summary>Longer than the header states.</summary>
    TooLong,
    ChecksumMismatch,
}
