using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Security.Cryptography;
using X86Aes = System.Runtime.Intrinsics.X86.Aes;

namespace FastRelay.Protocols.Quic.Crypto;

/// <summary>
/// AES-GCM (NIST SP 800-38D) with a 96-bit nonce and a 128-bit tag — the profile of TLS 1.3 and RFC 9001 — on AES-NI
/// and PCLMULQDQ. Replaces the BCL's <see cref="AesGcm"/> on the per-packet path: on Linux that class re-keys an
/// OpenSSL context on every call (EVP_CipherInit) and pays SafeHandle reference counting per P/Invoke, which was most of
/// the QUIC stack's CPU time.
/// <para>
/// Layout of the work: J0 = nonce || 0^31 || 1; the data is CTR-encrypted from inc32(J0), eight blocks per iteration
/// (independent AES pipelines), and those eight ciphertext blocks are hashed with one aggregated GHASH reduction
/// (<see cref="GhashClmul"/>). Seal and open are single passes and work in place (input and output the same memory).
/// Open verifies the tag with <see cref="CryptographicOperations.FixedTimeEquals"/> and, like the BCL, zeroes the
/// output when it does not match.
/// </para>
/// <para>
/// The AES round keys and the GHASH key powers are secrets: both live in pinned arrays (no stale copies after a GC
/// compaction) and <see cref="Dispose"/> zeroes them. No per-call allocation or mutable state: concurrent calls on one
/// instance are safe (Dispose excepted).
/// </para>
/// </summary>
public sealed class AesNiGcm : IDisposable
{
    public const int NonceSize = 12;
    public const int TagSize = 16;

    /// <summary>True when AES-NI, PCLMULQDQ and SSSE3 (byte shuffles) are available.</summary>
    public static bool IsSupported => AesNiBlockCipher.IsSupported && GhashClmul.IsSupported;

    private readonly AesNiBlockCipher _cipher;
    // K_1..K_8 of GhashClmul (GHASH key powers, POLYVAL form). Pinned; zeroed by Dispose.
    private readonly Vector128<ulong>[] _powers;
    private bool _disposed;

    public AesNiGcm(ReadOnlySpan<byte> key)
    {
        if (!IsSupported) throw new PlatformNotSupportedException("AES-NI with PCLMULQDQ is not available");
        _cipher = new AesNiBlockCipher(key);
        _powers = GC.AllocateArray<Vector128<ulong>>(GhashClmul.PowerCount, pinned: true);
        var h = AesNiBlockCipher.Encrypt(ref _cipher.RoundKeys, _cipher.Rounds, Vector128<byte>.Zero);
        GhashClmul.ComputePowers(h, _powers);
    }

    /// <summary>16 or 32.</summary>
    public int KeySize => _cipher.Rounds == 10 ? 16 : 32;

