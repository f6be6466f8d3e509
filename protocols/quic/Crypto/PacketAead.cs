using System.Buffers.Binary;
using System.Security.Cryptography;

namespace FastRelay.Protocols.Quic.Crypto;

/// <summary>
/// The AEAD of one direction and key generation (RFC 9001 §5.3). The nonce is the IV XOR the packet number
/// (left-padded to 12 bytes); the associated data is the unprotected header. The BCL AEAD instance is created once per
/// key, so sealing and opening allocate nothing. Not thread-safe: one instance per connection direction.
/// <para>
/// AES-GCM runs on <see cref="AesNiGcm"/> (AES-NI + PCLMULQDQ) when the CPU has them: the BCL's <see cref="AesGcm"/>
/// re-initialises an OpenSSL cipher context per packet on Linux, which cost more than the encryption itself. Other
/// CPUs keep the BCL path; ChaCha20-Poly1305 always uses the BCL.
/// </para>
/// </summary>
public sealed class PacketAead : IDisposable
{
    private readonly AesNiGcm? _aesNi;
    private readonly AesGcm? _aesGcm;
    private readonly ChaCha20Poly1305? _chaCha;
    private readonly byte[] _iv;

    public CipherSuite Suite { get; }

    public PacketAead(CipherSuite suite, ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv)
    {
        if (key.Length != suite.KeyLength()) throw new ArgumentException($"{suite} needs a {suite.KeyLength()}-byte key");
        if (iv.Length != CipherSuiteInfo.IvLength) throw new ArgumentException("the IV is 12 bytes");
        Suite = suite;
        _iv = iv.ToArray();
        if (suite == CipherSuite.ChaCha20Poly1305Sha256)
        {
            if (!ChaCha20Poly1305.IsSupported) throw new PlatformNotSupportedException("ChaCha20-Poly1305 is not available");
            _chaCha = new ChaCha20Poly1305(key);
        }
        else if (AesNiGcm.IsSupported)
        {
            _aesNi = new AesNiGcm(key);
        }
        else
        {
            _aesGcm = new AesGcm(key, CipherSuiteInfo.TagLength);
        }
    }

    /// <summary>Builds the per-packet nonce: iv XOR packet number in the low 8 bytes.</summary>
    public void GetNonce(ulong packetNumber, Span<byte> nonce)
    {
        _iv.CopyTo(nonce);
        ulong low = BinaryPrimitives.ReadUInt64BigEndian(nonce[4..]) ^ packetNumber;
        BinaryPrimitives.WriteUInt64BigEndian(nonce[4..], low);
    }

    /// <summary>Encrypts <paramref name="payload"/> in place and writes the 16-byte tag.</summary>
    public void Seal(ulong packetNumber, ReadOnlySpan<byte> associatedData, Span<byte> payload, Span<byte> tag)
    {
        Span<byte> nonce = stackalloc byte[CipherSuiteInfo.IvLength];
        GetNonce(packetNumber, nonce);
        if (_aesNi is not null) _aesNi.Encrypt(nonce, payload, payload, tag[..CipherSuiteInfo.TagLength], associatedData);
        else if (_aesGcm is not null) _aesGcm.Encrypt(nonce, payload, payload, tag[..CipherSuiteInfo.TagLength], associatedData);
        else _chaCha!.Encrypt(nonce, payload, payload, tag[..CipherSuiteInfo.TagLength], associatedData);
    }

    /// <summary>Decrypts <paramref name="ciphertext"/> in place; false (no exception escapes) when authentication fails.</summary>
    public bool TryOpen(ulong packetNumber, ReadOnlySpan<byte> associatedData, Span<byte> ciphertext, ReadOnlySpan<byte> tag)
    {
        Span<byte> nonce = stackalloc byte[CipherSuiteInfo.IvLength];
        GetNonce(packetNumber, nonce);
        // Zeroes the buffer on failure, like the BCL.
        if (_aesNi is not null) return _aesNi.TryDecrypt(nonce, ciphertext, tag, ciphertext, associatedData);
        try
        {
            if (_aesGcm is not null) _aesGcm.Decrypt(nonce, ciphertext, tag, ciphertext, associatedData);
            else _chaCha!.Decrypt(nonce, ciphertext, tag, ciphertext, associatedData);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            // The BCL zeroes the output on failure; the packet is dropped anyway.
            return false;
        }
    }

    public void Dispose()
    {
        _aesNi?.Dispose();
        _aesGcm?.Dispose();
        _chaCha?.Dispose();
        CryptographicOperations.ZeroMemory(_iv);
    }
}
