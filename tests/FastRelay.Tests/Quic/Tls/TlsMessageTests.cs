using Xunit;
using System.Text;
using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Tls;
using FastRelay.Protocols.Quic.Tls.Messages;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Tests.Quic.Tls;

public class TlsMessageTests
{
    private static byte[] Bytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static byte[] P256Point(int seed)
    {
        var p = Bytes(65, seed);
        p[0] = 4;
        return p;
    }

    private static byte[] TransportParams()
    {
        var tp = new TransportParameters
        {
            InitialMaxData = 1 << 20,
            InitialMaxStreamsBidi = 100,
            InitialSourceConnectionId = new ConnectionId(Bytes(8, 9)),
        };
        return tp.Encode();
    }

    internal static ClientHello SampleClientHello() => new()
    {
        Random = Bytes(32, 1),
        CipherSuites = [0x1301, 0x1302, 0x1303],
        Extensions = new TlsExtensions
        {
            ServerName = Encoding.ASCII.GetBytes("relay.example"),
            SupportedVersions = [TlsExtensions.Tls13],
            SupportedGroups = [NamedGroup.X25519, NamedGroup.Secp256r1],
            SignatureAlgorithms = [SignatureScheme.EcdsaSecp256r1Sha256, SignatureScheme.RsaPssRsaeSha256, SignatureScheme.Ed25519],
            KeyShares = [new KeyShareEntry(NamedGroup.X25519, Bytes(32, 2)), new KeyShareEntry(NamedGroup.Secp256r1, P256Point(3))],
            Alpn = [Encoding.ASCII.GetBytes("h3"), Encoding.ASCII.GetBytes("moq-00")],
            QuicTransportParameters = TransportParams(),
            PskKeyExchangeModes = new byte[] { 1 },
        },
    };

    private delegate int SpanWriter(Span<byte> destination);

    private static byte[] Encode(SpanWriter write)
    {
        var buffer = new byte[4096];
        return buffer.AsSpan(0, write(buffer)).ToArray();
    }

    private static ReadOnlyMemory<byte> Body(byte[] message, TlsHandshakeType expected)
    {
        Assert.True(HandshakeMessage.TryRead(message, out var type, out var body, out int consumed, out var alert));
        Assert.Equal(TlsAlert.None, alert);
        Assert.Equal(expected, type);
        Assert.Equal(message.Length, consumed);
        return body;
    }

    [Fact]
    public void ClientHelloRoundTrip()
    {
        var hello = SampleClientHello();
        var bytes = Encode(hello.Write);
        Assert.Equal((byte)TlsHandshakeType.ClientHello, bytes[0]);
        Assert.True(ClientHello.TryRead(Body(bytes, TlsHandshakeType.ClientHello), out var decoded, out var alert), alert.ToString());
        Assert.Equal(hello.Random.ToArray(), decoded.Random.ToArray());
        Assert.Equal(hello.CipherSuites, decoded.CipherSuites);
        Assert.True(decoded.Offers(CipherSuite.ChaCha20Poly1305Sha256));
        var e = decoded.Extensions;
        Assert.Equal("relay.example", Encoding.ASCII.GetString(e.ServerName!.Value.Span));
        Assert.Equal(new ushort[] { 0x0304 }, e.SupportedVersions);
        Assert.Equal(hello.Extensions.SupportedGroups, e.SupportedGroups);
        Assert.Equal(hello.Extensions.SignatureAlgorithms, e.SignatureAlgorithms);
        Assert.Equal(2, e.KeyShares!.Length);
        Assert.Equal(NamedGroup.Secp256r1, e.KeyShares[1].Group);
        Assert.Equal(P256Point(3), e.KeyShares[1].KeyExchange.ToArray());
        Assert.Equal(new[] { "h3", "moq-00" }, e.Alpn!.Select(a => Encoding.ASCII.GetString(a.Span)));
        Assert.Equal(new byte[] { 1 }, e.PskKeyExchangeModes!.Value.ToArray());
        Assert.True(e.TryGetTransportParameters(QuicPerspective.Client, out var tp, out var tpAlert, out _), tpAlert.ToString());
        Assert.Equal(1UL << 20, tp!.InitialMaxData);
        Assert.Equal(100UL, tp.InitialMaxStreamsBidi);
        // Re-encoding the decoded message gives the same bytes (deterministic order).
        Assert.Equal(bytes, Encode(decoded.Write));
    }

