using Xunit;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Tls;

namespace FastRelay.Tests.Quic.Tls;

/// <summary>
/// Key schedule (RFC 8446 §7.1). Constants: the zero-PSK early secret and its "derived" salt are deterministic; the
/// RFC 8448 §3 values (ECDHE → handshake secret, CH..SH hash → handshake traffic secrets, master secret) are quoted from
/// RFC 8448 (not in /work/shared/specs) and were re-derived with an independent Python hmac/hashlib HKDF. The
/// "synthetic" values use the transcript hash 00 01 02 .. (Hash.length-1) and come from that same Python script.
/// </summary>
public class TlsKeyScheduleTests
{
    private static byte[] Synthetic(int n) => Enumerable.Range(0, n).Select(i => (byte)i).ToArray();
    private static readonly byte[] Rfc8448Ecdhe = Hex.Parse("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d");

    [Fact]
    public void EarlySecretAndDerivedSaltSha256()
    {
        var ks = new TlsKeySchedule(CipherSuite.Aes128GcmSha256);
        Assert.Equal("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a", Hex.Of(ks.EarlySecret));
        Assert.Equal("6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba", Hex.Of(ks.DerivedFromEarly()));
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Hex.Of(TlsKeySchedule.EmptyHash(ks.Hash)));
        // ChaCha20-Poly1305 uses SHA-256 too: same schedule.
        Assert.Equal(ks.EarlySecret, new TlsKeySchedule(CipherSuite.ChaCha20Poly1305Sha256).EarlySecret);
    }

    [Fact]
    public void Rfc8448SimpleHandshakeSecrets()
    {
        var ks = new TlsKeySchedule(CipherSuite.Aes128GcmSha256);
        Assert.Equal("1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac", Hex.Of(ks.DeriveHandshakeSecret(Rfc8448Ecdhe)));
        var helloHash = Hex.Parse("860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8");
        Assert.Equal("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21", Hex.Of(ks.ClientHandshakeTrafficSecret(helloHash)));
        Assert.Equal("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38", Hex.Of(ks.ServerHandshakeTrafficSecret(helloHash)));
        Assert.Equal("18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919", Hex.Of(ks.DeriveMasterSecret()));
    }

    [Fact]
    public void SyntheticTranscriptSha256()
    {
        var ks = new TlsKeySchedule(CipherSuite.Aes128GcmSha256);
        ks.DeriveHandshakeSecret(Rfc8448Ecdhe);
        var th = Synthetic(32);
        var chs = ks.ClientHandshakeTrafficSecret(th);
        Assert.Equal("e346d92d1d7d4dd514452aec51595bb7b22b322b579db08bbc63b555c595b5ce", Hex.Of(chs));
        Assert.Equal("bfba9a8ec1851f07aba05c6ab42fd4ab31604f0a592afa7a9f4a1e8fd846d394", Hex.Of(ks.ServerHandshakeTrafficSecret(th)));
        ks.DeriveMasterSecret();
        var cap = ks.ClientApplicationTrafficSecret(th);
        Assert.Equal("b3f60a5883a89e29311c67189b350f7678284831ca5d0f68da30ec41e986bacf", Hex.Of(cap));
        Assert.Equal("9cf231bdabd21226bca7130d305f752fbb9364547bd54c7374fe3a997dfb6a85", Hex.Of(ks.ServerApplicationTrafficSecret(th)));
        Assert.Equal("9e24dca1dfc399de645ac90556a5936fbb6bf7306b223305b71ba61258cbb05f", Hex.Of(ks.ComputeVerifyData(chs, th)));
        Assert.Equal("8bff0a78b368b384f6a12e9ba70df6776c5d5a3707fefe16106e111d53bb1709", Hex.Of(ks.NextApplicationTrafficSecret(cap)));
    }

    [Fact]
    public void SyntheticTranscriptSha384()
    {
        var ks = new TlsKeySchedule(CipherSuite.Aes256GcmSha384);
        Assert.Equal(48, ks.HashLength);
        Assert.Equal("7ee8206f5570023e6dc7519eb1073bc4e791ad37b5c382aa10ba18e2357e716971f9362f2c2fe2a76bfd78dfec4ea9b5", Hex.Of(ks.EarlySecret));
        Assert.Equal("1591dac5cbbf0330a4a84de9c753330e92d01f0a88214b4464972fd668049e93e52f2b16fad922fdc0584478428f282b", Hex.Of(ks.DerivedFromEarly()));
        Assert.Equal("984e65f4ea6ac0dece14762ac3752b71867a045c60d3fe7808b31949d2ce27d3142e6da6d92a68437f77c26509ce0b2b", Hex.Of(ks.DeriveHandshakeSecret(Rfc8448Ecdhe)));
        var th = Synthetic(48);
        var chs = ks.ClientHandshakeTrafficSecret(th);
        Assert.Equal("f694d59708b79b9cccd2a5d194e8975889c75ee31d46a520e4990ed018f110c020abfecf54aed29952a2a9dbcb55417e", Hex.Of(chs));
        Assert.Equal("173b455116aa5c3f714615039a0487c59c91466c7ee2ce7980db1d0901a7deb3abf7880decc0cda6853e0153a51b8e9f", Hex.Of(ks.ServerHandshakeTrafficSecret(th)));
        Assert.Equal("2915f95014de3957dad1c2764430fa490ffbe027a09be69e4da30a27969b40081308dbd17cb65a35332215cfc8cf4a2f", Hex.Of(ks.DeriveMasterSecret()));
        var cap = ks.ClientApplicationTrafficSecret(th);
        Assert.Equal("26ab3dce2de9ae867753ba809287e07fa7a8a24a7101479c0d2b7165df513bc7073cd8030fc36ac98a83d301148ff896", Hex.Of(cap));
        Assert.Equal("b1bc4ff50d4f7ccb6b877f1739c987276eb6feea680b5c777450a7233b37036accf91a24462da45123fbac6356631f6a", Hex.Of(ks.ServerApplicationTrafficSecret(th)));
        Assert.Equal("f55246619c02de9dd1e3d6ab7dc5ec176f175034ceeb4ccfedad3b76e7ec09207f391042eb71e132c00dd74c15b106ac", Hex.Of(ks.ComputeVerifyData(chs, th)));
        Assert.Equal("b53361be1abcbd23ef91fb0b192b70c6b294c11bfdc5a4fc5f009c0b977c6bf494ddd8d0f477cc3260ca913cea34b04e", Hex.Of(ks.NextApplicationTrafficSecret(cap)));
    }

    [Theory]
    [InlineData(CipherSuite.Aes128GcmSha256)]
    [InlineData(CipherSuite.Aes256GcmSha384)]
    [InlineData(CipherSuite.ChaCha20Poly1305Sha256)]
    public void SelfConsistency(CipherSuite suite)
    {
        var client = new TlsKeySchedule(suite);
        var server = new TlsKeySchedule(suite);
        var shared = new byte[32];
        new Random(1).NextBytes(shared);
        Assert.Equal(client.DeriveHandshakeSecret(shared), server.DeriveHandshakeSecret(shared));
        var th = Synthetic(client.HashLength);
        var chs = client.ClientHandshakeTrafficSecret(th);
        var shs = client.ServerHandshakeTrafficSecret(th);
        Assert.NotEqual(chs, shs);
        Assert.Equal(client.HashLength, chs.Length);

        // Finished: verify accepts the computed value, rejects a flipped bit, a wrong key, another transcript, a short value.
        var verify = server.ComputeVerifyData(shs, th);
        Assert.True(client.VerifyFinished(shs, th, verify));
        verify[0] ^= 1;
        Assert.False(client.VerifyFinished(shs, th, verify));
        verify[0] ^= 1;
        Assert.False(client.VerifyFinished(chs, th, verify));
        Assert.False(client.VerifyFinished(shs, Synthetic(client.HashLength).Reverse().ToArray(), verify));
        Assert.False(client.VerifyFinished(shs, th, verify.AsSpan(1)));

        Assert.Equal(client.DeriveMasterSecret(), server.DeriveMasterSecret());
        var cap = client.ClientApplicationTrafficSecret(th);
        var next = client.NextApplicationTrafficSecret(cap);
        Assert.NotEqual(cap, next);
        Assert.Equal(next, server.NextApplicationTrafficSecret(server.ClientApplicationTrafficSecret(th)));

        // A PSK changes everything from the early secret on.
        Assert.NotEqual(client.EarlySecret, new TlsKeySchedule(suite, shared).EarlySecret);
    }

    [Fact]
    public void StagesAreOrdered()
    {
        var ks = new TlsKeySchedule(CipherSuite.Aes128GcmSha256);
        Assert.Throws<InvalidOperationException>(() => ks.ClientHandshakeTrafficSecret(new byte[32]));
        Assert.Throws<InvalidOperationException>(() => ks.DeriveMasterSecret());
        ks.DeriveHandshakeSecret(new byte[32]);
        Assert.Throws<InvalidOperationException>(() => ks.DeriveHandshakeSecret(new byte[32]));
        Assert.Throws<InvalidOperationException>(() => ks.ClientApplicationTrafficSecret(new byte[32]));
        Assert.Throws<ArgumentException>(() => ks.ClientHandshakeTrafficSecret(new byte[48]));
    }

    [Fact]
    public void HandshakeTrafficSecretFeedsQuicPacketKeys()
    {
        // The traffic secrets plug into the RFC 9001 derivation unchanged ("quic key" etc.).
        var ks = new TlsKeySchedule(CipherSuite.Aes128GcmSha256);
        ks.DeriveHandshakeSecret(Rfc8448Ecdhe);
        var secret = ks.ClientHandshakeTrafficSecret(Synthetic(32));
        var key = HkdfLabel.ExpandLabel(ks.Hash, secret, "quic key", ReadOnlySpan<byte>.Empty, 16);
        Assert.Equal(16, key.Length);
        Assert.NotEqual(key, HkdfLabel.ExpandLabel(ks.Hash, secret, "key", ReadOnlySpan<byte>.Empty, 16));
    }
}
