using System.Security.Cryptography;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Crypto;

/// <summary>
/// The Retry Integrity Tag (RFC 9001 §5.8): AES-128-GCM with a fixed key and nonce over the Retry pseudo-packet
/// (ODCID length, ODCID, then the Retry packet without its tag), empty plaintext. Retries are rare, so a lock guards
/// the shared AEAD; the pseudo-packet is built on the stack (or in a rented buffer for very large Retries).
/// </summary>
public static class RetryIntegrity
{
    public const int TagLength = 16;

    private static ReadOnlySpan<byte> KeyV1 => [0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e];
    private static ReadOnlySpan<byte> NonceV1 => [0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb];

    /// <summary>The secret both fixed values are derived from ("quic key" and "quic iv").</summary>
    public static ReadOnlySpan<byte> SecretV1 => [0xd9, 0xc9, 0x94, 0x3e, 0x61, 0x01, 0xfd, 0x20, 0x00, 0x21, 0x50, 0x6b, 0xcc, 0x02, 0x81, 0x4c,
        0x73, 0x03, 0x0f, 0x25, 0xc7, 0x9d, 0x71, 0xce, 0x87, 0x6e, 0xca, 0x87, 0x6e, 0x6f, 0xca, 0x8e];

    private static readonly AesGcm Aead = new(KeyV1, TagLength);
    private static readonly Lock Gate = new();

    /// <summary>Computes the tag of <paramref name="retryWithoutTag"/> for the client's original destination connection id.</summary>
    public static void ComputeTag(ReadOnlySpan<byte> originalDestinationConnectionId, ReadOnlySpan<byte> retryWithoutTag, Span<byte> tag)
    {
        if (originalDestinationConnectionId.Length > 255) throw new ArgumentException("connection id too long");
        int length = 1 + originalDestinationConnectionId.Length + retryWithoutTag.Length;
        byte[]? rented = null;
        Span<byte> pseudo = length <= 1500 ? stackalloc byte[1500] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(length));
        pseudo = pseudo[..length];
        pseudo[0] = (byte)originalDestinationConnectionId.Length;
        originalDestinationConnectionId.CopyTo(pseudo[1..]);
        retryWithoutTag.CopyTo(pseudo[(1 + originalDestinationConnectionId.Length)..]);
        lock (Gate) Aead.Encrypt(NonceV1, default, default, tag[..TagLength], pseudo);
        if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
    }

    /// <summary>Checks a whole received Retry packet (tag last) in constant time.</summary>
    public static bool Verify(ReadOnlySpan<byte> originalDestinationConnectionId, ReadOnlySpan<byte> retryPacket)
    {
        if (retryPacket.Length < TagLength + 1 || originalDestinationConnectionId.Length > 255) return false;
        Span<byte> expected = stackalloc byte[TagLength];
        ComputeTag(originalDestinationConnectionId, retryPacket[..^TagLength], expected);
        return CryptographicOperations.FixedTimeEquals(expected, retryPacket[^TagLength..]);
    }

    /// <summary>Writes a complete Retry packet (header, token, tag) and returns its length.</summary>
    public static int WriteRetry(Span<byte> destination, uint version, ReadOnlySpan<byte> dcid, ReadOnlySpan<byte> scid,
        ReadOnlySpan<byte> retryToken, ReadOnlySpan<byte> originalDestinationConnectionId, byte unusedBits = 0)
    {
        int length = PacketHeaderWriter.WriteRetryWithoutTag(destination, version, dcid, scid, retryToken, unusedBits);
        if (destination.Length < length + TagLength) throw new ArgumentException("destination too short for the integrity tag");
        ComputeTag(originalDestinationConnectionId, destination[..length], destination.Slice(length, TagLength));
        return length + TagLength;
    }
}