    [Fact]
    public void ServerHelloAndHelloRetryRequest()
    {
        var sh = new ServerHello
        {
            Random = Bytes(32, 4),
            CipherSuite = CipherSuite.Aes256GcmSha384,
            Extensions = new TlsExtensions { SelectedVersion = 0x0304, ServerShare = new KeyShareEntry(NamedGroup.X25519, Bytes(32, 5)) },
        };
        var bytes = Encode(sh.Write);
        Assert.True(ServerHello.TryRead(Body(bytes, TlsHandshakeType.ServerHello), out var decoded, out var alert), alert.ToString());
        Assert.False(decoded.IsHelloRetryRequest);
        Assert.Equal(CipherSuite.Aes256GcmSha384, decoded.CipherSuite);
        Assert.Equal((ushort)0x0304, decoded.Extensions.SelectedVersion);
        Assert.Equal(Bytes(32, 5), decoded.Extensions.ServerShare!.Value.KeyExchange.ToArray());
        Assert.Equal(bytes, Encode(decoded.Write));

        var hrr = new ServerHello
        {
            CipherSuite = CipherSuite.Aes128GcmSha256,
            Extensions = new TlsExtensions { SelectedVersion = 0x0304, SelectedGroup = NamedGroup.Secp256r1, Cookie = Bytes(20, 6) },
        };
        hrr.SetHelloRetryRequest();
        bytes = Encode(hrr.Write);
        Assert.True(ServerHello.TryRead(Body(bytes, TlsHandshakeType.ServerHello), out decoded, out alert), alert.ToString());
        Assert.True(decoded.IsHelloRetryRequest);
        Assert.Equal(NamedGroup.Secp256r1, decoded.Extensions.SelectedGroup);
        Assert.Null(decoded.Extensions.ServerShare);
        Assert.Equal(Bytes(20, 6), decoded.Extensions.Cookie!.Value.ToArray());
        Assert.Equal(bytes, Encode(decoded.Write));
        // The special random is SHA-256("HelloRetryRequest").
        Assert.Equal(System.Security.Cryptography.SHA256.HashData("HelloRetryRequest"u8), ServerHello.HelloRetryRequestRandom.ToArray());
    }

    [Fact]
    public void EncryptedExtensionsRoundTrip()
    {
        var ee = new EncryptedExtensions
        {
            Extensions = new TlsExtensions
            {
                ServerNameAcknowledged = true,
                Alpn = [Encoding.ASCII.GetBytes("h3")],
                SupportedGroups = [NamedGroup.X25519],
                EarlyData = true,
                QuicTransportParameters = TransportParams(),
            },
        };
        var bytes = Encode(ee.Write);
        Assert.True(EncryptedExtensions.TryRead(Body(bytes, TlsHandshakeType.EncryptedExtensions), out var decoded, out var alert), alert.ToString());
        var e = decoded.Extensions;
        Assert.True(e.ServerNameAcknowledged);
        Assert.True(e.EarlyData);
        Assert.Equal("h3", Encoding.ASCII.GetString(e.Alpn!.Single().Span));
        Assert.Equal(TransportParams(), e.QuicTransportParameters!.Value.ToArray());
        Assert.Equal(bytes, Encode(decoded.Write));

        Assert.True(EncryptedExtensions.TryRead(Body(Encode(new EncryptedExtensions().Write), TlsHandshakeType.EncryptedExtensions), out decoded, out _));
        Assert.False(decoded.Extensions.TryGetTransportParameters(QuicPerspective.Server, out _, out alert, out _));
        Assert.Equal(TlsAlert.MissingExtension, alert);
    }

