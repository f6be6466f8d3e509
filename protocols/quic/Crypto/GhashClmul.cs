using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FastRelay.Protocols.Quic.Crypto;

/// <summary>
/// GHASH (NIST SP 800-38D §6.4) with carry-less multiplication (PCLMULQDQ), computed as POLYVAL (RFC 8452 §3).
/// <para>
/// Why POLYVAL: GHASH's field elements are bit-reflected (the first bit of the block is x^0), which makes a direct
/// PCLMULQDQ product off by one bit per multiplication. RFC 8452 Appendix A gives the identity
/// GHASH(H, X1..Xn) = ByteReverse(POLYVAL(mulX_POLYVAL(ByteReverse(H)), ByteReverse(X1), .., ByteReverse(Xn))):
/// after a byte swap every block is an ordinary little-endian polynomial (bit i = x^i), products need no shift, and
/// the reduction is a Montgomery step dot(a, b) = a·b·x^-128 mod x^128 + x^127 + x^126 + x^121 + 1 done with two
/// folds by the constant 0xC2000000_00000000 (= x^63 + x^62 + x^57). The one-bit correction is absorbed once into
/// the key: H' = H·x.
/// </para>
/// <para>
/// Aggregated reduction: with K_1 = H' and K_(i+1) = dot(K_i, H'), i.e. K_i = H'^i·x^(-128(i-1)), n POLYVAL steps
/// collapse to S' = dot(S ^ X1, K_n) ^ dot(X2, K_(n-1)) ^ .. ^ dot(Xn, K_1); the reduction is linear, so the n 256-bit
/// products are summed first and reduced once. The key schedule therefore keeps K_1..K_8 (8 blocks per reduction).
/// </para>
/// </summary>
internal static class GhashClmul
{
    /// <summary>Blocks per aggregated reduction (number of precomputed key powers).</summary>
    public const int PowerCount = 8;

    public static bool IsSupported => Pclmulqdq.IsSupported && Ssse3.IsSupported;

    // Reverses the 16 bytes of a block: GCM's big-endian block <-> POLYVAL's little-endian element.
    internal static Vector128<byte> ReverseBytes => Vector128.Create((byte)15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);

    // x^63 + x^62 + x^57 in the high lane: the part of the POLYVAL polynomial below x^128, except its "+ 1".
    internal static Vector128<ulong> Fold => Vector128.Create(0UL, 0xC200000000000000UL);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> ToPolyval(Vector128<byte> block) => Ssse3.Shuffle(block, ReverseBytes).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> FromPolyval(Vector128<ulong> element) => Ssse3.Shuffle(element.AsByte(), ReverseBytes);

