using Xunit;
using System.Security.Cryptography.X509Certificates;
using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Tls;
using FastRelay.Protocols.Quic.Tls.Handshake;
using FastRelay.Protocols.Quic.Tls.Messages;

namespace FastRelay.Tests.Quic.Tls;

public class TlsHandshakeTests
{
    private static void AssertCrosswiseSecrets(HandshakePair pair, CipherSuite suite)
    {
        foreach (var level in new[] { EncryptionLevel.Handshake, EncryptionLevel.OneRtt })
        {
            var c = pair.ClientSink.Secrets[level];
            var s = pair.ServerSink.Secrets[level];
            Assert.Equal(suite, c.Suite);
            Assert.Equal(suite, s.Suite);
            Assert.Equal(suite.HashLength(), c.Write.Length);
            Assert.Equal(c.Write, s.Read);
            Assert.Equal(s.Write, c.Read);
            Assert.NotEqual(c.Write, c.Read);
        }
        Assert.NotEqual(pair.ClientSink.Secrets[EncryptionLevel.Handshake].Write, pair.ClientSink.Secrets[EncryptionLevel.OneRtt].Write);
        Assert.False(pair.ClientSink.Secrets.ContainsKey(EncryptionLevel.Initial));
    }

    private static void AssertNegotiated(HandshakePair pair)
    {
        Assert.True(pair.Client.IsComplete);
        Assert.True(pair.Server.IsComplete);
        Assert.True(pair.ClientSink.Completed);
        Assert.True(pair.ServerSink.Completed);
        // Server preference ("h3" first in its list) among the client's offer.
        Assert.Equal("h3", pair.Client.NegotiatedApplicationProtocol);
        Assert.Equal("h3", pair.Server.NegotiatedApplicationProtocol);
        Assert.Equal(1UL << 21, pair.Client.PeerTransportParameters!.InitialMaxData);
        Assert.Equal(7UL, pair.Client.PeerTransportParameters.InitialMaxStreamsUni);
        Assert.Equal(30000UL, pair.Client.PeerTransportParameters.MaxIdleTimeout);
        Assert.Equal(1UL << 20, pair.Server.PeerTransportParameters!.InitialMaxData);
        Assert.Equal(100UL, pair.Server.PeerTransportParameters.InitialMaxStreamsBidi);
        Assert.Equal("localhost", pair.Server.ReceivedServerName);
        Assert.Equal(pair.Server.NegotiatedCipherSuite, pair.Client.NegotiatedCipherSuite);
    }

