using Xunit;
using FastRelay.Protocols.Quic.Crypto;
using BclAes = System.Security.Cryptography.Aes;
using System.Security.Cryptography;

namespace FastRelay.Tests.Quic.Crypto;

public class AesNiBlockCipherTests
{
    // FIPS-197 Appendix C: plaintext 00112233..ff, key 000102..(Nk*4 - 1).
    [AesNiTheory]
    [InlineData("000102030405060708090a0b0c0d0e0f", "69c4e0d86a7b0430d8cdb78070b4c55a")]
    [InlineData("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "8ea2b7ca516745bfeafc49904b496089")]
    public void Fips197AppendixC(string key, string expected)
    {
        using var aes = new AesNiBlockCipher(Hex.Parse(key));
        var block = Hex.Parse("00112233445566778899aabbccddeeff");
        var output = new byte[16];
        aes.EncryptBlock(block, output);
        Assert.Equal(expected, Hex.Of(output));
        aes.EncryptBlock(block, block); // in place
        Assert.Equal(expected, Hex.Of(block));
        Assert.Equal(key.Length == 32 ? 10 : 14, aes.Rounds);
    }

    // FIPS-197 Appendix B (the worked AES-128 example) and the SP 800-38A F.1.1/F.1.5 ECB vectors (4 blocks through
    // the 4-wide path).
    [AesNiFact]
    public void Fips197AppendixBAndSp80038aEcb()
    {
        using (var aes = new AesNiBlockCipher(Hex.Parse("2b7e151628aed2a6abf7158809cf4f3c")))
        {
            var output = new byte[16];
            aes.EncryptBlock(Hex.Parse("3243f6a8885a308d313198a2e0370734"), output);
            Assert.Equal("3925841d02dc09fbdc118597196a0b32", Hex.Of(output));
        }
        var plaintext = Hex.Parse("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51" +
                                  "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710");
        using (var aes128 = new AesNiBlockCipher(Hex.Parse("2b7e151628aed2a6abf7158809cf4f3c")))
        {
            var output = new byte[64];
            aes128.EncryptEcb(plaintext, output);
            Assert.Equal("3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf" +
                         "43b1cd7f598ece23881b00e3ed0306887b0c785e27e8ad3f8223207104725dd4", Hex.Of(output));
        }
        using (var aes256 = new AesNiBlockCipher(Hex.Parse("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")))
        {
            var output = new byte[64];
            aes256.EncryptEcb(plaintext, output);
            Assert.Equal("f3eed1bdb5d2a03c064b5a7e3db181f8591ccb10d410ed26dc5ba74a31362870" +
                         "b6ed21b99ca6f4f9f153e7b1beafed1d23304b7a39f9f3ff067d8d8f9e24ecc7", Hex.Of(output));
        }
    }

    [AesNiFact]
    public void MatchesBclEcbForRandomKeysAndLengths()
    {
        var random = new Random(197);
        for (int i = 0; i < 2000; i++)
        {
            var key = new byte[i % 2 == 0 ? 16 : 32];
            random.NextBytes(key);
            var input = new byte[16 * random.Next(0, 12)];
            random.NextBytes(input);
            using var bcl = BclAes.Create();
            bcl.Key = key;
            var expected = bcl.EncryptEcb(input, PaddingMode.None);
            using var aes = new AesNiBlockCipher(key);
            var output = new byte[input.Length];
            aes.EncryptEcb(input, output);
            Assert.Equal(expected, output);
            aes.EncryptEcb(input, input); // in place
            Assert.Equal(expected, input);
        }
    }

    [AesNiFact]
    public void RejectsBadKeysAndLengthsAndUseAfterDispose()
    {
        Assert.Throws<ArgumentException>(() => new AesNiBlockCipher(new byte[24]));
        Assert.Throws<ArgumentException>(() => new AesNiBlockCipher(new byte[15]));
        var aes = new AesNiBlockCipher(new byte[16]);
        Assert.Throws<ArgumentException>(() => aes.EncryptEcb(new byte[17], new byte[32]));
        Assert.Throws<ArgumentException>(() => aes.EncryptEcb(new byte[32], new byte[16]));
        Assert.Throws<ArgumentException>(() => aes.EncryptBlock(new byte[15], new byte[16]));
        var buffer = new byte[48];
        Assert.Throws<ArgumentException>(() => aes.EncryptEcb(buffer.AsSpan(0, 32), buffer.AsSpan(16, 32)));
        aes.Dispose();
        Assert.Throws<ObjectDisposedException>(() => aes.EncryptBlock(new byte[16], new byte[16]));
    }
}
