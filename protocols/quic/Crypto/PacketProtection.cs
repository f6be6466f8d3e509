using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Crypto;

/// <summary>
/// Applies and removes packet protection in place (RFC 9001 §5.3-5.4) on a packet laid out as
/// header | packet number | payload | 16-byte tag. Nothing here allocates.
/// <para>Receive side in two steps so a connection can pick the AEAD by Key Phase after header protection is gone:
/// <see cref="TryRemoveHeaderProtection"/>, then <see cref="TryDecryptPayload"/>. The BCL zeroes the plaintext buffer
/// when authentication fails, so each packet gets exactly one decryption attempt (RFC 9001 §6.3 needs no more).</para>
/// </summary>
public static class PacketProtection
{
    public const int TagLength = CipherSuiteInfo.TagLength;

    /// <summary>
    /// Protects a packet whose header (packet number included, unmasked) ends at
    /// <paramref name="packetNumberOffset"/> + packet number length (from byte 0), followed by
    /// <paramref name="payloadLength"/> bytes of plaintext and room for the tag. Returns the packet's total length.
    /// The header protection sample needs packet number + payload of at least 4 bytes (pad with PADDING frames).
    /// </summary>
    public static int Protect(Span<byte> packet, int packetNumberOffset, ulong packetNumber, int payloadLength, PacketKeys keys)
    {
        int pnLength = (packet[0] & 0x03) + 1;
        int headerLength = packetNumberOffset + pnLength;
        int total = headerLength + payloadLength + TagLength;
        if (packet.Length < total) throw new ArgumentException("packet buffer too short for payload and tag");
        if (pnLength + payloadLength < 4) throw new ArgumentException("packet number + payload must be at least 4 bytes for the header protection sample");

        keys.Aead.Seal(packetNumber, packet[..headerLength], packet.Slice(headerLength, payloadLength), packet.Slice(headerLength + payloadLength, TagLength));
        ApplyHeaderProtection(packet[..total], packetNumberOffset, pnLength, keys.HeaderProtection);
        return total;
    }

    /// <summary>Masks byte 0's low bits and the packet number with a mask from the sample at packet number offset + 4.</summary>
    public static void ApplyHeaderProtection(Span<byte> packet, int packetNumberOffset, int packetNumberLength, HeaderProtection hp)
    {
        Span<byte> mask = stackalloc byte[HeaderProtection.MaskLength];
        hp.GetMask(packet.Slice(packetNumberOffset + 4, HeaderProtection.SampleLength), mask);
        packet[0] ^= (byte)(mask[0] & ((packet[0] & 0x80) != 0 ? 0x0f : 0x1f));
        for (int i = 0; i < packetNumberLength; i++) packet[packetNumberOffset + i] ^= mask[1 + i];
    }

    /// <summary>
    /// Removes header protection from <paramref name="packet"/> (exactly this packet's bytes: the Length-delimited
    /// long header packet, or the rest of the datagram for a short header) and returns the packet number length and
    /// truncated value. A packet too short to sample is dropped.
    /// </summary>
    public static bool TryRemoveHeaderProtection(Span<byte> packet, int packetNumberOffset, HeaderProtection hp,
        out int packetNumberLength, out uint truncatedPacketNumber, out QuicError error)
    {
        packetNumberLength = 0;
        truncatedPacketNumber = 0;
        if (packetNumberOffset < 1 || packet.Length < packetNumberOffset + 4 + HeaderProtection.SampleLength)
        {
            error = QuicError.DropPacket("packet too short for the header protection sample");
            return false;
        }
        Span<byte> mask = stackalloc byte[HeaderProtection.MaskLength];
        hp.GetMask(packet.Slice(packetNumberOffset + 4, HeaderProtection.SampleLength), mask);
        packet[0] ^= (byte)(mask[0] & ((packet[0] & 0x80) != 0 ? 0x0f : 0x1f));
        packetNumberLength = (packet[0] & 0x03) + 1;
        for (int i = 0; i < packetNumberLength; i++) packet[packetNumberOffset + i] ^= mask[1 + i];
        truncatedPacketNumber = PacketNumber.ReadTruncated(packet[packetNumberOffset..], packetNumberLength);
        error = default;
        return true;
    }

    /// <summary>
    /// Decrypts the payload in place after header protection was removed. On success the plaintext is at
    /// [<paramref name="payloadOffset"/>, + <paramref name="payloadLength"/>). Failed authentication drops the packet;
    /// non-zero reserved bits after successful decryption are a PROTOCOL_VIOLATION (RFC 9000 §17.2, §17.3.1).
    /// </summary>
    public static bool TryDecryptPayload(Span<byte> packet, int packetNumberOffset, int packetNumberLength, ulong packetNumber,
        PacketAead aead, out int payloadOffset, out int payloadLength, out QuicError error)
    {
        payloadOffset = packetNumberOffset + packetNumberLength;
        payloadLength = packet.Length - payloadOffset - TagLength;
        if (payloadLength < 0)
        {
            error = QuicError.DropPacket("packet shorter than the AEAD tag");
            payloadLength = 0;
            return false;
        }
        if (!aead.TryOpen(packetNumber, packet[..payloadOffset], packet.Slice(payloadOffset, payloadLength), packet.Slice(payloadOffset + payloadLength, TagLength)))
        {
            error = QuicError.DropPacket("packet authentication failed");
            return false;
        }
        byte reservedMask = (packet[0] & 0x80) != 0 ? (byte)0x0c : (byte)0x18;
        if ((packet[0] & reservedMask) != 0)
        {
            error = QuicError.Protocol("reserved header bits are not zero");
            return false;
        }
        error = default;
        return true;
    }

    /// <summary>Both receive steps with one set of keys (Initial and Handshake packets, or 1-RTT without key update).</summary>
    public static bool TryUnprotect(Span<byte> packet, int packetNumberOffset, ulong? largestReceived, PacketKeys keys,
        out ulong packetNumber, out int payloadOffset, out int payloadLength, out QuicError error)
    {
        packetNumber = 0;
        payloadOffset = 0;
        payloadLength = 0;
        if (!TryRemoveHeaderProtection(packet, packetNumberOffset, keys.HeaderProtection, out int pnLength, out uint truncated, out error))
            return false;
        packetNumber = PacketNumber.Decode(largestReceived, truncated, pnLength);
        return TryDecryptPayload(packet, packetNumberOffset, pnLength, packetNumber, keys.Aead, out payloadOffset, out payloadLength, out error);
    }
}
