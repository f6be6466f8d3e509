using System.Buffers.Binary;
using System.Security.Cryptography;

namespace FastRelay.Protocols.Quic.Tls.Handshake;

/// <summary>
/// X25519 (RFC 7748 §5), written here because the BCL has no Curve25519. Field elements mod p = 2^255 - 19 are five
/// 51-bit limbs multiplied through <see cref="UInt128"/>; the scalar multiplication is the RFC's Montgomery ladder with
/// a mask-based conditional swap, so the sequence of operations and memory accesses does not depend on the scalar.
/// </summary>
public static class X25519
{
    public const int KeyLength = 32;

    private const ulong Mask51 = (1UL << 51) - 1;

    /// <summary>(A - 2) / 4 for curve25519 (RFC 7748 §5).</summary>
    private const ulong A24 = 121665;

    /// <summary>X25519(k, u): clamps a copy of <paramref name="scalar"/>, ignores the top bit of <paramref name="u"/> (§5).</summary>
    public static void ScalarMultiply(ReadOnlySpan<byte> scalar, ReadOnlySpan<byte> u, Span<byte> result)
    {
        if (scalar.Length != KeyLength || u.Length != KeyLength || result.Length < KeyLength)
            throw new ArgumentException("X25519 scalars, points and results are 32 bytes");
        Span<byte> k = stackalloc byte[KeyLength];
        scalar.CopyTo(k);
        k[0] &= 248;
        k[31] &= 127;
        k[31] |= 64;

        var x1 = Decode(u);
        var x2 = new Fe(1, 0, 0, 0, 0);
        var z2 = default(Fe);
        var x3 = x1;
        var z3 = new Fe(1, 0, 0, 0, 0);
        ulong swap = 0;
        for (int t = 254; t >= 0; t--)
        {
            ulong bit = (ulong)(k[t >> 3] >> (t & 7)) & 1;
            swap ^= bit;
            Fe.ConditionalSwap(ref x2, ref x3, swap);
            Fe.ConditionalSwap(ref z2, ref z3, swap);
            swap = bit;

            var a = Fe.Add(x2, z2);
            var aa = Fe.Square(a);
            var b = Fe.Sub(x2, z2);
            var bb = Fe.Square(b);
            var e = Fe.Sub(aa, bb);
            var c = Fe.Add(x3, z3);
            var d = Fe.Sub(x3, z3);
            var da = Fe.Mul(d, a);
            var cb = Fe.Mul(c, b);
            x3 = Fe.Square(Fe.Add(da, cb));
            z3 = Fe.Mul(x1, Fe.Square(Fe.Sub(da, cb)));
            x2 = Fe.Mul(aa, bb);
            z2 = Fe.Mul(e, Fe.Add(aa, Fe.Mul(new Fe(A24, 0, 0, 0, 0), e)));
        }
        Fe.ConditionalSwap(ref x2, ref x3, swap);
        Fe.ConditionalSwap(ref z2, ref z3, swap);
        Encode(Fe.Mul(x2, Fe.Invert(z2)), result);
        CryptographicOperations.ZeroMemory(k);
    }

    /// <summary>The public key: X25519(k, 9).</summary>
    public static void PublicKey(ReadOnlySpan<byte> privateKey, Span<byte> publicKey)
    {
        Span<byte> nine = stackalloc byte[KeyLength];
        nine.Clear();
        nine[0] = 9;
        ScalarMultiply(privateKey, nine, publicKey);
    }

