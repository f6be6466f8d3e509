using Xunit;
using System.Security.Cryptography;
using FastRelay.Protocols.Quic.Crypto;

namespace FastRelay.Tests.Quic.Crypto;

/// <summary>
/// The GCM specification's test cases (McGrew and Viega, "The Galois/Counter Mode of Operation", Appendix B) with
/// 96-bit IVs: 1-4 (AES-128) and 13-16 (AES-256). Each vector is checked against this implementation and the BCL, so a
/// typo in a vector cannot hide a bug.
/// </summary>
public class AesNiGcmVectorTests
{
    private const string K3 = "feffe9928665731c6d6a8f9467308308";
    private const string P64 = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
                               "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
    private const string P60 = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
                               "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
    private const string Iv = "cafebabefacedbaddecaf888";
    private const string Aad = "feedfacedeadbeeffeedfacedeadbeefabaddad2";

    public static TheoryData<string, string, string, string, string, string, string> Vectors() => new()
    {
        // name, key, iv, plaintext, aad, ciphertext, tag
        { "1", new string('0', 32), new string('0', 24), "", "", "", "58e2fccefa7e3061367f1d57a4e7455a" },
        { "2", new string('0', 32), new string('0', 24), new string('0', 32), "", "0388dace60b6a392f328c2b971b2fe78",
            "ab6e47d42cec13bdf53a67b21257bddf" },
        { "3", K3, Iv, P64, "",
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e" +
            "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985", "4d5c2af327cd64a62cf35abd2ba6fab4" },
        { "4", K3, Iv, P60, Aad,
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e" +
            "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091", "5bc94fbc3221a5db94fae95ae7121a47" },
        { "13", new string('0', 64), new string('0', 24), "", "", "", "530f8afbc74536b9a963b4f1c4cb738b" },
        { "14", new string('0', 64), new string('0', 24), new string('0', 32), "", "cea7403d4d606b6e074ec5d3baf39d18",
            "d0d1c8a799996bf0265b98b5d48ab919" },
        { "15", K3 + K3, Iv, P64, "",
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa" +
            "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad", "b094dac5d93471bdec1a502270e3cc6c" },
        { "16", K3 + K3, Iv, P60, Aad,
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa" +
            "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662", "76fc6ece0f4e1768cddf8853bb2d551b" },
    };

    [AesNiTheory]
    [MemberData(nameof(Vectors))]
    public void SealAndOpenMatchTheGcmSpecification(string name, string key, string iv, string plaintext, string aad,
        string ciphertext, string tag)
    {
        var k = Hex.Parse(key);
        var n = Hex.Parse(iv);
        var p = Hex.Parse(plaintext);
        var a = Hex.Parse(aad);

        using (var bcl = new AesGcm(k, 16))
        {
            var bclOut = new byte[p.Length];
            var bclTag = new byte[16];
            bcl.Encrypt(n, p, bclOut, bclTag, a);
            Assert.Equal(ciphertext, Hex.Of(bclOut));
            Assert.Equal(tag, Hex.Of(bclTag));
        }

        using var gcm = new AesNiGcm(k);
        Assert.Equal(k.Length, gcm.KeySize);
        var c = new byte[p.Length];
        var t = new byte[16];
        gcm.Encrypt(n, p, c, t, a);
        Assert.True(ciphertext == Hex.Of(c), $"test case {name}: ciphertext");
        Assert.True(tag == Hex.Of(t), $"test case {name}: tag");

        var buffer = (byte[])c.Clone();
        Assert.True(gcm.TryDecrypt(n, buffer, t, buffer, a));
        Assert.Equal(plaintext, Hex.Of(buffer));

        // In-place seal gives the same bytes.
        gcm.Encrypt(n, buffer, buffer, t, a);
        Assert.Equal(ciphertext, Hex.Of(buffer));
        Assert.Equal(tag, Hex.Of(t));
    }

    [AesNiFact]
    public void ArgumentsOutsideTheQuicProfileAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new AesNiGcm(new byte[24]));
        using var gcm = new AesNiGcm(new byte[16]);
        Assert.Throws<ArgumentException>(() => gcm.Encrypt(new byte[16], new byte[4], new byte[4], new byte[16]));
        Assert.Throws<ArgumentException>(() => gcm.Encrypt(new byte[12], new byte[4], new byte[4], new byte[12]));
        Assert.Throws<ArgumentException>(() => gcm.Encrypt(new byte[12], new byte[4], new byte[5], new byte[16]));
        var buffer = new byte[64];
        Assert.Throws<ArgumentException>(() => gcm.Encrypt(new byte[12], buffer.AsSpan(0, 32), buffer.AsSpan(8, 32), new byte[16]));
        Assert.Throws<ArgumentException>(() => gcm.TryDecrypt(new byte[12], buffer.AsSpan(0, 32), new byte[15], buffer.AsSpan(0, 32)));
    }

    [AesNiFact]
    public void DisposeZeroesTheKeyMaterialAndBlocksFurtherUse()
    {
        var gcm = new AesNiGcm(Hex.Parse(K3));
        // The pinned arrays behind the instance: GHASH key powers and AES round keys.
        const System.Reflection.BindingFlags Private = System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance;
        var powers = (System.Runtime.Intrinsics.Vector128<ulong>[])typeof(AesNiGcm).GetField("_powers", Private)!.GetValue(gcm)!;
        var cipher = (AesNiBlockCipher)typeof(AesNiGcm).GetField("_cipher", Private)!.GetValue(gcm)!;
        var roundKeys = (System.Runtime.Intrinsics.Vector128<byte>[])typeof(AesNiBlockCipher).GetField("_roundKeys", Private)!.GetValue(cipher)!;
        Assert.Equal(8, powers.Length);
        Assert.Equal(11, roundKeys.Length);
        Assert.All(powers, v => Assert.NotEqual(System.Runtime.Intrinsics.Vector128<ulong>.Zero, v));
        Assert.All(roundKeys, v => Assert.NotEqual(System.Runtime.Intrinsics.Vector128<byte>.Zero, v));

        gcm.Dispose();
        Assert.Throws<ObjectDisposedException>(() => gcm.Encrypt(new byte[12], new byte[4], new byte[4], new byte[16]));
        Assert.All(powers, v => Assert.Equal(System.Runtime.Intrinsics.Vector128<ulong>.Zero, v));
        Assert.All(roundKeys, v => Assert.Equal(System.Runtime.Intrinsics.Vector128<byte>.Zero, v));
    }
}
