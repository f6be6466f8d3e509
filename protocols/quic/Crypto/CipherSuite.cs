using System.Security.Cryptography;

namespace FastRelay.Protocols.Quic.Crypto;

/// <summary>The TLS 1.3 cipher suites QUIC uses (RFC 9001 §5.3; TLS_AES_128_CCM_8_SHA256 is not allowed, CCM is not offered).</summary>
public enum CipherSuite : ushort
{
    Aes128GcmSha256 = 0x1301,
    Aes256GcmSha384 = 0x1302,
    ChaCha20Poly1305Sha256 = 0x1303,
}

public static class CipherSuiteInfo
{
    public static int KeyLength(this CipherSuite suite) => suite == CipherSuite.Aes128GcmSha256 ? 16 : 32;

    /// <summary>The header protection key has the AEAD key's length (RFC 9001 §5.4).</summary>
    public static int HeaderProtectionKeyLength(this CipherSuite suite) => suite.KeyLength();

    public const int IvLength = 12;
    public const int TagLength = 16;

    public static HashAlgorithmName Hash(this CipherSuite suite) =>
        suite == CipherSuite.Aes256GcmSha384 ? HashAlgorithmName.SHA384 : HashAlgorithmName.SHA256;

    public static int HashLength(this CipherSuite suite) => suite == CipherSuite.Aes256GcmSha384 ? 48 : 32;

    /// <summary>Whether this process can use the suite (ChaCha20-Poly1305 depends on the platform's crypto library).</summary>
    public static bool IsSupported(this CipherSuite suite) => suite switch
    {
        CipherSuite.Aes128GcmSha256 or CipherSuite.Aes256GcmSha384 => AesGcm.IsSupported,
        CipherSuite.ChaCha20Poly1305Sha256 => ChaCha20Poly1305.IsSupported,
        _ => false,
    };

    /// <summary>
    /// Packets one key may protect (confidentiality limit, RFC 9001 §6.6): 2^23 for AES-GCM; ChaCha20-Poly1305 has no
    /// practical one (2^62 stands for "more than any packet number").
    /// </summary>
    public static ulong ConfidentialityLimit(this CipherSuite suite) => suite == CipherSuite.ChaCha20Poly1305Sha256 ? 1UL << 62 : 1UL << 23;

    /// <summary>Failed decryptions tolerated across all keys (integrity limit, RFC 9001 §6.6): 2^52 AES-GCM, 2^36 ChaCha20.</summary>
    public static ulong IntegrityLimit(this CipherSuite suite) => suite == CipherSuite.ChaCha20Poly1305Sha256 ? 1UL << 36 : 1UL << 52;
}