    private static Fe Decode(ReadOnlySpan<byte> u) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(u) & Mask51,
        (BinaryPrimitives.ReadUInt64LittleEndian(u[6..]) >> 3) & Mask51,
        (BinaryPrimitives.ReadUInt64LittleEndian(u[12..]) >> 6) & Mask51,
        (BinaryPrimitives.ReadUInt64LittleEndian(u[19..]) >> 1) & Mask51,
        (BinaryPrimitives.ReadUInt64LittleEndian(u[24..]) >> 12) & Mask51); // drops bit 255 (§5: masked)

    /// <summary>Canonical little-endian encoding (fully reduced below p).</summary>
    private static void Encode(Fe f, Span<byte> output)
    {
        f = Fe.Carry(Fe.Carry(f));
        // q = 1 exactly when f + 19 reaches 2^255, i.e. f ≥ p; then f - p = f + 19 - 2^255.
        ulong q = (f.L0 + 19) >> 51;
        q = (f.L1 + q) >> 51;
        q = (f.L2 + q) >> 51;
        q = (f.L3 + q) >> 51;
        q = (f.L4 + q) >> 51;
        ulong l0 = f.L0 + 19 * q;
        ulong l1 = f.L1 + (l0 >> 51); l0 &= Mask51;
        ulong l2 = f.L2 + (l1 >> 51); l1 &= Mask51;
        ulong l3 = f.L3 + (l2 >> 51); l2 &= Mask51;
        ulong l4 = f.L4 + (l3 >> 51); l3 &= Mask51;
        l4 &= Mask51;
        UInt128 acc = 0;
        int bits = 0, o = 0;
        foreach (ulong limb in (ReadOnlySpan<ulong>)[l0, l1, l2, l3, l4])
        {
            acc |= (UInt128)limb << bits;
            bits += 51;
            while (bits >= 8)
            {
                output[o++] = (byte)acc;
                acc >>= 8;
                bits -= 8;
            }
        }
        output[o] = (byte)acc; // the last 7 bits
    }

    /// <summary>A field element: value = L0 + L1·2^51 + L2·2^102 + L3·2^153 + L4·2^204 (limbs may exceed 51 bits between carries).</summary>
    private readonly record struct Fe(ulong L0, ulong L1, ulong L2, ulong L3, ulong L4)
    {
        // 2p in limbs; added before subtracting so no limb goes negative (subtrahends are carried: limbs < 2^51 + 2^16).
        private const ulong TwoP0 = 0xFFFFFFFFFFFDA, TwoP1234 = 0xFFFFFFFFFFFFE;

        public static Fe Add(in Fe a, in Fe b) => new(a.L0 + b.L0, a.L1 + b.L1, a.L2 + b.L2, a.L3 + b.L3, a.L4 + b.L4);

        public static Fe Sub(in Fe a, in Fe b) => Carry(new Fe(
            a.L0 + TwoP0 - b.L0, a.L1 + TwoP1234 - b.L1, a.L2 + TwoP1234 - b.L2, a.L3 + TwoP1234 - b.L3, a.L4 + TwoP1234 - b.L4));

        /// <summary>One carry pass; the carry out of the top limb re-enters at the bottom times 19 (2^255 ≡ 19).</summary>
        public static Fe Carry(in Fe f)
        {
            ulong l0 = f.L0, l1 = f.L1, l2 = f.L2, l3 = f.L3, l4 = f.L4;
            l1 += l0 >> 51; l0 &= Mask51;
            l2 += l1 >> 51; l1 &= Mask51;
            l3 += l2 >> 51; l2 &= Mask51;
            l4 += l3 >> 51; l3 &= Mask51;
            l0 += 19 * (l4 >> 51); l4 &= Mask51;
            l1 += l0 >> 51; l0 &= Mask51;
            return new Fe(l0, l1, l2, l3, l4);
        }

        private static UInt128 M(ulong a, ulong b) => (UInt128)a * b;

        /// <summary>Schoolbook product; terms past 2^255 fold back times 19. Inputs below 2^54 per limb keep sums below 2^115.</summary>
        public static Fe Mul(in Fe a, in Fe b)
        {
            ulong b1 = 19 * b.L1, b2 = 19 * b.L2, b3 = 19 * b.L3, b4 = 19 * b.L4;
            UInt128 r0 = M(a.L0, b.L0) + M(a.L1, b4) + M(a.L2, b3) + M(a.L3, b2) + M(a.L4, b1);
            UInt128 r1 = M(a.L0, b.L1) + M(a.L1, b.L0) + M(a.L2, b4) + M(a.L3, b3) + M(a.L4, b2);
            UInt128 r2 = M(a.L0, b.L2) + M(a.L1, b.L1) + M(a.L2, b.L0) + M(a.L3, b4) + M(a.L4, b3);
            UInt128 r3 = M(a.L0, b.L3) + M(a.L1, b.L2) + M(a.L2, b.L1) + M(a.L3, b.L0) + M(a.L4, b4);
            UInt128 r4 = M(a.L0, b.L4) + M(a.L1, b.L3) + M(a.L2, b.L2) + M(a.L3, b.L1) + M(a.L4, b.L0);
            r1 += r0 >> 51;
            r2 += r1 >> 51;
            r3 += r2 >> 51;
            r4 += r3 >> 51;
            // The top carry is below 2^64, times 19 it is not: fold it in 128-bit arithmetic.
            UInt128 c0 = (r0 & Mask51) + (r4 >> 51) * 19;
            ulong l1 = (ulong)(r1 & Mask51) + (ulong)(c0 >> 51);
            return new Fe((ulong)(c0 & Mask51), l1, (ulong)(r2 & Mask51), (ulong)(r3 & Mask51), (ulong)(r4 & Mask51));
        }

        public static Fe Square(in Fe a) => Mul(a, a);

        /// <summary>a^(p-2) (Fermat). p - 2 = 2^255 - 21: bits 254..5 set, then 01011. The exponent is public.</summary>
        public static Fe Invert(in Fe a)
        {
            var r = new Fe(1, 0, 0, 0, 0);
            for (int i = 254; i >= 0; i--)
            {
                r = Square(r);
                bool set = i >= 5 || i is 3 or 1 or 0;
                if (set) r = Mul(r, a);
            }
            return r;
        }

        /// <summary>Swaps when <paramref name="swap"/> is 1, without a branch on it.</summary>
        public static void ConditionalSwap(ref Fe a, ref Fe b, ulong swap)
        {
            ulong mask = unchecked(0UL - swap);
            ulong t0 = mask & (a.L0 ^ b.L0), t1 = mask & (a.L1 ^ b.L1), t2 = mask & (a.L2 ^ b.L2),
                t3 = mask & (a.L3 ^ b.L3), t4 = mask & (a.L4 ^ b.L4);
            a = new Fe(a.L0 ^ t0, a.L1 ^ t1, a.L2 ^ t2, a.L3 ^ t3, a.L4 ^ t4);
            b = new Fe(b.L0 ^ t0, b.L1 ^ t1, b.L2 ^ t2, b.L3 ^ t3, b.L4 ^ t4);
        }
    }
}

/// <summary>ECDHE over X25519 (RFC 8446 §7.4.2): 32-byte values; an all-zero shared secret is refused.</summary>
internal sealed class X25519KeyExchange : KeyExchange
{
    private readonly byte[] _private = RandomNumberGenerator.GetBytes(X25519.KeyLength);
    private readonly byte[] _public = new byte[X25519.KeyLength];

    public X25519KeyExchange() : base(NamedGroup.X25519) => X25519.PublicKey(_private, _public);

    public override ReadOnlyMemory<byte> PublicKey => _public;

    public override bool TryDeriveSecret(ReadOnlySpan<byte> peerPublicKey, out byte[] secret)
    {
        secret = [];
        if (peerPublicKey.Length != X25519.KeyLength) return false;
        var shared = new byte[X25519.KeyLength];
        X25519.ScalarMultiply(_private, peerPublicKey, shared);
        // §7.4.2 / RFC 7748 §6.1: a small-order peer value yields all zeros; checked without an early exit.
        byte any = 0;
        foreach (byte b in shared) any |= b;
        if (any == 0) return false;
        secret = shared;
        return true;
    }

    public override void Dispose() => CryptographicOperations.ZeroMemory(_private);
}
