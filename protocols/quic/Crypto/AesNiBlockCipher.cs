using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Security.Cryptography;
using X86Aes = System.Runtime.Intrinsics.X86.Aes;

namespace FastRelay.Protocols.Quic.Crypto;

/// <summary>
/// The AES block cipher (FIPS-197), encryption direction only, on AES-NI (<see cref="X86Aes"/>). QUIC needs nothing
/// else from AES: header protection is one ECB block (RFC 9001 §5.4.3) and GCM only runs the cipher forwards (CTR
/// keystream, H, E(K, J0)). 128- and 256-bit keys (the TLS 1.3 suites); 192 is not offered by QUIC.
/// <para>
/// Why not the BCL: on Linux every <c>System.Security.Cryptography.Aes</c> call re-initialises an OpenSSL context and
/// goes through SafeHandle reference counting, which dominated the per-packet CPU profile. The round keys live in a
/// pinned array so the GC never leaves stale copies of them behind when it compacts, and <see cref="Dispose"/> zeroes
/// them. Immutable after construction, so concurrent use of one instance is safe.
/// </para>
/// </summary>
public sealed class AesNiBlockCipher : IDisposable
{
    public const int BlockSize = 16;

    /// <summary>True when the CPU and runtime provide AES-NI (and the SSE2 shuffles the key expansion uses).</summary>
    public static bool IsSupported => X86Aes.IsSupported && Sse2.IsSupported;

    // Pinned (never moved by the GC), cleared by Dispose. Length = rounds + 1.
    private readonly Vector128<byte>[] _roundKeys;

    /// <summary>10 for AES-128, 14 for AES-256.</summary>
    public int Rounds { get; }

    public AesNiBlockCipher(ReadOnlySpan<byte> key)
    {
        if (!IsSupported) throw new PlatformNotSupportedException("AES-NI is not available");
        if (key.Length is not (16 or 32)) throw new ArgumentException("AES keys are 16 or 32 bytes", nameof(key));
        Rounds = key.Length == 16 ? 10 : 14;
        _roundKeys = GC.AllocateArray<Vector128<byte>>(Rounds + 1, pinned: true);
        ExpandKey(key, _roundKeys);
    }