    [Fact]
    public void CertificateCertificateVerifyFinishedKeyUpdate()
    {
        var cert = new Certificate { Entries = [new CertificateEntry(Bytes(700, 7), default), new CertificateEntry(Bytes(300, 8), new byte[] { 0, 5, 0, 0 })] };
        var bytes = Encode(cert.Write);
        Assert.True(Certificate.TryRead(Body(bytes, TlsHandshakeType.Certificate), out var c, out var alert), alert.ToString());
        Assert.Equal(2, c.Entries.Length);
        Assert.Equal(Bytes(700, 7), c.Entries[0].Data.ToArray());
        Assert.Equal(new byte[] { 0, 5, 0, 0 }, c.Entries[1].Extensions.ToArray());
        Assert.Equal(bytes, Encode(c.Write));

        var cv = new CertificateVerify { Algorithm = SignatureScheme.EcdsaSecp256r1Sha256, Signature = Bytes(71, 9) };
        bytes = Encode(cv.Write);
        Assert.True(CertificateVerify.TryRead(Body(bytes, TlsHandshakeType.CertificateVerify), out var v, out alert));
        Assert.Equal(SignatureScheme.EcdsaSecp256r1Sha256, v.Algorithm);
        Assert.Equal(Bytes(71, 9), v.Signature.ToArray());
        var content = CertificateVerify.BuildSignedContent(true, new byte[32]);
        Assert.Equal(64 + 33 + 1 + 32, content.Length);
        Assert.Equal("TLS 1.3, server CertificateVerify", Encoding.ASCII.GetString(content, 64, 33));

        var fin = new Finished { VerifyData = Bytes(48, 10) };
        bytes = Encode(fin.Write);
        Assert.True(Finished.TryRead(Body(bytes, TlsHandshakeType.Finished), 48, out var f, out _));
        Assert.Equal(Bytes(48, 10), f.VerifyData.ToArray());
        Assert.False(Finished.TryRead(Body(bytes, TlsHandshakeType.Finished), 32, out _, out alert));
        Assert.Equal(TlsAlert.DecodeError, alert);

        bytes = Encode(new KeyUpdate(true).Write);
        Assert.True(KeyUpdate.TryRead(Body(bytes, TlsHandshakeType.KeyUpdate).Span, out var ku, out _));
        Assert.True(ku.UpdateRequested);
        Assert.False(KeyUpdate.TryRead(new byte[] { 2 }, out _, out alert));
        Assert.Equal(TlsAlert.IllegalParameter, alert);
        Assert.False(KeyUpdate.TryRead(new byte[] { 0, 0 }, out _, out alert));
        Assert.Equal(TlsAlert.DecodeError, alert);
    }

    [Fact]
    public void NewSessionTicketDecode()
    {
        // lifetime 7200, age_add, nonce (1 byte), ticket (4 bytes), early_data max 0xffffffff, one unknown extension (ignored).
        var body = Hex.Parse("00001c20 01020304 01 00 0004 aabbccdd 000c 002a 0004 ffffffff 7a7a 0000");
        Assert.True(NewSessionTicket.TryRead(body, out var t, out var alert), alert.ToString());
        Assert.Equal(7200u, t.LifetimeSeconds);
        Assert.Equal(0x01020304u, t.AgeAdd);
        Assert.Equal(new byte[] { 0 }, t.Nonce.ToArray());
        Assert.Equal(Hex.Parse("aabbccdd"), t.Ticket.ToArray());
        Assert.Equal(0xffffffffu, t.Extensions.MaxEarlyDataSize);

        var tooLong = (byte[])body.Clone();
        tooLong[0] = 0x01; // lifetime > 7 days
        Assert.False(NewSessionTicket.TryRead(tooLong, out _, out alert));
        Assert.Equal(TlsAlert.IllegalParameter, alert);
        Assert.False(NewSessionTicket.TryRead(Hex.Parse("00001c20 01020304 00 0000 0000"), out _, out alert)); // empty ticket
        Assert.Equal(TlsAlert.DecodeError, alert);
    }

    [Fact]
    public void HandshakeFramingSplitsAndWaits()
    {
        var a = Encode(new KeyUpdate(false).Write);
        var b = Encode(new Finished { VerifyData = Bytes(32, 11) }.Write);
        var both = a.Concat(b).ToArray();
        Assert.True(HandshakeMessage.TryRead(both, out var type, out _, out int consumed, out _));
        Assert.Equal(TlsHandshakeType.KeyUpdate, type);
        Assert.True(HandshakeMessage.TryRead(both.AsMemory(consumed), out type, out var body, out _, out _));
        Assert.Equal(TlsHandshakeType.Finished, type);
        Assert.Equal(32, body.Length);
        for (int i = 0; i < b.Length; i++)
        {
            Assert.False(HandshakeMessage.TryRead(b.AsMemory(0, i), out _, out _, out _, out var alert));
            Assert.Equal(TlsAlert.None, alert); // incomplete: wait for more CRYPTO data
        }
        Assert.False(HandshakeMessage.TryRead(Hex.Parse("0bffffff"), out _, out _, out _, out var overflow));
        Assert.Equal(TlsAlert.RecordOverflow, overflow);
    }

    private delegate bool Decoder(ReadOnlyMemory<byte> body, out TlsAlert alert);