    /// <summary>Adds the unreduced 256-bit product a·k to (hi·x^128 + mid·x^64 + lo), schoolbook (4 multiplies).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MultiplyAdd(Vector128<ulong> a, Vector128<ulong> k,
        ref Vector128<ulong> lo, ref Vector128<ulong> mid, ref Vector128<ulong> hi)
    {
        lo ^= Pclmulqdq.CarrylessMultiply(a, k, 0x00);
        hi ^= Pclmulqdq.CarrylessMultiply(a, k, 0x11);
        mid ^= Pclmulqdq.CarrylessMultiply(a, k, 0x01) ^ Pclmulqdq.CarrylessMultiply(a, k, 0x10);
    }

    /// <summary>
    /// (hi·x^128 + mid·x^64 + lo)·x^-128 mod the POLYVAL polynomial. Each fold cancels the lowest 64 bits q by adding
    /// q·P (P's "+1" term cancels q exactly) and divides by x^64: the rest of q·P is q·x^128 (the lane swap) plus
    /// q·(x^63 + x^62 + x^57) (one PCLMULQDQ). Two folds divide by x^128.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Reduce(Vector128<ulong> lo, Vector128<ulong> mid, Vector128<ulong> hi) => Reduce(lo, mid, hi, Fold);

    /// <summary><see cref="Reduce(Vector128{ulong}, Vector128{ulong}, Vector128{ulong})"/> with the fold constant in a register.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Reduce(Vector128<ulong> lo, Vector128<ulong> mid, Vector128<ulong> hi, Vector128<ulong> fold)
    {
        lo ^= Sse2.ShiftLeftLogical128BitLane(mid, 8);
        hi ^= Sse2.ShiftRightLogical128BitLane(mid, 8);
        lo = Sse2.Shuffle(lo.AsUInt32(), 0x4e).AsUInt64() ^ Pclmulqdq.CarrylessMultiply(lo, fold, 0x10);
        lo = Sse2.Shuffle(lo.AsUInt32(), 0x4e).AsUInt64() ^ Pclmulqdq.CarrylessMultiply(lo, fold, 0x10);
        return hi ^ lo;
    }

    /// <summary>dot(a, b) = a·b·x^-128 (RFC 8452 §3).</summary>
    public static Vector128<ulong> Dot(Vector128<ulong> a, Vector128<ulong> b)
    {
        Vector128<ulong> lo = default, mid = default, hi = default;
        MultiplyAdd(a, b, ref lo, ref mid, ref hi);
        return Reduce(lo, mid, hi);
    }

    /// <summary>v·x in the POLYVAL field (RFC 8452 Appendix A mulX_POLYVAL), without a secret-dependent branch.</summary>
    public static Vector128<ulong> MultiplyByX(Vector128<ulong> v)
    {
        var carries = Sse2.ShiftRightLogical(v, 63);                  // top bit of each lane
        var shifted = Sse2.ShiftLeftLogical(v, 1) | Sse2.ShiftLeftLogical128BitLane(carries, 8);
        var overflow = Vector128.Create(0UL - carries.GetElement(1)); // all ones if x^127 was set
        return shifted ^ (Vector128.Create(1UL, 0xC200000000000000UL) & overflow);
    }

    /// <summary>Fills <paramref name="powers"/>[i] with K_(i+1) for the GHASH key <paramref name="h"/> = E(K, 0^128).</summary>
    public static void ComputePowers(Vector128<byte> h, Span<Vector128<ulong>> powers)
    {
        var k1 = MultiplyByX(ToPolyval(h));
        powers[0] = k1;
        for (int i = 1; i < powers.Length; i++) powers[i] = Dot(powers[i - 1], k1);
    }

    /// <summary>
    /// Absorbs <paramref name="data"/> into the state <paramref name="s"/>, the last partial block zero-padded
    /// (SP 800-38D pads A and C separately). Up to 8 blocks per reduction.
    /// </summary>
    public static Vector128<ulong> Absorb(Vector128<ulong> s, ref Vector128<ulong> powers, ReadOnlySpan<byte> data)
    {
        ref byte p = ref MemoryMarshal.GetReference(data);
        nuint blocks = (nuint)data.Length / 16;
        nuint offset = 0;
        while (blocks > 0)
        {
            int n = blocks >= PowerCount ? PowerCount : (int)blocks;
            Vector128<ulong> lo = default, mid = default, hi = default;
            var x = ToPolyval(Vector128.LoadUnsafe(ref p, offset)) ^ s;
            MultiplyAdd(x, Unsafe.Add(ref powers, n - 1), ref lo, ref mid, ref hi);
            for (int j = 1; j < n; j++)
            {
                x = ToPolyval(Vector128.LoadUnsafe(ref p, offset + (nuint)(16 * j)));
                MultiplyAdd(x, Unsafe.Add(ref powers, n - 1 - j), ref lo, ref mid, ref hi);
            }
            s = Reduce(lo, mid, hi);
            offset += (nuint)(16 * n);
            blocks -= (nuint)n;
        }
        int rest = data.Length & 15;
        if (rest != 0) s = Dot(s ^ ToPolyval(LoadPartial(data.Slice(data.Length - rest))), powers);
        return s;
    }

    /// <summary>0..15 bytes into a block, zero-padded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> LoadPartial(ReadOnlySpan<byte> bytes)
    {
        Vector128<byte> block = default;
        bytes.CopyTo(MemoryMarshal.AsBytes(new Span<Vector128<byte>>(ref block)));
        return block;
    }
}