    /// <summary>
    /// Encrypts <paramref name="plaintext"/> into <paramref name="ciphertext"/> (same length; the same memory is
    /// allowed, partial overlap is not) and writes the 16-byte tag.
    /// </summary>
    public void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag,
        ReadOnlySpan<byte> associatedData = default)
    {
        CheckArguments(nonce, plaintext, ciphertext, tag.Length);
        var computed = Crypt(nonce, associatedData, plaintext, ciphertext, encrypt: true);
        computed.StoreUnsafe(ref MemoryMarshal.GetReference(tag));
    }

    /// <summary>
    /// Decrypts and authenticates. Returns false — with <paramref name="plaintext"/> zeroed — when the tag does not
    /// match; never throws for bad input data. <paramref name="plaintext"/> may be the same memory as
    /// <paramref name="ciphertext"/> (in-place open).
    /// </summary>
    public bool TryDecrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext,
        ReadOnlySpan<byte> associatedData = default)
    {
        CheckArguments(nonce, ciphertext, plaintext, tag.Length);
        var computed = Crypt(nonce, associatedData, ciphertext, plaintext, encrypt: false);
        if (CryptographicOperations.FixedTimeEquals(MemoryMarshal.AsBytes(new ReadOnlySpan<Vector128<byte>>(in computed)), tag))
            return true;
        CryptographicOperations.ZeroMemory(plaintext);
        return false;
    }

    private void CheckArguments(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> input, ReadOnlySpan<byte> output, int tagLength)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (nonce.Length != NonceSize) throw new ArgumentException("AES-GCM nonces are 12 bytes here", nameof(nonce));
        if (tagLength != TagSize) throw new ArgumentException("AES-GCM tags are 16 bytes here", "tag");
        if (input.Length != output.Length) throw new ArgumentException("input and output lengths differ");
        if (input.Overlaps(output, out int offset) && offset != 0) throw new ArgumentException("input and output overlap partially");
    }

    // Keeps bytes 0..11 and reverses 12..15: turns the big-endian 32-bit counter of a CTR block into a native int lane
    // (lane 3) and back, so inc32 is a vector add (which wraps mod 2^32 like inc32 does).
    private static Vector128<byte> SwapCounter => Vector128.Create((byte)0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 14, 13, 12);

    /// <summary>
    /// CTR-encrypts <paramref name="input"/> into <paramref name="output"/> and returns the tag E(K, J0) ^ GHASH.
    /// <paramref name="encrypt"/> only chooses which side is the ciphertext that GHASH absorbs (output when sealing,
    /// input when opening); each chunk is loaded before its output is stored, so in-place works.
    /// </summary>
    private Vector128<byte> Crypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> input,
        Span<byte> output, bool encrypt)
    {
        ref Vector128<byte> rk = ref _cipher.RoundKeys;
        int rounds = _cipher.Rounds;
        ref Vector128<ulong> powers = ref MemoryMarshal.GetArrayDataReference(_powers);

        // J0 = nonce || 00 00 00 01 (SP 800-38D §7.1 step 2, 96-bit IV). Read as little-endian qwords: byte 15 is the
        // top byte of the second qword.
        var j0 = Vector128.Create(MemoryMarshal.Read<ulong>(nonce), MemoryMarshal.Read<uint>(nonce[8..]) | (1UL << 56)).AsByte();
        var counter = Ssse3.Shuffle(j0, SwapCounter).AsInt32();

        var s = GhashClmul.Absorb(Vector128<ulong>.Zero, ref powers, associatedData);

        int bulk = input.Length & ~127;
        if (bulk != 0)
        {
            s = CryptEightBlocks(ref rk, rounds, ref powers, ref MemoryMarshal.GetReference(input),
                ref MemoryMarshal.GetReference(output), (nuint)bulk, ref counter, s, encrypt);
        }
        int offset = bulk;

        // Tail: fewer than 8 blocks. Opening hashes the ciphertext before it is overwritten; sealing hashes after.
        ReadOnlySpan<byte> inputTail = input[offset..];
        Span<byte> outputTail = output[offset..];
        if (!encrypt) s = GhashClmul.Absorb(s, ref powers, inputTail);
        CtrTail(ref rk, rounds, counter, inputTail, outputTail);
        if (encrypt) s = GhashClmul.Absorb(s, ref powers, outputTail);

        // Length block [len(A)]64 || [len(C)]64 in bits, big-endian; byte-reversed it is (len(C), len(A)) as qwords.
        var lengths = Vector128.Create((ulong)input.Length * 8, (ulong)associatedData.Length * 8);
        s = GhashClmul.Dot(s ^ lengths, powers);
        return GhashClmul.FromPolyval(s) ^ AesNiBlockCipher.Encrypt(ref rk, rounds, j0);
    }

    /// <summary>
    /// The main loop over <paramref name="length"/> bytes (a multiple of 128): eight counter blocks through AES side by
    /// side, XOR, store, then one aggregated GHASH step over the eight ciphertext blocks. A method of its own, with the
    /// shuffle masks in locals, so the JIT keeps the loop's state in registers (inlined into the caller it ran out of
    /// inlining budget and called the mask getters per block).
    /// </summary>
    private static Vector128<ulong> CryptEightBlocks(ref Vector128<byte> rk, int rounds, ref Vector128<ulong> powers,
        ref byte src, ref byte dst, nuint length, ref Vector128<int> counterRef, Vector128<ulong> s, bool encrypt)
    {
        var swap = SwapCounter;
        var reverse = GhashClmul.ReverseBytes;
        var fold = GhashClmul.Fold;
        var one = Vector128.Create(0, 0, 0, 1);
        var counter = counterRef;
        var h1 = powers;
        var h2 = Unsafe.Add(ref powers, 1);
        var h3 = Unsafe.Add(ref powers, 2);
        var h4 = Unsafe.Add(ref powers, 3);
        var h5 = Unsafe.Add(ref powers, 4);
        var h6 = Unsafe.Add(ref powers, 5);
        var h7 = Unsafe.Add(ref powers, 6);
        var h8 = Unsafe.Add(ref powers, 7);
        for (nuint offset = 0; offset < length; offset += 128)
        {
            var c0 = counter + one;
            var c1 = c0 + one;
            var c2 = c1 + one;
            var c3 = c2 + one;
            var c4 = c3 + one;
            var c5 = c4 + one;
            var c6 = c5 + one;
            var c7 = c6 + one;
            counter = c7;
            var k = rk;
            var b0 = Ssse3.Shuffle(c0.AsByte(), swap) ^ k;
            var b1 = Ssse3.Shuffle(c1.AsByte(), swap) ^ k;
            var b2 = Ssse3.Shuffle(c2.AsByte(), swap) ^ k;
            var b3 = Ssse3.Shuffle(c3.AsByte(), swap) ^ k;
            var b4 = Ssse3.Shuffle(c4.AsByte(), swap) ^ k;
            var b5 = Ssse3.Shuffle(c5.AsByte(), swap) ^ k;
            var b6 = Ssse3.Shuffle(c6.AsByte(), swap) ^ k;
            var b7 = Ssse3.Shuffle(c7.AsByte(), swap) ^ k;
            for (int r = 1; r < rounds; r++)
            {
                k = Unsafe.Add(ref rk, r);
                b0 = X86Aes.Encrypt(b0, k);
                b1 = X86Aes.Encrypt(b1, k);
                b2 = X86Aes.Encrypt(b2, k);
                b3 = X86Aes.Encrypt(b3, k);
                b4 = X86Aes.Encrypt(b4, k);
                b5 = X86Aes.Encrypt(b5, k);
                b6 = X86Aes.Encrypt(b6, k);
                b7 = X86Aes.Encrypt(b7, k);
            }
            k = Unsafe.Add(ref rk, rounds);
            var x0 = Vector128.LoadUnsafe(ref src, offset);
            var x1 = Vector128.LoadUnsafe(ref src, offset + 16);
            var x2 = Vector128.LoadUnsafe(ref src, offset + 32);
            var x3 = Vector128.LoadUnsafe(ref src, offset + 48);
            var x4 = Vector128.LoadUnsafe(ref src, offset + 64);
            var x5 = Vector128.LoadUnsafe(ref src, offset + 80);
            var x6 = Vector128.LoadUnsafe(ref src, offset + 96);
            var x7 = Vector128.LoadUnsafe(ref src, offset + 112);
            var y0 = X86Aes.EncryptLast(b0, k) ^ x0;
            var y1 = X86Aes.EncryptLast(b1, k) ^ x1;
            var y2 = X86Aes.EncryptLast(b2, k) ^ x2;
            var y3 = X86Aes.EncryptLast(b3, k) ^ x3;
            var y4 = X86Aes.EncryptLast(b4, k) ^ x4;
            var y5 = X86Aes.EncryptLast(b5, k) ^ x5;
            var y6 = X86Aes.EncryptLast(b6, k) ^ x6;
            var y7 = X86Aes.EncryptLast(b7, k) ^ x7;
            y0.StoreUnsafe(ref dst, offset);
            y1.StoreUnsafe(ref dst, offset + 16);
            y2.StoreUnsafe(ref dst, offset + 32);
            y3.StoreUnsafe(ref dst, offset + 48);
            y4.StoreUnsafe(ref dst, offset + 64);
            y5.StoreUnsafe(ref dst, offset + 80);
            y6.StoreUnsafe(ref dst, offset + 96);
            y7.StoreUnsafe(ref dst, offset + 112);
            if (encrypt)
            {
                x0 = y0; x1 = y1; x2 = y2; x3 = y3; x4 = y4; x5 = y5; x6 = y6; x7 = y7;
            }
            Vector128<ulong> lo = default, mid = default, hi = default;
            GhashClmul.MultiplyAdd(Ssse3.Shuffle(x0, reverse).AsUInt64() ^ s, h8, ref lo, ref mid, ref hi);
            GhashClmul.MultiplyAdd(Ssse3.Shuffle(x1, reverse).AsUInt64(), h7, ref lo, ref mid, ref hi);
            GhashClmul.MultiplyAdd(Ssse3.Shuffle(x2, reverse).AsUInt64(), h6, ref lo, ref mid, ref hi);
            GhashClmul.MultiplyAdd(Ssse3.Shuffle(x3, reverse).AsUInt64(), h5, ref lo, ref mid, ref hi);
            GhashClmul.MultiplyAdd(Ssse3.Shuffle(x4, reverse).AsUInt64(), h4, ref lo, ref mid, ref hi);
            GhashClmul.MultiplyAdd(Ssse3.Shuffle(x5, reverse).AsUInt64(), h3, ref lo, ref mid, ref hi);
            GhashClmul.MultiplyAdd(Ssse3.Shuffle(x6, reverse).AsUInt64(), h2, ref lo, ref mid, ref hi);
            GhashClmul.MultiplyAdd(Ssse3.Shuffle(x7, reverse).AsUInt64(), h1, ref lo, ref mid, ref hi);
            s = GhashClmul.Reduce(lo, mid, hi, fold);
        }
        counterRef = counter;
        return s;
    }

    /// <summary>CTR over fewer than 128 bytes: four blocks, then single blocks, then a masked partial block.</summary>
    private static void CtrTail(ref Vector128<byte> rk, int rounds, Vector128<int> counter, ReadOnlySpan<byte> input, Span<byte> output)
    {
        ref byte src = ref MemoryMarshal.GetReference(input);
        ref byte dst = ref MemoryMarshal.GetReference(output);
        nuint length = (nuint)input.Length;
        nuint offset = 0;
        var one = Vector128.Create(0, 0, 0, 1);
        var swap = SwapCounter;
        if (length >= 64)
        {
            var c0 = counter + one;
            var c1 = c0 + one;
            var c2 = c1 + one;
            var c3 = c2 + one;
            counter = c3;
            var k = rk;
            var b0 = Ssse3.Shuffle(c0.AsByte(), swap) ^ k;
            var b1 = Ssse3.Shuffle(c1.AsByte(), swap) ^ k;
            var b2 = Ssse3.Shuffle(c2.AsByte(), swap) ^ k;
            var b3 = Ssse3.Shuffle(c3.AsByte(), swap) ^ k;
            for (int r = 1; r < rounds; r++)
            {
                k = Unsafe.Add(ref rk, r);
                b0 = X86Aes.Encrypt(b0, k);
                b1 = X86Aes.Encrypt(b1, k);
                b2 = X86Aes.Encrypt(b2, k);
                b3 = X86Aes.Encrypt(b3, k);
            }
            k = Unsafe.Add(ref rk, rounds);
            var y0 = X86Aes.EncryptLast(b0, k) ^ Vector128.LoadUnsafe(ref src, 0);
            var y1 = X86Aes.EncryptLast(b1, k) ^ Vector128.LoadUnsafe(ref src, 16);
            var y2 = X86Aes.EncryptLast(b2, k) ^ Vector128.LoadUnsafe(ref src, 32);
            var y3 = X86Aes.EncryptLast(b3, k) ^ Vector128.LoadUnsafe(ref src, 48);
            y0.StoreUnsafe(ref dst, 0);
            y1.StoreUnsafe(ref dst, 16);
            y2.StoreUnsafe(ref dst, 32);
            y3.StoreUnsafe(ref dst, 48);
            offset = 64;
        }
        for (; offset + 16 <= length; offset += 16)
        {
            counter += one;
            var y = AesNiBlockCipher.Encrypt(ref rk, rounds, Ssse3.Shuffle(counter.AsByte(), swap)) ^ Vector128.LoadUnsafe(ref src, offset);
            y.StoreUnsafe(ref dst, offset);
        }
        int rest = (int)(length - offset);
        if (rest != 0)
        {
            counter += one;
            var y = AesNiBlockCipher.Encrypt(ref rk, rounds, Ssse3.Shuffle(counter.AsByte(), swap)) ^ GhashClmul.LoadPartial(input[(int)offset..]);
            MemoryMarshal.AsBytes(new ReadOnlySpan<Vector128<byte>>(in y))[..rest].CopyTo(output[(int)offset..]);
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _cipher.Dispose();
        CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(_powers.AsSpan()));
    }
}
