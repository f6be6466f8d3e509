using System.Security.Cryptography;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Crypto;

/// <summary>
/// QUIC key derivation (RFC 9001 §5): initial secrets from the client's first Destination Connection ID (§5.2), packet
/// protection keys from a traffic secret ("quic key", "quic iv", "quic hp", §5.1) and the next generation of 1-RTT
/// secrets for a key update ("quic ku", §6.1). Each step takes the QUIC version, whose salt and labels it uses
/// (QuicVersionSecrets: v2 says "quicv2 key" and so on, RFC 9369 §3.3); v1 is the default.
/// </summary>
public static class QuicKeyDerivation
{
    public static ReadOnlySpan<byte> ClientInLabel => "client in"u8;
    public static ReadOnlySpan<byte> ServerInLabel => "server in"u8;

    /// <summary>Initial packets always use AES-128-GCM with SHA-256: secrets are 32 bytes.</summary>
    public const int InitialSecretLength = 32;

    /// <summary>initial_secret = HKDF-Extract(initial_salt, client_dst_connection_id).</summary>
    public static void DeriveInitialSecret(ReadOnlySpan<byte> clientDestinationConnectionId, Span<byte> initialSecret, uint version = QuicVersion.V1) =>
        HKDF.Extract(HashAlgorithmName.SHA256, clientDestinationConnectionId, QuicVersionSecrets.For(version).InitialSalt, initialSecret);

    /// <summary>client_initial_secret and server_initial_secret (32 bytes each).</summary>
    public static void DeriveInitialSecrets(ReadOnlySpan<byte> clientDestinationConnectionId, Span<byte> clientSecret, Span<byte> serverSecret,
        uint version = QuicVersion.V1)
    {
        Span<byte> initial = stackalloc byte[InitialSecretLength];
        DeriveInitialSecret(clientDestinationConnectionId, initial, version);
        HkdfLabel.ExpandLabel(HashAlgorithmName.SHA256, initial, ClientInLabel, default, clientSecret[..InitialSecretLength]);
        HkdfLabel.ExpandLabel(HashAlgorithmName.SHA256, initial, ServerInLabel, default, serverSecret[..InitialSecretLength]);
        CryptographicOperations.ZeroMemory(initial);
    }

    /// <summary>The AEAD key, IV and header protection key of a traffic secret.</summary>
    public static void DerivePacketKeys(CipherSuite suite, ReadOnlySpan<byte> secret, Span<byte> key, Span<byte> iv, Span<byte> hp,
        uint version = QuicVersion.V1)
    {
        var hash = suite.Hash();
        var labels = QuicVersionSecrets.For(version);
        HkdfLabel.ExpandLabel(hash, secret, labels.KeyLabel, default, key[..suite.KeyLength()]);
        HkdfLabel.ExpandLabel(hash, secret, labels.IvLabel, default, iv[..CipherSuiteInfo.IvLength]);
        HkdfLabel.ExpandLabel(hash, secret, labels.HpLabel, default, hp[..suite.HeaderProtectionKeyLength()]);
    }

    /// <summary>secret_&lt;n+1&gt; = HKDF-Expand-Label(secret_&lt;n&gt;, "quic ku", "", Hash.length) (RFC 9001 §6.1).</summary>
    public static void DeriveNextSecret(CipherSuite suite, ReadOnlySpan<byte> secret, Span<byte> nextSecret, uint version = QuicVersion.V1) =>
        HkdfLabel.ExpandLabel(suite.Hash(), secret, QuicVersionSecrets.For(version).KeyUpdateLabel, default, nextSecret[..suite.HashLength()]);
}
