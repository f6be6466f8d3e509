using System.Security.Cryptography;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Crypto;

/// <summary>
/// The Retry Integrity Tag (RFC 9001 §5.8): AES-128-GCM with a fixed key and nonce over the Retry pseudo-packet
/// (ODCID length, ODCID, then the Retry packet without its tag), empty plaintext. The key and nonce are the version's
/// (QuicVersionSecrets; RFC 9369 §3.3.3 for v2), and the version is read from the Retry itself. Retries are rare, so a
/// lock guards the shared AEADs; the pseudo-packet is built on the stack (or in a rented buffer for very large Retries).
/// </summary>
public static class RetryIntegrity
{
    public const int TagLength = 16;

    /// <summary>The secret both fixed values are derived from ("quic key" and "quic iv").</summary>
    public static ReadOnlySpan<byte> SecretV1 => [0xd9, 0xc9, 0x94, 0x3e, 0x61, 0x01, 0xfd, 0x20, 0x00, 0x21, 0x50, 0x6b, 0xcc, 0x02, 0x81, 0x4c,
        0x73, 0x03, 0x0f, 0x25, 0xc7, 0x9d, 0x71, 0xce, 0x87, 0x6e, 0xca, 0x87, 0x6e, 0x6f, 0xca, 0x8e];

    private static readonly AesGcm AeadV1 = new(QuicVersionSecrets.V1.RetryKey, TagLength);
    private static readonly AesGcm AeadV2 = new(QuicVersionSecrets.V2.RetryKey, TagLength);
    private static readonly AesGcm AeadV2Draft = new(QuicVersionSecrets.V2Draft.RetryKey, TagLength);
    private static readonly Lock Gate = new();

    /// <summary>Computes the tag of <paramref name="retryWithoutTag"/> for the client's original destination connection id.</summary>
    public static void ComputeTag(ReadOnlySpan<byte> originalDestinationConnectionId, ReadOnlySpan<byte> retryWithoutTag, Span<byte> tag)
    {
        if (originalDestinationConnectionId.Length > 255) throw new ArgumentException("connection id too long");
        if (retryWithoutTag.Length < 5) throw new ArgumentException("retry packet shorter than its version field");
        uint version = PacketHeaderWriter.ReadVersion(retryWithoutTag);
        var secrets = QuicVersionSecrets.For(version);
        var aead = version switch { QuicVersion.V2 => AeadV2, QuicVersion.V2Draft => AeadV2Draft, _ => AeadV1 };
        int length = 1 + originalDestinationConnectionId.Length + retryWithoutTag.Length;
        byte[]? rented = null;
        Span<byte> pseudo = length <= 1500 ? stackalloc byte[1500] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(length));
        pseudo = pseudo[..length];
        pseudo[0] = (byte)originalDestinationConnectionId.Length;
        originalDestinationConnectionId.CopyTo(pseudo[1..]);
        retryWithoutTag.CopyTo(pseudo[(1 + originalDestinationConnectionId.Length)..]);
        lock (Gate) aead.Encrypt(secrets.RetryNonce, default, default, tag[..TagLength], pseudo);
        if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
    }

    /// <summary>Checks a whole received Retry packet (tag last) in constant time.</summary>
    public static bool Verify(ReadOnlySpan<byte> originalDestinationConnectionId, ReadOnlySpan<byte> retryPacket)
    {
        if (retryPacket.Length < TagLength + 5 || originalDestinationConnectionId.Length > 255) return false;
        if (!QuicVersion.IsSupported(PacketHeaderWriter.ReadVersion(retryPacket))) return false;
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
