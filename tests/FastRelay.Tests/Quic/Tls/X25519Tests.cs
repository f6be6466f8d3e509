using Xunit;
using FastRelay.Protocols.Quic.Tls;
using FastRelay.Protocols.Quic.Tls.Handshake;

namespace FastRelay.Tests.Quic.Tls;

/// <summary>RFC 7748 test vectors (§5.2 single and iterated, §6.1 Diffie-Hellman) and the X25519 handshake paths.</summary>
public class X25519Tests
{
    private static string Mult(string scalar, string u)
    {
        var result = new byte[32];
        X25519.ScalarMultiply(Hex.Parse(scalar), Hex.Parse(u), result);
        return Hex.Of(result);
    }

    [Theory]
    [InlineData("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
        "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552")]
    [InlineData("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
        "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
        "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957")]
    public void Rfc7748_Section5_2_Vectors(string scalar, string u, string expected) => Assert.Equal(expected, Mult(scalar, u));

    [Fact]
    public void Rfc7748_Section5_2_Iterated_1_And_1000()
    {
        var k = new byte[32];
        var u = new byte[32];
        k[0] = 9;
        u[0] = 9;
        var next = new byte[32];
        for (int i = 1; i <= 1000; i++)
        {
            X25519.ScalarMultiply(k, u, next);
            k.CopyTo(u);
            next.CopyTo(k);
            if (i == 1) Assert.Equal("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079", Hex.Of(k));
        }
        Assert.Equal("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51", Hex.Of(k));
    }

    [Fact]
    public void Rfc7748_Section6_1_DiffieHellman()
    {
        var alice = Hex.Parse("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        var bob = Hex.Parse("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        var alicePublic = new byte[32];
        var bobPublic = new byte[32];
        X25519.PublicKey(alice, alicePublic);
        X25519.PublicKey(bob, bobPublic);
        Assert.Equal("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", Hex.Of(alicePublic));
        Assert.Equal("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", Hex.Of(bobPublic));
        const string shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
        Assert.Equal(shared, Mult(Hex.Of(alice), Hex.Of(bobPublic)));
        Assert.Equal(shared, Mult(Hex.Of(bob), Hex.Of(alicePublic)));
    }

    [Fact]
    public void TopBitOfU_IsIgnored()
    {
        // §5: the most significant bit of the u-coordinate is masked.
        Assert.Equal("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
            Mult("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
                "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1ccc"));
    }

    [Fact]
    public void NonCanonicalU_IsReducedModP()
    {
        // u = p + 9 must act like the base point 9 (§5: non-canonical values are accepted and reduced).
        var scalar = Hex.Parse("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        var pPlus9 = Hex.Parse("f6ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
        var result = new byte[32];
        X25519.ScalarMultiply(scalar, pPlus9, result);
        Assert.Equal("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", Hex.Of(result));
    }

    [Fact]
    public void RandomKeyPairs_Agree()
    {
        var random = new Random(11);
        for (int i = 0; i < 50; i++)
        {
            var a = new byte[32];
            var b = new byte[32];
            random.NextBytes(a);
            random.NextBytes(b);
            var pa = new byte[32];
            var pb = new byte[32];
            X25519.PublicKey(a, pa);
            X25519.PublicKey(b, pb);
            var s1 = new byte[32];
            var s2 = new byte[32];
            X25519.ScalarMultiply(a, pb, s1);
            X25519.ScalarMultiply(b, pa, s2);
            Assert.Equal(s1, s2);
        }
    }

    [Theory]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000")] // u = 0
    [InlineData("0100000000000000000000000000000000000000000000000000000000000000")] // u = 1 (order 4)
    [InlineData("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")] // u = p - 1 (order 2)
    public void SmallOrderPeerValue_IsRefused(string u)
    {
        using var exchange = KeyExchange.Create(NamedGroup.X25519);
        Assert.Equal(32, exchange.PublicKey.Length);
        Assert.False(exchange.TryDeriveSecret(Hex.Parse(u), out _));
    }

    [Fact]
    public void KeyExchange_BothSidesDeriveTheSameSecret()
    {
        using var a = KeyExchange.Create(NamedGroup.X25519);
        using var b = KeyExchange.Create(NamedGroup.X25519);
        Assert.True(a.TryDeriveSecret(b.PublicKey.Span, out var s1));
        Assert.True(b.TryDeriveSecret(a.PublicKey.Span, out var s2));
        Assert.Equal(s1, s2);
        Assert.False(a.TryDeriveSecret(b.PublicKey.Span[..31], out _));
    }

    [Fact]
    public void Handshake_OverX25519()
    {
        using var pair = new HandshakePair(TlsOptions.Client(groups: [NamedGroup.X25519]), TlsOptions.Server());
        Assert.True(pair.Run(), $"client {pair.ClientError}, server {pair.ServerError}");
        Assert.False(pair.Client.HelloRetryRequested);
        Assert.Equal(pair.ClientSink.Secrets[EncryptionLevel.OneRtt].Write, pair.ServerSink.Secrets[EncryptionLevel.OneRtt].Read);
    }

    [Fact]
    public void Handshake_X25519ShareToP256OnlyServer_RetriesWithP256()
    {
        // What a GnuTLS client meets at a server restricted to the BCL's curves.
        using var pair = new HandshakePair(TlsOptions.Client(groups: [NamedGroup.X25519, NamedGroup.Secp256r1]),
            TlsOptions.Server(groups: [NamedGroup.Secp256r1]));
        Assert.True(pair.Run(), $"client {pair.ClientError}, server {pair.ServerError}");
        Assert.True(pair.Server.HelloRetryRequested);
        Assert.Equal(pair.ClientSink.Secrets[EncryptionLevel.OneRtt].Write, pair.ServerSink.Secrets[EncryptionLevel.OneRtt].Read);
    }

    [Fact]
    public void Handshake_ZeroX25519Share_IllegalParameter()
    {
        using var pair = new HandshakePair(TlsOptions.Client(groups: [NamedGroup.X25519]), TlsOptions.Server())
        {
            Tamper = (toServer, level, data) =>
            {
                if (!toServer || level != EncryptionLevel.Initial) return data;
                Assert.True(FastRelay.Protocols.Quic.Tls.Messages.ClientHello.TryRead(Flight.Body(data, TlsHandshakeType.ClientHello), out var ch, out _));
                ch.Extensions.KeyShares = [new KeyShareEntry(NamedGroup.X25519, new byte[32])];
                return Flight.Replace(data, TlsHandshakeType.ClientHello, Flight.Encode(b => ch.Write(b)));
            },
        };
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.IllegalParameter), (ulong)pair.ServerError.Code);
    }
}
