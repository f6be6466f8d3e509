using System.Security.Cryptography;

namespace FastRelay.Protocols.Quic.Crypto;

/// <summary>
/// QUIC key derivation (RFC 9001 §5): initial secrets from the client's first Destination Connection ID (§5.2), packet
/// protection keys from a traffic secret ("quic key", "quic iv", "quic hp", §5.1) and the next generation of 1-RTT
/// secrets for a key update ("quic ku", §6.1).
/// </summary>
public static class QuicKeyDerivation
{
    /// <summary>initial_salt for QUIC v1 (RFC 9001 §5.2).</summary>
    public static ReadOnlySpan<byte> InitialSaltV1 => [0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
        0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a];

    public static ReadOnlySpan<byte> ClientInLabel => "client in"u8;
    public static ReadOnlySpan<byte> ServerInLabel => "server in"u8;
    public static ReadOnlySpan<byte> KeyLabel => "quic key"u8;
    public static ReadOnlySpan<byte> IvLabel => "quic iv"u8;
    public static ReadOnlySpan<byte> HpLabel => "quic hp"u8;
    public static ReadOnlySpan<byte> KeyUpdateLabel => "quic ku"u8;

    /// <summary>Initial packets always use AES-128-GCM with SHA-256: secrets are 32 bytes.</summary>
    public const int InitialSecretLength = 32;

    /// <summary>initial_secret = HKDF-Extract(initial_salt, client_dst_connection_id).</summary>
    public static void DeriveInitialSecret(ReadOnlySpan<byte> clientDestinationConnectionId, Span<byte> initialSecret) =>
        HKDF.Extract(HashAlgorithmName.SHA256, clientDestinationConnectionId, InitialSaltV1, initialSecret);

    /// <summary>client_initial_secret and server_initial_secret (32 bytes each).</summary>
    public static void DeriveInitialSecrets(ReadOnlySpan<byte> clientDestinationConnectionId, Span<byte> clientSecret, Span<byte> serverSecret)
    {
        Span<byte> initial = stackalloc byte[InitialSecretLength];
        DeriveInitialSecret(clientDestinationConnectionId, initial);
        HkdfLabel.ExpandLabel(HashAlgorithmName.SHA256, initial, ClientInLabel, default, clientSecret[..InitialSecretLength]);
        HkdfLabel.ExpandLabel(HashAlgorithmName.SHA256, initial, ServerInLabel, default, serverSecret[..InitialSecretLength]);
        CryptographicOperations.ZeroMemory(initial);
    }

    /// <summary>The AEAD key, IV and header protection key of a traffic secret.</summary>
    public static void DerivePacketKeys(CipherSuite suite, ReadOnlySpan<byte> secret, Span<byte> key, Span<byte> iv, Span<byte> hp)
    {
        var hash = suite.Hash();
        HkdfLabel.ExpandLabel(hash, secret, KeyLabel, default, key[..suite.KeyLength()]);
        HkdfLabel.ExpandLabel(hash, secret, IvLabel, default, iv[..CipherSuiteInfo.IvLength]);
        HkdfLabel.ExpandLabel(hash, secret, HpLabel, default, hp[..suite.HeaderProtectionKeyLength()]);
    }

    /// <summary>secret_&lt;n+1&gt; = HKDF-Expand-Label(secret_&lt;n&gt;, "quic ku", "", Hash.length) (RFC 9001 §6.1).</summary>
    public static void DeriveNextSecret(CipherSuite suite, ReadOnlySpan<byte> secret, Span<byte> nextSecret) =>
        HkdfLabel.ExpandLabel(suite.Hash(), secret, KeyUpdateLabel, default, nextSecret[..suite.HashLength()]);
}