    private static IEnumerable<(string Name, byte[] Body, Decoder Decode)> AllMessages()
    {
        Decoder ch = (ReadOnlyMemory<byte> b, out TlsAlert a) => ClientHello.TryRead(b, out _, out a);
        Decoder sh = (ReadOnlyMemory<byte> b, out TlsAlert a) => ServerHello.TryRead(b, out _, out a);
        Decoder ee = (ReadOnlyMemory<byte> b, out TlsAlert a) => EncryptedExtensions.TryRead(b, out _, out a);
        Decoder ct = (ReadOnlyMemory<byte> b, out TlsAlert a) => Certificate.TryRead(b, out _, out a);
        Decoder cv = (ReadOnlyMemory<byte> b, out TlsAlert a) => CertificateVerify.TryRead(b, out _, out a);
        Decoder st = (ReadOnlyMemory<byte> b, out TlsAlert a) => NewSessionTicket.TryRead(b, out _, out a);
        yield return ("ClientHello", Encode(SampleClientHello().Write)[4..], ch);
        var sh1 = new ServerHello { Random = Bytes(32, 4), Extensions = new TlsExtensions { SelectedVersion = 0x0304, ServerShare = new KeyShareEntry(NamedGroup.Secp256r1, P256Point(12)) } };
        yield return ("ServerHello", Encode(sh1.Write)[4..], sh);
        var ee1 = new EncryptedExtensions { Extensions = new TlsExtensions { Alpn = [new byte[] { 0x68, 0x33 }], QuicTransportParameters = TransportParams() } };
        yield return ("EncryptedExtensions", Encode(ee1.Write)[4..], ee);
        yield return ("Certificate", Encode(new Certificate { Entries = [new CertificateEntry(Bytes(40, 13), default)] }.Write)[4..], ct);
        yield return ("CertificateVerify", Encode(new CertificateVerify { Algorithm = SignatureScheme.Ed25519, Signature = Bytes(64, 14) }.Write)[4..], cv);
        yield return ("NewSessionTicket", Hex.Parse("00001c20 01020304 01 00 0004 aabbccdd 0008 002a 0004 ffffffff"), st);
    }

    [Fact]
    public void EveryTruncationIsDecodeError()
    {
        foreach (var (name, body, decode) in AllMessages())
        {
            Assert.True(decode(body, out var ok), $"{name}: {ok}");
            for (int i = 0; i < body.Length; i++)
            {
                Assert.False(decode(body.AsMemory(0, i), out var alert), $"{name} truncated to {i}");
                Assert.Equal(TlsAlert.DecodeError, alert);
            }
            // A trailing byte is also a decode error.
            Assert.False(decode(body.Append((byte)0).ToArray(), out var trailing), $"{name} + trailing byte");
            Assert.Equal(TlsAlert.DecodeError, trailing);
        }
    }

    [Fact]
    public void RandomMutationsNeverThrow()
    {
        var random = new Random(42);
        var messages = AllMessages().ToList();
        for (int i = 0; i < 20000; i++)
        {
            var (_, original, decode) = messages[i % messages.Count];
            var body = (byte[])original.Clone();
            int flips = 1 + random.Next(4);
            for (int f = 0; f < flips; f++) body[random.Next(body.Length)] = (byte)random.Next(256);
            bool ok = decode(body, out var alert);
            Assert.True(ok == (alert == TlsAlert.None));
        }
        for (int i = 0; i < 20000; i++)
        {
            var body = Bytes(random.Next(0, 200), i);
            foreach (var (_, _, decode) in messages)
            {
                bool ok = decode(body, out var alert);
                Assert.True(ok == (alert == TlsAlert.None));
            }
            HandshakeMessage.TryRead(body, out _, out _, out _, out _);
        }
    }

    /// <summary>Builds a ClientHello body with a raw extensions block.</summary>
    private static byte[] ClientHelloWith(string extensionsHex, string compression = "0100")
    {
        var ext = Hex.Parse(extensionsHex);
        return Hex.Parse("0303").Concat(new byte[32]).Concat(Hex.Parse("00 0002 1301" + compression))
            .Concat(new[] { (byte)(ext.Length >> 8), (byte)ext.Length }).Concat(ext).ToArray();
    }