    public static TheoryData<CipherSuite> Suites()
    {
        var data = new TheoryData<CipherSuite> { CipherSuite.Aes128GcmSha256, CipherSuite.Aes256GcmSha384 };
        if (CipherSuite.ChaCha20Poly1305Sha256.IsSupported()) data.Add(CipherSuite.ChaCha20Poly1305Sha256);
        return data;
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void Handshake_SecretsMatchCrosswise_AndParametersAreDelivered(CipherSuite suite)
    {
        using var pair = new HandshakePair(TlsOptions.Client(suites: [suite]), TlsOptions.Server());
        Assert.True(pair.Run(), $"client {pair.ClientError}, server {pair.ServerError}");
        Assert.Equal(suite, pair.Client.NegotiatedCipherSuite);
        AssertCrosswiseSecrets(pair, suite);
        AssertNegotiated(pair);
        Assert.False(pair.Client.HelloRetryRequested);
        Assert.Equal(TlsTestCertificates.Ecdsa.Thumbprint, pair.Client.PeerCertificate!.Thumbprint);
        Assert.Null(pair.Server.PeerCertificate);

        // Order of events (RFC 9001 §4.1): client installs 1-RTT keys before writing its Finished, then completes.
        Assert.Equal(["write Initial", "install Handshake", "install OneRtt", "write Handshake", "complete"], pair.ClientSink.Events);
        Assert.Equal(["write Initial", "install Handshake", "write Handshake", "write Handshake", "write Handshake", "write Handshake",
            "install OneRtt", "complete"], pair.ServerSink.Events);
        // The flights: client CH | server SH | server EE..Finished | client Finished.
        Assert.Equal([(true, EncryptionLevel.Initial), (false, EncryptionLevel.Initial), (false, EncryptionLevel.Handshake),
            (true, EncryptionLevel.Handshake)], pair.Delivered.Select(d => (d.ToServer, d.Level)));
        Assert.Equal([TlsHandshakeType.EncryptedExtensions, TlsHandshakeType.Certificate, TlsHandshakeType.CertificateVerify, TlsHandshakeType.Finished],
            Flight.Messages(pair.Delivered[2].Data).Select(m => m.Type));
    }

    [Fact]
    public void Handshake_SuiteIsServerPreference()
    {
        using var pair = new HandshakePair(TlsOptions.Client(suites: [CipherSuite.Aes128GcmSha256, CipherSuite.Aes256GcmSha384]),
            TlsOptions.Server(suites: [CipherSuite.Aes256GcmSha384, CipherSuite.Aes128GcmSha256]));
        Assert.True(pair.Run());
        Assert.Equal(CipherSuite.Aes256GcmSha384, pair.Client.NegotiatedCipherSuite);
        AssertCrosswiseSecrets(pair, CipherSuite.Aes256GcmSha384);
    }

    [Fact]
    public void Handshake_NoCommonSuite_HandshakeFailure()
    {
        using var pair = new HandshakePair(TlsOptions.Client(suites: [CipherSuite.Aes128GcmSha256]), TlsOptions.Server(suites: [CipherSuite.Aes256GcmSha384]));
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.HandshakeFailure), (ulong)pair.ServerError.Code);
    }

    [Fact]
    public void Handshake_OneByteAtATime()
    {
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server()) { ByteAtATime = true };
        Assert.True(pair.Run(), $"client {pair.ClientError}, server {pair.ServerError}");
        AssertCrosswiseSecrets(pair, CipherSuite.Aes128GcmSha256);
        AssertNegotiated(pair);
    }

    [Fact]
    public void Handshake_AllFlightsInSeparateCallsPerMessage_AndCoalesced()
    {
        // Messages of one flight delivered one by one work as well as the whole flight (covered above).
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server());
        pair.Client.Start();
        var ch = pair.ClientSink.TakeFlights().Single();
        Assert.True(pair.Server.TryProcess(EncryptionLevel.Initial, ch.Data, out _));
        foreach (var (level, data) in pair.ServerSink.Pending.ToList())
            Assert.True(pair.Client.TryProcess(level, data, out var e), e.ToString());
        var fin = pair.ClientSink.TakeFlights().Single(f => f.Level == EncryptionLevel.Handshake);
        Assert.True(pair.Server.TryProcess(EncryptionLevel.Handshake, fin.Data, out _));
        Assert.True(pair.Server.IsComplete);
    }

    [Fact]
    public void HelloRetryRequest_WhenClientSharesOnlyAnUnsupportedGroup()
    {
        using var pair = new HandshakePair(TlsOptions.Client(groups: [NamedGroup.Secp384r1, NamedGroup.Secp256r1]),
            TlsOptions.Server(groups: [NamedGroup.Secp256r1]));
        Assert.True(pair.Run(), $"client {pair.ClientError}, server {pair.ServerError}");
        Assert.True(pair.Client.HelloRetryRequested);
        Assert.True(pair.Server.HelloRetryRequested);
        AssertCrosswiseSecrets(pair, CipherSuite.Aes128GcmSha256);
        AssertNegotiated(pair);
        // CH1, HRR, CH2, SH, server handshake flight, client Finished.
        Assert.Equal(6, pair.Delivered.Count);
        Assert.True(ServerHello.TryRead(Flight.Body(pair.Delivered[1].Data, TlsHandshakeType.ServerHello), out var hrr, out _));
        Assert.True(hrr.IsHelloRetryRequest);
        Assert.Equal(NamedGroup.Secp256r1, hrr.Extensions.SelectedGroup);
        Assert.True(ClientHello.TryRead(Flight.Body(pair.Delivered[2].Data, TlsHandshakeType.ClientHello), out var ch2, out _));
        Assert.True(ClientHello.TryRead(Flight.Body(pair.Delivered[0].Data, TlsHandshakeType.ClientHello), out var ch1, out _));
        Assert.Equal(NamedGroup.Secp256r1, Assert.Single(ch2.Extensions.KeyShares!).Group);
        Assert.Equal(ch1.Random.ToArray(), ch2.Random.ToArray());
    }

    [Fact]
    public void HelloRetryRequest_WithSha384Suite()
    {
        using var pair = new HandshakePair(TlsOptions.Client(groups: [NamedGroup.Secp256r1, NamedGroup.Secp384r1], suites: [CipherSuite.Aes256GcmSha384]),
            TlsOptions.Server(groups: [NamedGroup.Secp384r1]));
        Assert.True(pair.Run(), $"client {pair.ClientError}, server {pair.ServerError}");
        Assert.True(pair.Client.HelloRetryRequested);
        AssertCrosswiseSecrets(pair, CipherSuite.Aes256GcmSha384);
    }

    [Fact]
    public void NoHelloRetryRequest_WhenServerSupportsTheSharedGroup()
    {
        // The server prefers P-384 but the client's P-256 share is usable: no extra round trip.
        using var pair = new HandshakePair(TlsOptions.Client(groups: [NamedGroup.Secp256r1, NamedGroup.Secp384r1]),
            TlsOptions.Server(groups: [NamedGroup.Secp384r1, NamedGroup.Secp256r1]));
        Assert.True(pair.Run());
        Assert.False(pair.Client.HelloRetryRequested);
        Assert.Equal(4, pair.Delivered.Count);
    }

    [Fact]
    public void NoCommonGroup_HandshakeFailure()
    {
        using var pair = new HandshakePair(TlsOptions.Client(groups: [NamedGroup.Secp384r1]), TlsOptions.Server(groups: [NamedGroup.Secp256r1]));
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.HandshakeFailure), (ulong)pair.ServerError.Code);
    }

    private static byte[] HelloRetryRequest(NamedGroup group, CipherSuite suite = CipherSuite.Aes128GcmSha256)
    {
        var hrr = new ServerHello
        {
            CipherSuite = suite,
            Extensions = new TlsExtensions { SelectedVersion = TlsExtensions.Tls13, SelectedGroup = group },
        };
        hrr.SetHelloRetryRequest();
        return Flight.Encode(b => hrr.Write(b));
    }

    [Fact]
    public void Client_SecondHelloRetryRequest_UnexpectedMessage()
    {
        var sink = new RecordingSink();
        using var client = TlsHandshake.CreateClient(TlsOptions.Client(groups: [NamedGroup.Secp256r1, NamedGroup.Secp384r1]), sink);
        client.Start();
        Assert.True(client.TryProcess(EncryptionLevel.Initial, HelloRetryRequest(NamedGroup.Secp384r1), out var e), e.ToString());
        Assert.True(client.HelloRetryRequested);
        Assert.Equal(2, sink.Pending.Count);
        Assert.False(client.TryProcess(EncryptionLevel.Initial, HelloRetryRequest(NamedGroup.Secp256r1), out e));
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.UnexpectedMessage), (ulong)e.Code);
        // Sticky: later calls report the same error.
        Assert.False(client.TryProcess(EncryptionLevel.Initial, [1], out var again));
        Assert.Equal(e, again);
    }

    [Theory]
    [InlineData(NamedGroup.X25519)]       // not offered in supported_groups
    [InlineData(NamedGroup.Secp256r1)]    // already shared: would not change the ClientHello
    public void Client_HelloRetryRequestForBadGroup_IllegalParameter(NamedGroup group)
    {
        var sink = new RecordingSink();
        using var client = TlsHandshake.CreateClient(TlsOptions.Client(groups: [NamedGroup.Secp256r1, NamedGroup.Secp384r1]), sink);
        client.Start();
        Assert.False(client.TryProcess(EncryptionLevel.Initial, HelloRetryRequest(group), out var e));
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.IllegalParameter), (ulong)e.Code);
    }

    [Fact]
    public void Client_HelloRetryRequestWithUnofferedSuite_IllegalParameter()
    {
        using var client = TlsHandshake.CreateClient(TlsOptions.Client(groups: [NamedGroup.Secp256r1, NamedGroup.Secp384r1],
            suites: [CipherSuite.Aes128GcmSha256]), new RecordingSink());
        client.Start();
        Assert.False(client.TryProcess(EncryptionLevel.Initial, HelloRetryRequest(NamedGroup.Secp384r1, CipherSuite.Aes256GcmSha384), out var e));
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.IllegalParameter), (ulong)e.Code);
    }

    [Fact]
    public void Client_HelloRetryRequestWithHugeCookie_IllegalParameter_NoThrow()
    {
        using var client = TlsHandshake.CreateClient(TlsOptions.Client(), new RecordingSink());
        client.Start();
        var hrr = new ServerHello
        {
            CipherSuite = CipherSuite.Aes128GcmSha256,
            Extensions = new TlsExtensions { SelectedVersion = TlsExtensions.Tls13, Cookie = new byte[60000] },
        };
        hrr.SetHelloRetryRequest();
        Assert.False(client.TryProcess(EncryptionLevel.Initial, Flight.Encode(b => hrr.Write(b)), out var e));
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.IllegalParameter), (ulong)e.Code);
    }

    [Fact]
    public void GarbageCertificate_BadCertificate()
    {
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server())
        {
            Tamper = (toServer, level, data) =>
            {
                if (toServer || level != EncryptionLevel.Handshake) return data;
                var junk = new byte[300];
                new Random(3).NextBytes(junk);
                var certificate = new Certificate { Entries = [new CertificateEntry(junk, ReadOnlyMemory<byte>.Empty)] };
                return Flight.Replace(data, TlsHandshakeType.Certificate, Flight.Encode(b => certificate.Write(b)));
            },
        };
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.BadCertificate), (ulong)pair.ClientError.Code);
    }

    [Fact]
    public void EmptyServerCertificate_DecodeError()
    {
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server())
        {
            Tamper = (toServer, level, data) => toServer || level != EncryptionLevel.Handshake ? data
                : Flight.Replace(data, TlsHandshakeType.Certificate, Flight.Encode(b => new Certificate().Write(b))),
        };
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.DecodeError), (ulong)pair.ClientError.Code);
    }

    [Fact]
    public void SkipValidation_StillVerifiesCertificateVerify()
    {
        using var pair = new HandshakePair(TlsOptions.Client(trustDefault: false, skip: true), TlsOptions.Server())
        {
            Tamper = (toServer, level, data) => !toServer && level == EncryptionLevel.Handshake ? FlipLastByteOf(data, TlsHandshakeType.CertificateVerify) : data,
        };
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.DecryptError), (ulong)pair.ClientError.Code);
    }

    [Fact]
    public void SkipValidation_CertificateVerifyBySubstitutedKey_DecryptError()
    {
        // The server signs with its key but presents another certificate: the signature must not verify.
        using var pair = new HandshakePair(TlsOptions.Client(trustDefault: false, skip: true), TlsOptions.Server())
        {
            Tamper = (toServer, level, data) =>
            {
                if (toServer || level != EncryptionLevel.Handshake) return data;
                var other = new Certificate { Entries = [new CertificateEntry(TlsTestCertificates.OtherName.RawData, ReadOnlyMemory<byte>.Empty)] };
                return Flight.Replace(data, TlsHandshakeType.Certificate, Flight.Encode(b => other.Write(b)));
            },
        };
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.DecryptError), (ulong)pair.ClientError.Code);
    }

    [Fact]
    public void Server_SecondClientHelloWithoutRequestedShare_IllegalParameter()
    {
        using var pair = new HandshakePair(TlsOptions.Client(groups: [NamedGroup.Secp384r1, NamedGroup.Secp256r1]),
            TlsOptions.Server(groups: [NamedGroup.Secp256r1]));
        pair.Client.Start();
        var ch1 = pair.ClientSink.TakeFlights().Single().Data;
        Assert.True(pair.Server.TryProcess(EncryptionLevel.Initial, ch1, out _));
        Assert.True(pair.Server.HelloRetryRequested);
        // Replaying ClientHello1 (P-384 share only) instead of a corrected one.
        Assert.False(pair.Server.TryProcess(EncryptionLevel.Initial, ch1, out var e));
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.IllegalParameter), (ulong)e.Code);
    }

    [Fact]
    public void AlpnMismatch_NoApplicationProtocol()
    {
        using var pair = new HandshakePair(TlsOptions.Client(alpn: ["moq-00"]), TlsOptions.Server(alpn: ["h3"]));
        Assert.False(pair.Run());
        Assert.Equal(0x178UL, (ulong)pair.ServerError.Code);
        Assert.Empty(pair.ServerSink.Pending);
    }

    private static byte[] RewriteClientHello(byte[] flight, Action<ClientHello> change)
    {
        Assert.True(ClientHello.TryRead(Flight.Body(flight, TlsHandshakeType.ClientHello), out var ch, out _));
        change(ch);
        return Flight.Replace(flight, TlsHandshakeType.ClientHello, Flight.Encode(b => ch.Write(b)));
    }

    [Fact]
    public void MissingAlpnInClientHello_NoApplicationProtocol()
    {
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server())
        {
            Tamper = (toServer, level, data) => toServer && level == EncryptionLevel.Initial ? RewriteClientHello(data, ch => ch.Extensions.Alpn = null) : data,
        };
        Assert.False(pair.Run());
        Assert.Equal(0x178UL, (ulong)pair.ServerError.Code);
    }

    [Fact]
    public void MissingTransportParameters_FromClient_MissingExtension()
    {
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server())
        {
            Tamper = (toServer, level, data) => toServer && level == EncryptionLevel.Initial
                ? RewriteClientHello(data, ch => ch.Extensions.QuicTransportParameters = null) : data,
        };
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.MissingExtension), (ulong)pair.ServerError.Code);
    }

    [Fact]
    public void MissingTransportParameters_FromServer_MissingExtension()
    {
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server())
        {
            Tamper = (toServer, level, data) =>
            {
                if (toServer || level != EncryptionLevel.Handshake) return data;
                Assert.True(EncryptedExtensions.TryRead(Flight.Body(data, TlsHandshakeType.EncryptedExtensions), out var ee, out _));
                ee.Extensions.QuicTransportParameters = null;
                return Flight.Replace(data, TlsHandshakeType.EncryptedExtensions, Flight.Encode(b => ee.Write(b)));
            },
        };
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.MissingExtension), (ulong)pair.ClientError.Code);
    }

    [Fact]
    public void InvalidTransportParameters_TransportParameterError()
    {
        // A server-only parameter (original_destination_connection_id, id 0) sent by a client.
        var bad = new FastRelay.Protocols.Quic.Wire.TransportParameters
        {
            InitialSourceConnectionId = new FastRelay.Protocols.Quic.Wire.ConnectionId([1, 2]),
            OriginalDestinationConnectionId = new FastRelay.Protocols.Quic.Wire.ConnectionId([3, 4]),
        }.Encode();
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server())
        {
            Tamper = (toServer, level, data) => toServer && level == EncryptionLevel.Initial
                ? RewriteClientHello(data, ch => ch.Extensions.QuicTransportParameters = bad) : data,
        };
        Assert.False(pair.Run());
        Assert.Equal(QuicTransportError.TransportParameterError, pair.ServerError.Code);
    }

    [Fact]
    public void UntrustedCertificate_BadCertificate()
    {
        using var pair = new HandshakePair(TlsOptions.Client(trustDefault: false), TlsOptions.Server());
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.BadCertificate), (ulong)pair.ClientError.Code);
        Assert.False(pair.ClientSink.Secrets.ContainsKey(EncryptionLevel.OneRtt));
    }

    [Fact]
    public void UntrustedCertificate_TrustedByOtherAnchor_BadCertificate()
    {
        using var pair = new HandshakePair(TlsOptions.Client(trust: TlsTestCertificates.Rsa), TlsOptions.Server());
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.BadCertificate), (ulong)pair.ClientError.Code);
    }

    [Fact]
    public void SkipValidation_AcceptsUntrustedCertificate()
    {
        using var pair = new HandshakePair(TlsOptions.Client(serverName: "wrong.example", trustDefault: false, skip: true), TlsOptions.Server());
        Assert.True(pair.Run(), pair.ClientError.ToString());
    }

    [Fact]
    public void WrongName_Fails()
    {
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server(certificate: TlsTestCertificates.OtherName));
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.BadCertificate), (ulong)pair.ClientError.Code);

        using var trusted = new HandshakePair(TlsOptions.Client(serverName: "wrong.example", trust: TlsTestCertificates.Ecdsa), TlsOptions.Server());
        Assert.False(trusted.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.BadCertificate), (ulong)trusted.ClientError.Code);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void IpLiteral_MatchesIpSan_AndIsNotSentAsSni(string address)
    {
        using var pair = new HandshakePair(TlsOptions.Client(serverName: address), TlsOptions.Server());
        Assert.True(pair.Run(), pair.ClientError.ToString());
        Assert.Null(pair.Server.ReceivedServerName);
    }

    [Fact]
    public void IpLiteral_NotInCertificate_Fails()
    {
        using var pair = new HandshakePair(TlsOptions.Client(serverName: "10.1.2.3"), TlsOptions.Server());
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.BadCertificate), (ulong)pair.ClientError.Code);
    }

    [Theory]
    [InlineData("rsa", SignatureScheme.RsaPssRsaeSha256)]
    [InlineData("p256", SignatureScheme.EcdsaSecp256r1Sha256)]
    [InlineData("p384", SignatureScheme.EcdsaSecp384r1Sha384)]
    public void ServerKeyTypes(string kind, SignatureScheme expected)
    {
        var cert = kind switch { "rsa" => TlsTestCertificates.Rsa, "p384" => TlsTestCertificates.EcdsaP384, _ => TlsTestCertificates.Ecdsa };
        using var pair = new HandshakePair(TlsOptions.Client(trust: cert), TlsOptions.Server(certificate: cert));
        Assert.True(pair.Run(), $"client {pair.ClientError}, server {pair.ServerError}");
        Assert.True(CertificateVerify.TryRead(Flight.Body(pair.Delivered[2].Data, TlsHandshakeType.CertificateVerify), out var cv, out _));
        Assert.Equal(expected, cv.Algorithm);
    }

    [Fact]
    public void RsaServer_ClientWithoutPss_HandshakeFailure()
    {
        using var pair = new HandshakePair(TlsOptions.Client(trust: TlsTestCertificates.Rsa), TlsOptions.Server(certificate: TlsTestCertificates.Rsa))
        {
            Tamper = (toServer, level, data) => toServer && level == EncryptionLevel.Initial
                ? RewriteClientHello(data, ch => ch.Extensions.SignatureAlgorithms = [SignatureScheme.EcdsaSecp256r1Sha256]) : data,
        };
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.HandshakeFailure), (ulong)pair.ServerError.Code);
    }

    private static byte[] FlipLastByteOf(byte[] flight, TlsHandshakeType type)
    {
        var copy = (byte[])flight.Clone();
        var (o, l) = Flight.Find(copy, type);
        copy[o + l - 1] ^= 0x01;
        return copy;
    }

    [Theory]
    [InlineData(TlsHandshakeType.CertificateVerify)]
    [InlineData(TlsHandshakeType.Finished)]
    public void TamperedServerMessage_DecryptError(TlsHandshakeType type)
    {
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server())
        {
            Tamper = (toServer, level, data) => !toServer && level == EncryptionLevel.Handshake ? FlipLastByteOf(data, type) : data,
        };
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.DecryptError), (ulong)pair.ClientError.Code);
        Assert.False(pair.ClientSink.Completed);
    }

    [Fact]
    public void TamperedRsaCertificateVerify_DecryptError()
    {
        using var pair = new HandshakePair(TlsOptions.Client(trust: TlsTestCertificates.Rsa), TlsOptions.Server(certificate: TlsTestCertificates.Rsa))
        {
            Tamper = (toServer, level, data) => !toServer && level == EncryptionLevel.Handshake ? FlipLastByteOf(data, TlsHandshakeType.CertificateVerify) : data,
        };
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.DecryptError), (ulong)pair.ClientError.Code);
    }

    [Fact]
    public void TamperedClientFinished_DecryptError()
    {
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server())
        {
            Tamper = (toServer, level, data) => toServer && level == EncryptionLevel.Handshake ? FlipLastByteOf(data, TlsHandshakeType.Finished) : data,
        };
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.DecryptError), (ulong)pair.ServerError.Code);
        Assert.False(pair.Server.IsComplete);
        Assert.False(pair.ServerSink.Completed);
    }

    [Fact]
    public void CertificateVerifyWithUnofferedScheme_IllegalParameter()
    {
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server())
        {
            Tamper = (toServer, level, data) =>
            {
                if (toServer || level != EncryptionLevel.Handshake) return data;
                Assert.True(CertificateVerify.TryRead(Flight.Body(data, TlsHandshakeType.CertificateVerify), out var cv, out _));
                cv.Algorithm = SignatureScheme.RsaPkcs1Sha256; // TLS 1.3 forbids PKCS#1 v1.5 in CertificateVerify
                return Flight.Replace(data, TlsHandshakeType.CertificateVerify, Flight.Encode(b => cv.Write(b)));
            },
        };
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.IllegalParameter), (ulong)pair.ClientError.Code);
    }

    [Fact]
    public void InvalidKeySharePoint_IllegalParameter()
    {
        var offCurve = new byte[65];
        offCurve[0] = 4;
        offCurve[32] = 1;
        offCurve[64] = 1; // (1, 1) is not on P-256
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server())
        {
            Tamper = (toServer, level, data) => toServer && level == EncryptionLevel.Initial
                ? RewriteClientHello(data, ch => ch.Extensions.KeyShares = [new KeyShareEntry(NamedGroup.Secp256r1, offCurve)]) : data,
        };
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.IllegalParameter), (ulong)pair.ServerError.Code);
    }

    [Fact]
    public void InvalidServerKeySharePoint_IllegalParameter()
    {
        using var pair = new HandshakePair(TlsOptions.Client(groups: [NamedGroup.Secp256r1]), TlsOptions.Server())
        {
            Tamper = (toServer, level, data) =>
            {
                if (toServer || level != EncryptionLevel.Initial) return data;
                Assert.True(ServerHello.TryRead(Flight.Body(data, TlsHandshakeType.ServerHello), out var sh, out _));
                var point = sh.Extensions.ServerShare!.Value.KeyExchange.ToArray();
                point[64] ^= 1; // y no longer matches x
                sh.Extensions.ServerShare = new KeyShareEntry(NamedGroup.Secp256r1, point);
                return Flight.Replace(data, TlsHandshakeType.ServerHello, Flight.Encode(b => sh.Write(b)));
            },
        };
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.IllegalParameter), (ulong)pair.ClientError.Code);
    }

    [Fact]
    public void ClientHelloWithoutTls13_ProtocolVersion()
    {
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server())
        {
            Tamper = (toServer, level, data) => toServer && level == EncryptionLevel.Initial
                ? RewriteClientHello(data, ch => ch.Extensions.SupportedVersions = [0x0303]) : data,
        };
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.ProtocolVersion), (ulong)pair.ServerError.Code);
    }

    [Fact]
    public void PskOfferAndSessionId_AreAnsweredWithFullHandshake()
    {
        byte[] sessionId = [1, 2, 3, 4, 5, 6, 7, 8];
        // OfferedPsks: identities<7..> (one identity: 1-byte ticket, age), binders<33..> (one 32-byte binder).
        byte[] psk = [0, 7, 0, 1, 0xAA, 0, 0, 0, 0, 0, 33, 32, .. new byte[32]];
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server())
        {
            Tamper = (toServer, level, data) => toServer && level == EncryptionLevel.Initial
                ? RewriteClientHello(data, ch =>
                {
                    ch.LegacySessionId = sessionId;
                    ch.Extensions.PskKeyExchangeModes = new byte[] { 1 };
                    ch.Extensions.PreSharedKey = psk;
                }) : data,
        };
        pair.Run();
        Assert.True(pair.ServerError.IsNone, pair.ServerError.ToString());
        var shFlight = pair.Delivered.First(d => !d.ToServer && d.Level == EncryptionLevel.Initial).Data;
        Assert.True(ServerHello.TryRead(Flight.Body(shFlight, TlsHandshakeType.ServerHello), out var sh, out _));
        Assert.Null(sh.Extensions.PreSharedKey);
        Assert.Equal(sessionId, sh.LegacySessionIdEcho.ToArray());
        // The client rejects the echo of a session id it did not send.
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.IllegalParameter), (ulong)pair.ClientError.Code);
    }

    [Fact]
    public void UnknownClientHelloExtension_IsIgnored()
    {
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server())
        {
            Tamper = (toServer, level, data) => toServer && level == EncryptionLevel.Initial ? WithGreaseExtension(data) : data,
        };
        pair.Run();
        Assert.True(pair.ServerError.IsNone, pair.ServerError.ToString());
        Assert.Contains(pair.Delivered, d => !d.ToServer && d.Level == EncryptionLevel.Handshake);
    }

    /// <summary>Inserts a GREASE extension (0x0a0a, 1 byte) at the start of the ClientHello's extension block.</summary>
    private static byte[] WithGreaseExtension(byte[] ch)
    {
        int p = 4 + 2 + 32;
        p += 1 + ch[p];                                   // legacy_session_id
        p += 2 + ((ch[p] << 8) | ch[p + 1]);              // cipher_suites
        p += 1 + ch[p];                                   // compression methods
        byte[] grease = [0x0a, 0x0a, 0x00, 0x01, 0x00];
        var result = new List<byte>(ch.AsSpan(0, p + 2).ToArray());
        result.AddRange(grease);
        result.AddRange(ch.AsSpan(p + 2).ToArray());
        var r = result.ToArray();
        int extLength = ((r[p] << 8) | r[p + 1]) + grease.Length;
        r[p] = (byte)(extLength >> 8);
        r[p + 1] = (byte)extLength;
        int bodyLength = r.Length - 4;
        r[1] = (byte)(bodyLength >> 16);
        r[2] = (byte)(bodyLength >> 8);
        r[3] = (byte)bodyLength;
        return r;
    }

    [Fact]
    public void WrongLevel_UnexpectedMessage()
    {
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server());
        pair.Client.Start();
        var ch = pair.ClientSink.TakeFlights().Single().Data;
        Assert.False(pair.Server.TryProcess(EncryptionLevel.Handshake, ch, out var e));
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.UnexpectedMessage), (ulong)e.Code);
    }

    [Fact]
    public void WrongMessageOrder_UnexpectedMessage()
    {
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server())
        {
            // Certificate before EncryptedExtensions.
            Tamper = (toServer, level, data) =>
            {
                if (toServer || level != EncryptionLevel.Handshake) return data;
                var (o, l) = Flight.Find(data, TlsHandshakeType.EncryptedExtensions);
                var (co, cl) = Flight.Find(data, TlsHandshakeType.Certificate);
                return [.. data.AsSpan(co, cl), .. data.AsSpan(o, l), .. data.AsSpan(co + cl)];
            },
        };
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.UnexpectedMessage), (ulong)pair.ClientError.Code);
    }

    [Fact]
    public void ServerHelloCoalescedWithHandshakeMessage_AtInitial_UnexpectedMessage()
    {
        // A message must not follow ServerHello at the Initial level (the keys changed).
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server());
        pair.Client.Start();
        Assert.True(pair.Server.TryProcess(EncryptionLevel.Initial, pair.ClientSink.TakeFlights().Single().Data, out _));
        var flights = pair.ServerSink.TakeFlights();
        byte[] both = [.. flights[0].Data, .. flights[1].Data];
        Assert.False(pair.Client.TryProcess(EncryptionLevel.Initial, both, out var e));
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.UnexpectedMessage), (ulong)e.Code);
    }

    [Fact]
    public void PostHandshake_NewSessionTicketIgnored_KeyUpdateRefused()
    {
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server());
        Assert.True(pair.Run());
        // NewSessionTicket: lifetime, age_add, nonce<1>, ticket<2>, extensions<2>.
        byte[] nst = [4, 0, 0, 16, 0, 0, 0x0e, 0x10, 1, 2, 3, 4, 1, 9, 0, 2, 0xAB, 0xCD, 0, 0];
        Assert.True(pair.Client.TryProcess(EncryptionLevel.OneRtt, nst, out var e), e.ToString());
        Assert.True(pair.Client.IsComplete);
        byte[] keyUpdate = Flight.Encode(b => new KeyUpdate(false).Write(b));
        Assert.False(pair.Client.TryProcess(EncryptionLevel.OneRtt, keyUpdate, out e));
        Assert.Equal(0x10aUL, (ulong)e.Code);
        Assert.False(pair.Server.TryProcess(EncryptionLevel.OneRtt, nst, out e));
        Assert.Equal(0x10aUL, (ulong)e.Code);
        Assert.False(pair.Server.IsComplete);
    }

    [Fact]
    public void KeyUpdateDuringHandshake_UnexpectedMessage()
    {
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server());
        pair.Client.Start();
        Assert.False(pair.Server.TryProcess(EncryptionLevel.Initial, Flight.Encode(b => new KeyUpdate(true).Write(b)), out var e));
        Assert.Equal(0x10aUL, (ulong)e.Code);
    }

    [Fact]
    public void ClientAnswersCertificateRequestWithEmptyCertificate()
    {
        // CertificateRequest: context<0> = empty, extensions = signature_algorithms(ecdsa_secp256r1_sha256).
        byte[] request = [13, 0, 0, 11, 0, 0, 8, 0, 13, 0, 4, 0, 2, 4, 3];
        byte[]? clientFlight = null;
        using var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server())
        {
            Tamper = (toServer, level, data) =>
            {
                if (toServer && level == EncryptionLevel.Handshake) clientFlight = data;
                if (toServer || level != EncryptionLevel.Handshake) return data;
                var (o, l) = Flight.Find(data, TlsHandshakeType.EncryptedExtensions);
                return [.. data.AsSpan(0, o + l), .. request, .. data.AsSpan(o + l)];
            },
        };
        pair.Run();
        // The server's Finished covered a transcript without the request, so the client stops there: what matters
        // here is that the request itself was accepted in its place (decrypt_error on Finished, not unexpected_message).
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.DecryptError), (ulong)pair.ClientError.Code);
        Assert.Null(clientFlight);
    }

    [Fact]
    public void ClientProcessBeforeStart_UnexpectedMessage()
    {
        using var client = TlsHandshake.CreateClient(TlsOptions.Client(), new RecordingSink());
        Assert.False(client.TryProcess(EncryptionLevel.Initial, [2, 0, 0, 0], out var e));
        Assert.Equal(0x10aUL, (ulong)e.Code);
    }

    [Fact]
    public void Options_AreValidated()
    {
        Assert.Throws<ArgumentException>(() => TlsHandshake.CreateClient(TlsOptions.Client(alpn: []), new RecordingSink()));
        Assert.Throws<ArgumentException>(() => TlsHandshake.CreateServer(new TlsHandshakeOptions
        {
            ApplicationProtocols = ["h3"],
            LocalTransportParameters = TlsOptions.ServerParameters(),
        }, new RecordingSink()));
        using var publicOnly = X509CertificateLoader.LoadCertificate(TlsTestCertificates.Ecdsa.RawData);
        Assert.Throws<ArgumentException>(() => TlsHandshake.CreateServer(TlsOptions.Server(certificate: publicOnly), new RecordingSink()));
    }
}
