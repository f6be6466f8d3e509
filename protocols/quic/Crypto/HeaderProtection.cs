using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Security.Cryptography;

namespace FastRelay.Protocols.Quic.Crypto;

/// <summary>
/// Header protection mask generation (RFC 9001 §5.4): 5 bytes of mask from a 16-byte sample of the ciphertext.
/// AES suites: AES-ECB(hp_key, sample) (§5.4.3); ChaCha20: ChaCha20(hp_key, counter = sample[0..4],
/// nonce = sample[4..16], zeros) (§5.4.4). The header protection key does not change on key update. Not thread-safe.
/// </summary>
public abstract class HeaderProtection : IDisposable
{
    public const int SampleLength = 16;
    public const int MaskLength = 5;

    public static HeaderProtection Create(CipherSuite suite, ReadOnlySpan<byte> hpKey) => suite switch
    {
        CipherSuite.ChaCha20Poly1305Sha256 => new ChaChaHeaderProtection(hpKey),
        _ => new AesHeaderProtection(hpKey),
    };

    /// <summary>Writes the 5-byte mask for <paramref name="sample"/> (16 bytes).</summary>
    public abstract void GetMask(ReadOnlySpan<byte> sample, Span<byte> mask);

    public virtual void Dispose() { }
}

/// <summary>
/// AES-ECB header protection. With AES-NI the mask is one <see cref="AesNiBlockCipher"/> block (no P/Invoke, no
/// allocation). Otherwise: <see cref="Aes.EncryptEcb(ReadOnlySpan{byte}, Span{byte}, PaddingMode)"/> allocates per call
/// on Linux, so this keeps one ECB <see cref="ICryptoTransform"/> and preallocated block buffers instead: zero
/// allocations per packet.
/// </summary>
public sealed class AesHeaderProtection : HeaderProtection
{
    private readonly AesNiBlockCipher? _aesNi;
    private readonly Aes? _aes;
    private readonly ICryptoTransform? _encryptor;
    private readonly byte[]? _input;
    private readonly byte[]? _output;

    public AesHeaderProtection(ReadOnlySpan<byte> hpKey)
    {
        if (hpKey.Length is not (16 or 32)) throw new ArgumentException("AES header protection keys are 16 or 32 bytes");
        if (AesNiBlockCipher.IsSupported)
        {
            _aesNi = new AesNiBlockCipher(hpKey);
            return;
        }
        _aes = Aes.Create();
        _aes.Key = hpKey.ToArray();
        _aes.Mode = CipherMode.ECB;
        _aes.Padding = PaddingMode.None;
        _encryptor = _aes.CreateEncryptor();
        _input = new byte[SampleLength];
        _output = new byte[SampleLength];
    }

    public override void GetMask(ReadOnlySpan<byte> sample, Span<byte> mask)
    {
        if (_aesNi is not null)
        {
            var block = _aesNi.EncryptBlock(Vector128.Create(sample[..SampleLength]));
            MemoryMarshal.Write(mask, block.AsUInt32().ToScalar());
            mask[4] = block.GetElement(4);
            return;
        }
        sample[..SampleLength].CopyTo(_input);
        _encryptor!.TransformBlock(_input!, 0, SampleLength, _output!, 0);
        _output.AsSpan(0, MaskLength).CopyTo(mask);
    }

    public override void Dispose()
    {
        _aesNi?.Dispose();
        _encryptor?.Dispose();
        _aes?.Dispose();
    }
}

/// <summary>ChaCha20 header protection; the BCL has no raw ChaCha20, so the block function (RFC 8439 §2.3) is here.</summary>
public sealed class ChaChaHeaderProtection : HeaderProtection
{
    private readonly uint[] _key = new uint[8];

    public ChaChaHeaderProtection(ReadOnlySpan<byte> hpKey)
    {
        if (hpKey.Length != 32) throw new ArgumentException("ChaCha20 header protection keys are 32 bytes");
        for (int i = 0; i < 8; i++) _key[i] = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(hpKey[(i * 4)..]);
    }

    public override void GetMask(ReadOnlySpan<byte> sample, Span<byte> mask)
    {
        uint counter = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(sample);
        Span<byte> block = stackalloc byte[64];
        ChaCha20.Block(_key, counter, sample.Slice(4, 12), block);
        // ChaCha20 "encrypting" five zero bytes yields the first five keystream bytes.
        block[..MaskLength].CopyTo(mask);
    }

    public override void Dispose() => Array.Clear(_key);
}
