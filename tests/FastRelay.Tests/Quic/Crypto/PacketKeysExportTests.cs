using System.Security.Cryptography;
using FastRelay.Protocols.Quic.Crypto;
using Xunit;

namespace FastRelay.Tests.Quic.Crypto;

/// <summary>
/// <see cref="PacketKeys.ExportKeys"/>, the one way raw keys leave the stack (to the kernel's sealed slots, issue 16): an
/// export only reads the generation, so a second one (a connection put on a sealed slot again, or a slot's keys written
/// again) gives the very keys the stack seals with; a retired (disposed) generation, whose secret and header protection
/// key are zeroed, refuses instead of exporting keys derived from zeros.
/// </summary>
public sealed class PacketKeysExportTests
{
    private static (byte[] Key, byte[] Iv, byte[] Hp) Export(PacketKeys keys)
    {
        var exported = (new byte[keys.Suite.KeyLength()], new byte[CipherSuiteInfo.IvLength], new byte[keys.Suite.HeaderProtectionKeyLength()]);
        keys.ExportKeys(exported.Item1, exported.Item2, exported.Item3);
        return exported;
    }

    private static string Hex((byte[] Key, byte[] Iv, byte[] Hp) e) => $"{Convert.ToHexString(e.Key)}/{Convert.ToHexString(e.Iv)}/{Convert.ToHexString(e.Hp)}";

    /// <summary>What a receiver with the exported key and IV makes of a payload: ciphertext and tag, to compare with the stack's seal.</summary>
    private static byte[] Seal(PacketAead aead, ulong packetNumber)
    {
        var payload = new byte[64 + 16];
        for (int i = 0; i < 64; i++) payload[i] = (byte)i;
        aead.Seal(packetNumber, [0x43, 1, 2, 3], payload.AsSpan(0, 64), payload.AsSpan(64));
        return payload;
    }

    private static byte[] Mask(HeaderProtection hp)
    {
        var mask = new byte[HeaderProtection.MaskLength];
        hp.GetMask(Enumerable.Range(0, HeaderProtection.SampleLength).Select(i => (byte)(i * 3)).ToArray(), mask);
        return mask;
    }

    [Theory]
    [InlineData(CipherSuite.Aes128GcmSha256)]
    [InlineData(CipherSuite.Aes256GcmSha384)]
    public void A_second_export_gives_the_same_keys_the_stack_seals_with_in_every_generation(CipherSuite suite)
    {
        using var first = PacketKeys.FromSecret(suite, RandomNumberGenerator.GetBytes(suite.HashLength()));
        using var second = first.DeriveNextGeneration();
        foreach (var keys in new[] { first, second })
        {
            var a = Export(keys);
            var b = Export(keys);
            Assert.Equal(Hex(a), Hex(b));
            // And they are the keys: an AEAD and a header protection built from the exported bytes match the generation's own.
            using var aead = new PacketAead(suite, a.Key, a.Iv);
            Assert.Equal(Seal(keys.Aead, 7), Seal(aead, 7));
            using var hp = HeaderProtection.Create(suite, a.Hp);
            Assert.Equal(Mask(keys.HeaderProtection), Mask(hp));
            // A third export after the keys were used: still the same.
            Assert.Equal(Hex(a), Hex(Export(keys)));
        }
        // A key update changes the AEAD, never the header protection key (RFC 9001 §6.1).
        Assert.NotEqual(Export(first).Key, Export(second).Key);
        Assert.Equal(Export(first).Hp, Export(second).Hp);
    }

    [Fact]
    public void A_retired_generation_refuses_to_export_and_its_successor_still_exports()
    {
        var suite = CipherSuite.Aes128GcmSha256;
        var first = PacketKeys.FromSecret(suite, RandomNumberGenerator.GetBytes(suite.HashLength()));
        using var second = first.DeriveNextGeneration();
        var before = Export(second);
        first.Dispose();
        Assert.Throws<ObjectDisposedException>(() => Export(first));
        // The successor holds its own copy of the header protection key: retiring the first generation does not zero it.
        Assert.Equal(Hex(before), Hex(Export(second)));
        Assert.Throws<ArgumentException>(() => second.ExportKeys(new byte[32], new byte[12], new byte[16]));
    }
}