    [Theory]
    [InlineData("", "0101", TlsAlert.IllegalParameter)]                              // compression method 1
    [InlineData("", "020000", TlsAlert.IllegalParameter)]                            // two compression methods
    [InlineData("002b000302 0304 002b000302 0304", "0100", TlsAlert.IllegalParameter)] // duplicate supported_versions
    [InlineData("7a7a0000 7a7a0000", "0100", TlsAlert.IllegalParameter)]             // duplicate unknown extension
    [InlineData("0029000100 002b00030203 04", "0100", TlsAlert.IllegalParameter)]    // pre_shared_key not last
    [InlineData("0033000700050017000104", "0100", TlsAlert.IllegalParameter)]        // P-256 share of 1 byte
    [InlineData("00330026 0024 001d0020" + "0000000000000000000000000000000000000000000000000000000000000000" + "", "0100", TlsAlert.None)]
    [InlineData("0033004a 0048 001d0020" + "0000000000000000000000000000000000000000000000000000000000000000"
        + "001d0020" + "0000000000000000000000000000000000000000000000000000000000000000", "0100", TlsAlert.IllegalParameter)] // same group twice
    [InlineData("002b000203", "0100", TlsAlert.DecodeError)]                         // odd versions length
    [InlineData("000d0004000204", "0100", TlsAlert.DecodeError)]                     // sigalgs list overruns
    [InlineData("0010000400020000", "0100", TlsAlert.DecodeError)]                   // empty ALPN name
    [InlineData("7a7a0000", "0100", TlsAlert.None)]                                  // unknown extension ignored
    public void ClientHelloViolations(string extensions, string compression, TlsAlert expected)
    {
        bool ok = ClientHello.TryRead(ClientHelloWith(extensions, compression), out _, out var alert);
        Assert.Equal(expected == TlsAlert.None, ok);
        Assert.Equal(expected, alert);
    }

    [Theory]
    [InlineData("7a7a0000", TlsAlert.UnsupportedExtension)]       // unknown extension in EE
    [InlineData("000d000400020403", TlsAlert.IllegalParameter)]   // signature_algorithms not allowed in EE
    [InlineData("002b00020304", TlsAlert.IllegalParameter)]       // supported_versions not allowed in EE
    [InlineData("0010 0008 0006 026833 026834", TlsAlert.IllegalParameter)] // two ALPN protocols from the server
    [InlineData("0000000100", TlsAlert.DecodeError)]              // non-empty server_name from the server
    [InlineData("00390000", TlsAlert.None)]                       // empty transport parameters are structurally fine here
    public void EncryptedExtensionsViolations(string extensions, TlsAlert expected)
    {
        var ext = Hex.Parse(extensions);
        var body = new[] { (byte)(ext.Length >> 8), (byte)ext.Length }.Concat(ext).ToArray();
        bool ok = EncryptedExtensions.TryRead(body, out _, out var alert);
        Assert.Equal(expected == TlsAlert.None, ok);
        Assert.Equal(expected, alert);
    }

    [Fact]
    public void ServerHelloViolations()
    {
        var good = Encode(new ServerHello { Random = Bytes(32, 4), Extensions = new TlsExtensions { SelectedVersion = 0x0304 } }.Write)[4..];
        var compression = (byte[])good.Clone();
        compression[2 + 32 + 1 + 2] = 1;
        Assert.False(ServerHello.TryRead(compression, out _, out var alert));
        Assert.Equal(TlsAlert.IllegalParameter, alert);

        // ALPN is not allowed in a ServerHello; an unknown extension is unsupported_extension.
        var alpnInSh = good[..^8].Concat(Hex.Parse("000e 002b00020304 0010000400020168")).ToArray();
        Assert.False(ServerHello.TryRead(alpnInSh, out _, out alert));
        Assert.Equal(TlsAlert.IllegalParameter, alert);
        var unknown = good[..^8].Concat(Hex.Parse("000a 002b00020304 7a7a0000")).ToArray();
        Assert.False(ServerHello.TryRead(unknown, out _, out alert));
        Assert.Equal(TlsAlert.UnsupportedExtension, alert);

        // A HelloRetryRequest's key_share is a bare group; a full KeyShareEntry there is a decode error.
        var hrr = new ServerHello { Extensions = new TlsExtensions { SelectedVersion = 0x0304, SelectedGroup = NamedGroup.X25519 } };
        hrr.SetHelloRetryRequest();
        var hrrBody = Encode(hrr.Write)[4..];
        Assert.True(ServerHello.TryRead(hrrBody, out _, out _));
        var sh = new ServerHello { Random = hrr.Random, Extensions = new TlsExtensions { SelectedVersion = 0x0304 } };
        var withEntry = Encode(sh.Write)[4..][..^8].Concat(Hex.Parse("0014 002b00020304 0033000a001d0006010203040506")).ToArray();
        Assert.False(ServerHello.TryRead(withEntry, out _, out alert));
        Assert.Equal(TlsAlert.DecodeError, alert);
    }

    [Fact]
    public void AlertMapsToQuicCryptoError()
    {
        Assert.Equal(0x0132UL, TlsAlert.DecodeError.ToQuicCryptoError());
        Assert.Equal(0x012FUL, TlsAlert.IllegalParameter.ToQuicCryptoError());
    }
}