    /// <summary>Reference to round key 0; the following <see cref="Rounds"/> keys are contiguous after it.</summary>
    internal ref Vector128<byte> RoundKeys
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return ref MemoryMarshal.GetArrayDataReference(_roundKeys);
        }
    }

    private bool _disposed;

    /// <summary>Encrypts one 16-byte block; <paramref name="input"/> and <paramref name="output"/> may be the same memory.</summary>
    public void EncryptBlock(ReadOnlySpan<byte> input, Span<byte> output)
    {
        if (input.Length < BlockSize || output.Length < BlockSize) throw new ArgumentException("AES blocks are 16 bytes");
        var block = Vector128.LoadUnsafe(ref MemoryMarshal.GetReference(input));
        Encrypt(ref RoundKeys, Rounds, block).StoreUnsafe(ref MemoryMarshal.GetReference(output));
    }

    /// <summary>Encrypts one block held in a register (header protection: no memory round trip).</summary>
    public Vector128<byte> EncryptBlock(Vector128<byte> block) => Encrypt(ref RoundKeys, Rounds, block);

    /// <summary>
    /// ECB encryption of a whole number of blocks (four at a time so the AES units pipeline). <paramref name="input"/>
    /// and <paramref name="output"/> must be the same memory or not overlap.
    /// </summary>
    public void EncryptEcb(ReadOnlySpan<byte> input, Span<byte> output)
    {
        if (input.Length % BlockSize != 0) throw new ArgumentException("ECB input must be a multiple of 16 bytes", nameof(input));
        if (output.Length < input.Length) throw new ArgumentException("output is shorter than input", nameof(output));
        if (input.Overlaps(output, out int offset) && offset != 0) throw new ArgumentException("input and output overlap");
        ref Vector128<byte> rk = ref RoundKeys;
        int rounds = Rounds;
        ref byte src = ref MemoryMarshal.GetReference(input);
        ref byte dst = ref MemoryMarshal.GetReference(output);
        nuint length = (nuint)input.Length;
        nuint i = 0;
        for (; i + 4 * BlockSize <= length; i += 4 * BlockSize)
        {
            var b0 = Vector128.LoadUnsafe(ref src, i) ^ rk;
            var b1 = Vector128.LoadUnsafe(ref src, i + 16) ^ rk;
            var b2 = Vector128.LoadUnsafe(ref src, i + 32) ^ rk;
            var b3 = Vector128.LoadUnsafe(ref src, i + 48) ^ rk;
            for (int r = 1; r < rounds; r++)
            {
                var k = Unsafe.Add(ref rk, r);
                b0 = X86Aes.Encrypt(b0, k);
                b1 = X86Aes.Encrypt(b1, k);
                b2 = X86Aes.Encrypt(b2, k);
                b3 = X86Aes.Encrypt(b3, k);
            }
            var last = Unsafe.Add(ref rk, rounds);
            X86Aes.EncryptLast(b0, last).StoreUnsafe(ref dst, i);
            X86Aes.EncryptLast(b1, last).StoreUnsafe(ref dst, i + 16);
            X86Aes.EncryptLast(b2, last).StoreUnsafe(ref dst, i + 32);
            X86Aes.EncryptLast(b3, last).StoreUnsafe(ref dst, i + 48);
        }
        for (; i < length; i += BlockSize)
            Encrypt(ref rk, rounds, Vector128.LoadUnsafe(ref src, i)).StoreUnsafe(ref dst, i);
    }

    /// <summary>One block through all rounds. <paramref name="roundKeys"/> is round key 0 of <paramref name="rounds"/> + 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<byte> Encrypt(ref Vector128<byte> roundKeys, int rounds, Vector128<byte> block)
    {
        block ^= roundKeys;
        for (int r = 1; r < rounds; r++) block = X86Aes.Encrypt(block, Unsafe.Add(ref roundKeys, r));
        return X86Aes.EncryptLast(block, Unsafe.Add(ref roundKeys, rounds));
    }

    /// <summary>
    /// FIPS-197 §5.2 key expansion with AESKEYGENASSIST: it computes SubWord(RotWord(w)) ^ Rcon of the last word of the
    /// previous round key (or SubWord alone, for the middle step of AES-256); the running XOR of the four words is
    /// done with three 4-byte lane shifts.
    /// </summary>
    private static void ExpandKey(ReadOnlySpan<byte> key, Span<Vector128<byte>> roundKeys)
    {
        var a = Vector128.Create(key[..16]);
        roundKeys[0] = a;
        if (key.Length == 16)
        {
            a = Expand128(a, X86Aes.KeygenAssist(a, 0x01)); roundKeys[1] = a;
            a = Expand128(a, X86Aes.KeygenAssist(a, 0x02)); roundKeys[2] = a;
            a = Expand128(a, X86Aes.KeygenAssist(a, 0x04)); roundKeys[3] = a;
            a = Expand128(a, X86Aes.KeygenAssist(a, 0x08)); roundKeys[4] = a;
            a = Expand128(a, X86Aes.KeygenAssist(a, 0x10)); roundKeys[5] = a;
            a = Expand128(a, X86Aes.KeygenAssist(a, 0x20)); roundKeys[6] = a;
            a = Expand128(a, X86Aes.KeygenAssist(a, 0x40)); roundKeys[7] = a;
            a = Expand128(a, X86Aes.KeygenAssist(a, 0x80)); roundKeys[8] = a;
            a = Expand128(a, X86Aes.KeygenAssist(a, 0x1b)); roundKeys[9] = a;
            a = Expand128(a, X86Aes.KeygenAssist(a, 0x36)); roundKeys[10] = a;
            return;
        }
        var b = Vector128.Create(key[16..32]);
        roundKeys[1] = b;
        ReadOnlySpan<byte> rcon = [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40];
        for (int i = 0; i < rcon.Length; i++)
        {
            // Even round keys: RotWord + SubWord + Rcon of the last word of b (lane 3 of the assist result).
            a = Expand128(a, KeygenAssist(b, rcon[i]));
            roundKeys[2 * i + 2] = a;
            if (i == rcon.Length - 1) break;
            // Odd round keys: SubWord only of the last word of a (lane 2 of the assist result, which has no RotWord).
            b = Mix(b) ^ Sse2.Shuffle(X86Aes.KeygenAssist(a, 0).AsInt32(), 0xaa).AsByte();
            roundKeys[2 * i + 3] = b;
        }
    }

    // Separate so the Rcon immediate of the loop above is a constant for the JIT (the instruction takes an immediate).
    private static Vector128<byte> KeygenAssist(Vector128<byte> value, byte rcon) => rcon switch
    {
        0x01 => X86Aes.KeygenAssist(value, 0x01),
        0x02 => X86Aes.KeygenAssist(value, 0x02),
        0x04 => X86Aes.KeygenAssist(value, 0x04),
        0x08 => X86Aes.KeygenAssist(value, 0x08),
        0x10 => X86Aes.KeygenAssist(value, 0x10),
        0x20 => X86Aes.KeygenAssist(value, 0x20),
        _ => X86Aes.KeygenAssist(value, 0x40),
    };

    /// <summary>Next round key from the previous one and the assist result (its lane 3 broadcast).</summary>
    private static Vector128<byte> Expand128(Vector128<byte> previous, Vector128<byte> assist) =>
        Mix(previous) ^ Sse2.Shuffle(assist.AsInt32(), 0xff).AsByte();

    /// <summary>
    /// w0, w0^w1, w0^w1^w2, w0^w1^w2^w3 (a prefix XOR over the four words): the chain of FIPS-197's
    /// w[i] = w[i-Nk] ^ temp once temp is XORed into every lane. Two shifted XORs: by one word, then by two.
    /// </summary>
    private static Vector128<byte> Mix(Vector128<byte> k)
    {
        k ^= Sse2.ShiftLeftLogical128BitLane(k, 4);
        k ^= Sse2.ShiftLeftLogical128BitLane(k, 8);
        return k;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(_roundKeys.AsSpan()));
    }
}
