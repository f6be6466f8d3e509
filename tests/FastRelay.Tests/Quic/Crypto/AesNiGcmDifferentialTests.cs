using Xunit;
using System.Security.Cryptography;
using FastRelay.Protocols.Quic.Crypto;

namespace FastRelay.Tests.Quic.Crypto;

/// <summary>
/// Seeded differential tests against the BCL's <see cref="AesGcm"/> (OpenSSL on Linux): identical ciphertext and tag
/// for random keys, nonces, AAD lengths 0..100 and payload lengths 0..2000 — every length up to 300 and every length
/// within one byte of a block boundary (16·k - 1, 16·k, 16·k + 1) up to 2000, which walks the 8-block main loop, the
/// 4-block and 1-block tails and the partial block. Then tamper tests: every single flipped bit is rejected.
/// </summary>
public class AesNiGcmDifferentialTests
{
    private static IEnumerable<int> PayloadLengths()
    {
        for (int length = 0; length <= 300; length++) yield return length;
        for (int k = 19; k * 16 - 1 <= 2000; k++)
        {
            yield return k * 16 - 1;
            if (k * 16 <= 2000) yield return k * 16;
            if (k * 16 + 1 <= 2000) yield return k * 16 + 1;
        }
    }

    [AesNiTheory]
    [InlineData(16)]
    [InlineData(32)]
    public void MatchesBclForBoundaryLengths(int keySize)
    {
        var random = new Random(9001 + keySize);
        int cases = 0;
        foreach (int length in PayloadLengths())
        {
            Compare(random, keySize, random.Next(0, 101), length);
            cases++;
        }
        Assert.True(cases > 600);
    }

    [AesNiFact]
    public void MatchesBclForRandomSizes()
    {
        var random = new Random(38);
        for (int i = 0; i < 3000; i++)
            Compare(random, random.Next(2) == 0 ? 16 : 32, random.Next(0, 101), random.Next(0, 2001));
    }

    // QUIC headers stay under 100 bytes, but the AAD hash must also take the 8-block aggregated path correctly.
    [AesNiFact]
    public void MatchesBclForLongAssociatedData()
    {
        var random = new Random(8452);
        for (int aadLength = 100; aadLength <= 700; aadLength++)
            Compare(random, random.Next(2) == 0 ? 16 : 32, aadLength, random.Next(0, 300));
    }

    private static void Compare(Random random, int keySize, int aadLength, int length)
    {
        var key = Bytes(random, keySize);
        var nonce = Bytes(random, 12);
        var aad = Bytes(random, aadLength);
        var plaintext = Bytes(random, length);

        var expected = new byte[length];
        var expectedTag = new byte[16];
        using (var bcl = new AesGcm(key, 16)) bcl.Encrypt(nonce, plaintext, expected, expectedTag, aad);

        using var gcm = new AesNiGcm(key);
        var ciphertext = new byte[length];
        var tag = new byte[16];
        gcm.Encrypt(nonce, plaintext, ciphertext, tag, aad);
        Assert.True(expected.AsSpan().SequenceEqual(ciphertext), $"ciphertext differs: key {keySize}, aad {aadLength}, length {length}");
        Assert.True(expectedTag.AsSpan().SequenceEqual(tag), $"tag differs: key {keySize}, aad {aadLength}, length {length}");

        // In place, inside a larger buffer at an odd offset (unaligned).
        var buffer = new byte[length + 7];
        plaintext.CopyTo(buffer, 3);
        var inPlace = buffer.AsSpan(3, length);
        gcm.Encrypt(nonce, inPlace, inPlace, tag, aad);
        Assert.True(expected.AsSpan().SequenceEqual(inPlace));
        Assert.True(expectedTag.AsSpan().SequenceEqual(tag));

        Assert.True(gcm.TryDecrypt(nonce, inPlace, tag, inPlace, aad));
        Assert.True(plaintext.AsSpan().SequenceEqual(inPlace));
        var opened = new byte[length];
        Assert.True(gcm.TryDecrypt(nonce, expected, expectedTag, opened, aad));
        Assert.Equal(plaintext, opened);
    }

    [AesNiFact]
    public void EverySingleBitFlipIsRejectedAndZeroesTheOutput()
    {
        var random = new Random(1605);
        // Small messages: every bit of AAD, ciphertext and tag. Sizes cover empty AAD / empty payload, partial blocks
        // and a payload long enough for the 8-block loop.
        (int Aad, int Payload)[] shapes = [(0, 0), (0, 1), (13, 0), (20, 33), (5, 150)];
        foreach (var (aadLength, length) in shapes)
        {
            var key = Bytes(random, random.Next(2) == 0 ? 16 : 32);
            using var gcm = new AesNiGcm(key);
            var nonce = Bytes(random, 12);
            var aad = Bytes(random, aadLength);
            var plaintext = Bytes(random, length);
            var ciphertext = new byte[length];
            var tag = new byte[16];
            gcm.Encrypt(nonce, plaintext, ciphertext, tag, aad);

            int total = (aadLength + length + 16) * 8;
            for (int bit = 0; bit < total; bit++)
            {
                var a = (byte[])aad.Clone();
                var c = (byte[])ciphertext.Clone();
                var t = (byte[])tag.Clone();
                int index = bit / 8;
                byte flip = (byte)(1 << (bit % 8));
                if (index < aadLength) a[index] ^= flip;
                else if (index < aadLength + length) c[index - aadLength] ^= flip;
                else t[index - aadLength - length] ^= flip;
                Assert.False(gcm.TryDecrypt(nonce, c, t, c, a), $"bit {bit} of {aadLength}/{length}");
                Assert.All(c, b => Assert.Equal(0, b));
            }
            // A flipped nonce bit is rejected too.
            var n = (byte[])nonce.Clone();
            n[random.Next(12)] ^= (byte)(1 << random.Next(8));
            var copy = (byte[])ciphertext.Clone();
            Assert.False(gcm.TryDecrypt(n, copy, tag, copy, aad));
            // The untouched message still opens.
            copy = (byte[])ciphertext.Clone();
            Assert.True(gcm.TryDecrypt(nonce, copy, tag, copy, aad));
            Assert.Equal(plaintext, copy);
        }
    }

    [AesNiFact]
    public void RandomBitFlipsInLargeMessagesAreRejected()
    {
        var random = new Random(1200);
        for (int i = 0; i < 1000; i++)
        {
            using var gcm = new AesNiGcm(Bytes(random, random.Next(2) == 0 ? 16 : 32));
            var nonce = Bytes(random, 12);
            var aad = Bytes(random, random.Next(0, 101));
            int length = random.Next(1, 2001);
            var message = Bytes(random, length);
            var tag = new byte[16];
            gcm.Encrypt(nonce, message, message, tag, aad);
            int bit = random.Next((aad.Length + length + 16) * 8);
            int index = bit / 8;
            byte flip = (byte)(1 << (bit % 8));
            if (index < aad.Length) aad[index] ^= flip;
            else if (index < aad.Length + length) message[index - aad.Length] ^= flip;
            else tag[index - aad.Length - length] ^= flip;
            Assert.False(gcm.TryDecrypt(nonce, message, tag, message, aad));
            Assert.All(message, b => Assert.Equal(0, b));
        }
    }

    private static byte[] Bytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
