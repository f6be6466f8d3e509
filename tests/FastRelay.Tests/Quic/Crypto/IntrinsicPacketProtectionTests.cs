using Xunit;
using System.Security.Cryptography;
using FastRelay.Protocols.Quic.Crypto;
using BclAes = System.Security.Cryptography.Aes;

namespace FastRelay.Tests.Quic.Crypto;

/// <summary>
/// <see cref="PacketAead"/> and <see cref="AesHeaderProtection"/> on the intrinsic path: byte-identical to the BCL, the
/// RFC 9001 A.2 header protection mask, tamper rejection through the packet API, and no allocation per packet.
/// </summary>
public class IntrinsicPacketProtectionTests
{
    [Fact]
    public void PacketAeadUsesTheIntrinsicPathWhenTheCpuHasIt()
    {
        using var aead = new PacketAead(CipherSuite.Aes128GcmSha256, new byte[16], new byte[12]);
        var field = typeof(PacketAead).GetField("_aesNi", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        Assert.Equal(AesNiGcm.IsSupported, field.GetValue(aead) is not null);
    }

    [Theory]
    [InlineData(CipherSuite.Aes128GcmSha256)]
    [InlineData(CipherSuite.Aes256GcmSha384)]
    public void PacketAeadMatchesBclAesGcm(CipherSuite suite)
    {
        var random = new Random((int)suite + 77);
        for (int i = 0; i < 500; i++)
        {
            var key = new byte[suite.KeyLength()];
            var iv = new byte[12];
            random.NextBytes(key);
            random.NextBytes(iv);
            using var aead = new PacketAead(suite, key, iv);
            ulong pn = (ulong)random.NextInt64(0, 1L << 62);
            var header = new byte[random.Next(1, 60)];
            random.NextBytes(header);
            var payload = new byte[random.Next(0, 1500)];
            random.NextBytes(payload);

            var nonce = new byte[12];
            aead.GetNonce(pn, nonce);
            var expected = new byte[payload.Length];
            var expectedTag = new byte[16];
            using (var bcl = new AesGcm(key, 16)) bcl.Encrypt(nonce, payload, expected, expectedTag, header);

            var sealedPayload = (byte[])payload.Clone();
            var tag = new byte[16];
            aead.Seal(pn, header, sealedPayload, tag);
            Assert.Equal(expected, sealedPayload);
            Assert.Equal(expectedTag, tag);

            Assert.True(aead.TryOpen(pn, header, sealedPayload, tag));
            Assert.Equal(payload, sealedPayload);

            // Wrong packet number (nonce) or a flipped header bit: rejected, buffer zeroed.
            aead.Seal(pn, header, sealedPayload, tag);
            var copy = (byte[])sealedPayload.Clone();
            Assert.False(aead.TryOpen(pn ^ 1, header, copy, tag));
            Assert.All(copy, b => Assert.Equal(0, b));
            header[random.Next(header.Length)] ^= (byte)(1 << random.Next(8));
            Assert.False(aead.TryOpen(pn, header, sealedPayload, tag));
            Assert.All(sealedPayload, b => Assert.Equal(0, b));
        }
    }

    [Fact]
    public void AesHeaderProtectionMatchesBclEcb()
    {
        var random = new Random(5403);
        var mask = new byte[HeaderProtection.MaskLength];
        for (int i = 0; i < 1000; i++)
        {
            var key = new byte[i % 2 == 0 ? 16 : 32];
            random.NextBytes(key);
            var sample = new byte[HeaderProtection.SampleLength];
            random.NextBytes(sample);
            using var bcl = BclAes.Create();
            bcl.Key = key;
            var expected = bcl.EncryptEcb(sample, PaddingMode.None);
            using var hp = HeaderProtection.Create(i % 2 == 0 ? CipherSuite.Aes128GcmSha256 : CipherSuite.Aes256GcmSha384, key);
            hp.GetMask(sample, mask);
            Assert.Equal(expected.AsSpan(0, HeaderProtection.MaskLength).ToArray(), mask);
        }
    }

    // RFC 9001 A.2: client Initial hp key and sample -> mask 437b9aec36.
    [Fact]
    public void AesHeaderProtectionMaskMatchesRfc9001AppendixA2()
    {
        using var hp = HeaderProtection.Create(CipherSuite.Aes128GcmSha256, Hex.Parse("9f50449e04a0e810283a1e9933adedd2"));
        var mask = new byte[HeaderProtection.MaskLength];
        hp.GetMask(Hex.Parse("d1b1c98dd7689fb8ec11d242b123dc9b"), mask);
        Assert.Equal("437b9aec36", Hex.Of(mask));
    }

    [Fact]
    public void SealOpenAndMaskDoNotAllocate()
    {
        var key = new byte[16];
        var iv = new byte[12];
        new Random(1).NextBytes(key);
        using var aead = new PacketAead(CipherSuite.Aes128GcmSha256, key, iv);
        using var hp = HeaderProtection.Create(CipherSuite.Aes128GcmSha256, key);
        using var gcm = AesNiGcm.IsSupported ? new AesNiGcm(key) : null;
        var header = new byte[30];
        var payload = new byte[1200];
        var tag = new byte[16];
        var mask = new byte[HeaderProtection.MaskLength];
        var nonce = new byte[12];

        void Round(ulong pn)
        {
            aead.Seal(pn, header, payload, tag);
            hp.GetMask(payload.AsSpan(0, 16), mask);
            if (!aead.TryOpen(pn, header, payload, tag)) throw new InvalidOperationException("open failed");
            if (gcm is not null)
            {
                gcm.Encrypt(nonce, payload, payload, tag, header);
                if (!gcm.TryDecrypt(nonce, payload, tag, payload, header)) throw new InvalidOperationException("open failed");
            }
        }

        for (ulong pn = 0; pn < 200; pn++) Round(pn); // warm up (tiering)
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (ulong pn = 0; pn < 10_000; pn++) Round(pn);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }
}
