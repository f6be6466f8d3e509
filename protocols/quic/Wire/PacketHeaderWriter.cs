using System.Buffers.Binary;

namespace FastRelay.Protocols.Quic.Wire;

/// <summary>
/// Writes unprotected packet headers (RFC 9000 §17). The caller appends the payload after the packet number and then
/// applies packet protection (Crypto/PacketProtection), which needs the returned packet number offset.
/// </summary>
public static class PacketHeaderWriter
{
    /// <summary>
    /// Writes an Initial, 0-RTT or Handshake header. <paramref name="payloadLength"/> is the protected payload length
    /// (frames + AEAD tag); the Length field covers it plus the packet number. <paramref name="lengthFieldLength"/> forces
    /// the Length varint's size (0 = shortest; 2 lets a sender fill it in after building the payload).
    /// Returns the header length; the packet number ends the header at offset return - packetNumberLength.
    /// </summary>
    public static int WriteLongHeader(Span<byte> destination, QuicPacketType type, uint version, ReadOnlySpan<byte> dcid,
        ReadOnlySpan<byte> scid, ReadOnlySpan<byte> token, ulong packetNumber, int packetNumberLength, int payloadLength,
        int lengthFieldLength = 0)
    {
        if (type is not (QuicPacketType.Initial or QuicPacketType.ZeroRtt or QuicPacketType.Handshake))
            throw new ArgumentOutOfRangeException(nameof(type), type, "not a long header packet with a packet number");
        if (packetNumberLength is < 1 or > 4) throw new ArgumentOutOfRangeException(nameof(packetNumberLength));
        if (dcid.Length > ConnectionId.MaxLength || scid.Length > ConnectionId.MaxLength) throw new ArgumentException("connection id longer than 20 bytes");
        if (type != QuicPacketType.Initial && !token.IsEmpty) throw new ArgumentException("only Initial packets carry a token");

        var writer = new QuicWriter(destination);
        writer.WriteByte((byte)(0xC0 | (QuicVersion.ToTypeBits(type, version) << 4) | (packetNumberLength - 1)));
        writer.WriteUInt32(version);
        writer.WriteByte((byte)dcid.Length);
        writer.WriteBytes(dcid);
        writer.WriteByte((byte)scid.Length);
        writer.WriteBytes(scid);
        if (type == QuicPacketType.Initial) writer.WriteVarintPrefixedBytes(token);
        writer.WriteVarint((ulong)(packetNumberLength + payloadLength), lengthFieldLength);
        PacketNumber.Write(writer.Reserve(packetNumberLength), packetNumber, packetNumberLength);
        return writer.Position;
    }

    /// <summary>The length <see cref="WriteLongHeader"/> produces.</summary>
    public static int GetLongHeaderLength(QuicPacketType type, int dcidLength, int scidLength, int tokenLength, int packetNumberLength,
        int payloadLength, int lengthFieldLength = 0)
    {
        int length = 1 + 4 + 1 + dcidLength + 1 + scidLength + packetNumberLength;
        if (type == QuicPacketType.Initial) length += QuicVarint.GetLength((ulong)tokenLength) + tokenLength;
        return length + (lengthFieldLength != 0 ? lengthFieldLength : QuicVarint.GetLength((ulong)(packetNumberLength + payloadLength)));
    }

    /// <summary>
    /// Writes a short (1-RTT) header: 0b01SRRKPP, the destination connection id and the packet number. The fast path
    /// uses a fixed 4-byte packet number so a kernel program can rewrite it in place.
    /// </summary>
    public static int WriteShortHeader(Span<byte> destination, ReadOnlySpan<byte> dcid, ulong packetNumber, int packetNumberLength,
        bool keyPhase, bool spinBit = false)
    {
        if (packetNumberLength is < 1 or > 4) throw new ArgumentOutOfRangeException(nameof(packetNumberLength));
        var writer = new QuicWriter(destination);
        writer.WriteByte((byte)(0x40 | (spinBit ? 0x20 : 0) | (keyPhase ? 0x04 : 0) | (packetNumberLength - 1)));
        writer.WriteBytes(dcid);
        PacketNumber.Write(writer.Reserve(packetNumberLength), packetNumber, packetNumberLength);
        return writer.Position;
    }

    /// <summary>
    /// Writes a Version Negotiation packet answering a client packet: its source connection id becomes our destination
    /// and vice versa (RFC 9000 §17.2.1). <paramref name="unusedBits"/> fills the 7 unused bits of byte 0.
    /// </summary>
    public static int WriteVersionNegotiation(Span<byte> destination, ReadOnlySpan<byte> dcid, ReadOnlySpan<byte> scid,
        ReadOnlySpan<uint> supportedVersions, byte unusedBits = 0x40)
    {
        if (dcid.Length > PacketHeaderParser.MaxInvariantConnectionIdLength || scid.Length > PacketHeaderParser.MaxInvariantConnectionIdLength)
            throw new ArgumentException("connection id longer than 255 bytes");
        if (supportedVersions.IsEmpty) throw new ArgumentException("at least one version");
        var writer = new QuicWriter(destination);
        writer.WriteByte((byte)(0x80 | (unusedBits & 0x7f)));
        writer.WriteUInt32(QuicVersion.Negotiation);
        writer.WriteByte((byte)dcid.Length);
        writer.WriteBytes(dcid);
        writer.WriteByte((byte)scid.Length);
        writer.WriteBytes(scid);
        foreach (uint version in supportedVersions) writer.WriteUInt32(version);
        return writer.Position;
    }

    /// <summary>
    /// Writes a Retry packet without its integrity tag (Crypto/RetryIntegrity appends it). Returns the length written.
    /// </summary>
    public static int WriteRetryWithoutTag(Span<byte> destination, uint version, ReadOnlySpan<byte> dcid, ReadOnlySpan<byte> scid,
        ReadOnlySpan<byte> retryToken, byte unusedBits = 0)
    {
        if (retryToken.IsEmpty) throw new ArgumentException("a retry token must not be empty");
        var writer = new QuicWriter(destination);
        writer.WriteByte((byte)(0xC0 | (QuicVersion.ToTypeBits(QuicPacketType.Retry, version) << 4) | (unusedBits & 0x0f)));
        writer.WriteUInt32(version);
        writer.WriteByte((byte)dcid.Length);
        writer.WriteBytes(dcid);
        writer.WriteByte((byte)scid.Length);
        writer.WriteBytes(scid);
        writer.WriteBytes(retryToken);
        return writer.Position;
    }

    /// <summary>Fills in a Length field reserved with a forced varint length once the payload size is known.</summary>
    public static void PatchLength(Span<byte> lengthField, ulong length) => QuicVarint.Write(lengthField, length, lengthField.Length);

    internal static uint ReadVersion(ReadOnlySpan<byte> packet) => BinaryPrimitives.ReadUInt32BigEndian(packet[1..]);
}
