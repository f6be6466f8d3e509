using System.Buffers.Binary;
using System.Security.Cryptography;

namespace FastRelay.Bpf.Crypto;

/// <summary>
/// The GHASH table the kernel's AES-GCM (bpf-templates/crypto/fr_quic_crypto.h) multiplies with: for every byte
/// position i (0..15) and byte value b, T[i][b] = (the block with byte i = b and zeros elsewhere) * H in GF(2^128), with
/// H = AES_K(0^128) (NIST SP 800-38D). Multiplication is linear, so X * H is the XOR of T[i][X_i] over the 16 bytes of
/// X: the kernel does 16 lookups per block and no bit loop or reduction. 64 KiB per key.
/// <para>Each entry is two 64-bit words, the 16 bytes of the product read little-endian (the way the BPF program loads a
/// block from memory), at [(i * 256 + b) * 2].</para>
/// </summary>
public static class GhashTable
{
    public const int Words = 16 * 256 * 2;
    public const int Bytes = Words * sizeof(ulong);

    /// <summary>H for an AES key (16 or 32 bytes): the zero block encrypted.</summary>
    public static byte[] HashKey(ReadOnlySpan<byte> aesKey)
    {
        using var aes = Aes.Create();
        aes.Key = aesKey.ToArray();
        return aes.EncryptEcb(new byte[16], PaddingMode.None);
    }

    /// <summary>The table for an AES key, into <paramref name="table"/> (<see cref="Words"/> words).</summary>
    public static void Build(ReadOnlySpan<byte> aesKey, Span<ulong> table)
    {
        if (table.Length < Words) throw new ArgumentException($"the table needs {Words} words", nameof(table));
        var h = HashKey(aesKey);
        // P[k] = (the block with only bit k set, bit 0 = the top bit of byte 0) * H = H * x^k in GCM's reflected order.
        Span<ulong> hi = stackalloc ulong[128];
        Span<ulong> lo = stackalloc ulong[128];
        ulong vh = BinaryPrimitives.ReadUInt64BigEndian(h), vl = BinaryPrimitives.ReadUInt64BigEndian(h.AsSpan(8));
        for (int k = 0; k < 128; k++)
        {
            hi[k] = vh;
            lo[k] = vl;
            bool carry = (vl & 1) != 0;
            vl = (vl >> 1) | (vh << 63);
            vh >>= 1;
            if (carry) vh ^= 0xE100000000000000UL; // R = 11100001 || 0^120
        }
        for (int i = 0; i < 16; i++)
        {
            for (int b = 0; b < 256; b++)
            {
                ulong zh = 0, zl = 0;
                for (int bit = 0; bit < 8; bit++)
                {
                    if ((b & (0x80 >> bit)) == 0) continue;
                    zh ^= hi[i * 8 + bit];
                    zl ^= lo[i * 8 + bit];
                }
                // Big-endian product bytes, read back as little-endian words.
                table[(i * 256 + b) * 2] = BinaryPrimitives.ReverseEndianness(zh);
                table[(i * 256 + b) * 2 + 1] = BinaryPrimitives.ReverseEndianness(zl);
            }
        }
    }
}
