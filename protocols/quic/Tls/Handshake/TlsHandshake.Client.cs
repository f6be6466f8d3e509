using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Tls.Messages;

namespace FastRelay.Protocols.Quic.Tls.Handshake;

/// <summary>Client side: ClientHello → (HelloRetryRequest → ClientHello) → ServerHello, EncryptedExtensions,
/// [CertificateRequest], Certificate, CertificateVerify, Finished → Finished (RFC 8446 §2).</summary>
public sealed partial class TlsHandshake
{
    private ClientHello? _clientHello;
    private CipherSuite? _retrySuite;
    private byte[]? _certificateRequestContext;

    /// <summary>Largest HelloRetryRequest cookie echoed (stateless-retry cookies are tens of bytes; this leaves room for the rest of ClientHello2).</summary>
    private const int MaxCookieLength = 16 * 1024;

    private void SendClientHello()
    {
        _keyExchange = KeyExchange.Create(_groups[0]);
        var extensions = NewExtensionsWithTransportParameters();
        extensions.SupportedVersions = [TlsExtensions.Tls13];
        extensions.SupportedGroups = _groups;
        extensions.SignatureAlgorithms = TlsSignatures.ClientOffered;
        extensions.KeyShares = [new KeyShareEntry(_keyExchange.Group, _keyExchange.PublicKey)];
        extensions.Alpn = _alpn.Select(a => (ReadOnlyMemory<byte>)a).ToArray();
        // RFC 6066 §3: literal IPv4/IPv6 addresses are not permitted in server_name.
        if (_options.ServerName is { Length: > 0 } name && !IPAddress.TryParse(name, out _))
            extensions.ServerName = Encoding.ASCII.GetBytes(name);
        OfferTicket(extensions);
        _clientHello = new ClientHello
        {
            Random = RandomNumberGenerator.GetBytes(32),
            // RFC 9001 §8.4: no middlebox compatibility mode in QUIC, so the session id stays empty.
            LegacySessionId = ReadOnlyMemory<byte>.Empty,
            CipherSuites = _suites.Select(s => (ushort)s).ToArray(),
            Extensions = extensions,
        };
        WriteClientHello();
        InstallClientEarlyKeys();
    }

    private void WriteClientHello() =>
        Send(EncryptionLevel.Initial, destination =>
            {
                int n = _clientHello!.Write(destination);
                PatchPskBinder(destination[..n]);
                return n;
            },
            2048 + TransportParametersLength + _alpn.Sum(a => a.Length + 1) + (_clientHello!.Extensions.ServerName?.Length ?? 0)
            + (_clientHello.Extensions.Cookie?.Length ?? 0) + (_clientHello.Extensions.PreSharedKey?.Length ?? 0));

    private QuicError OnServerHello(TlsHandshakeType type, byte[] message, ReadOnlyMemory<byte> body)
    {
        if (type != TlsHandshakeType.ServerHello) return Alert(TlsAlert.UnexpectedMessage, "expected ServerHello");
        if (!ServerHello.TryRead(body, out var hello, out var alert)) return Alert(alert, "malformed ServerHello");
        // §4.1.3/§4.2.1: TLS 1.3 is negotiated only through supported_versions.
        if (hello.Extensions.SelectedVersion is not { } version) return Alert(TlsAlert.ProtocolVersion, "server did not negotiate TLS 1.3");
        if (version != TlsExtensions.Tls13) return Alert(TlsAlert.IllegalParameter, "server selected a version that was not offered");
        if (!hello.LegacySessionIdEcho.Span.SequenceEqual(_clientHello!.LegacySessionId.Span))
            return Alert(TlsAlert.IllegalParameter, "legacy_session_id_echo does not match");
        if (Array.IndexOf(_suites, hello.CipherSuite) < 0) return Alert(TlsAlert.IllegalParameter, "server selected a cipher suite that was not offered");
        if (hello.IsHelloRetryRequest) return OnHelloRetryRequest(hello, message);

        if (_retrySuite is { } retrySuite && hello.CipherSuite != retrySuite)
            return Alert(TlsAlert.IllegalParameter, "ServerHello cipher suite differs from the HelloRetryRequest's");
        var pskError = OnServerSelectedPsk(hello);
        if (!pskError.IsNone) return pskError;
        if (hello.Extensions.ServerShare is not { } share) return Alert(TlsAlert.MissingExtension, "ServerHello without key_share");
        if (share.Group != _keyExchange!.Group) return Alert(TlsAlert.IllegalParameter, "server key_share for a group without a client share");
        if (!_keyExchange.TryDeriveSecret(share.KeyExchange.Span, out var shared)) return Alert(TlsAlert.IllegalParameter, "invalid server key share");

        NegotiatedCipherSuite = hello.CipherSuite;
        _transcript.Start(NegotiatedCipherSuite.Hash());
        _transcript.Add(message);
        DeriveHandshakeSecrets(shared);
        _keyExchange.Dispose();
        _keyExchange = null;
        _state = State.ClientWaitEncryptedExtensions;
        return default;
    }

    /// <summary>RFC 8446 §4.1.4: one retry, for a group we support but did not send a share for (or with a cookie).</summary>
    private QuicError OnHelloRetryRequest(ServerHello retry, byte[] message)
    {
        if (HelloRetryRequested) return Alert(TlsAlert.UnexpectedMessage, "second HelloRetryRequest");
        var selected = retry.Extensions.SelectedGroup;
        if (selected is { } g && (Array.IndexOf(_groups, g) < 0 || g == _keyExchange!.Group))
            return Alert(TlsAlert.IllegalParameter, "HelloRetryRequest for a group not offered or already shared");
        if (selected is null && retry.Extensions.Cookie is null)
            return Alert(TlsAlert.IllegalParameter, "HelloRetryRequest would not change the ClientHello");
        // The cookie is echoed inside ClientHello2's 16-bit extension block; a huge one could not be encoded.
        if (retry.Extensions.Cookie is { Length: > MaxCookieLength })
            return Alert(TlsAlert.IllegalParameter, "HelloRetryRequest cookie too large");

        HelloRetryRequested = true;
        _retrySuite = retry.CipherSuite;
        _transcript.Start(retry.CipherSuite.Hash());
        _transcript.ReplaceWithMessageHash();
        _transcript.Add(message);

        var extensions = _clientHello!.Extensions;
        if (selected is { } group)
        {
            _keyExchange!.Dispose();
            _keyExchange = KeyExchange.Create(group);
            extensions.KeyShares = [new KeyShareEntry(group, _keyExchange.PublicKey)];
        }
        // Not a conditional expression: a null byte[] would convert to an empty, non-null ReadOnlyMemory.
        extensions.Cookie = null;
        if (retry.Extensions.Cookie is { } cookie) extensions.Cookie = cookie.ToArray();
        AdjustOfferAfterRetry(extensions, retry.CipherSuite);
        WriteClientHello();
        return default;
    }

    private QuicError OnEncryptedExtensions(TlsHandshakeType type, byte[] message, ReadOnlyMemory<byte> body)
    {
        if (type != TlsHandshakeType.EncryptedExtensions) return Alert(TlsAlert.UnexpectedMessage, "expected EncryptedExtensions");
        if (!EncryptedExtensions.TryRead(body, out var ee, out var alert)) return Alert(alert, "malformed EncryptedExtensions");
        var x = ee.Extensions;
        // RFC 9001 §8.1: a QUIC server must select a protocol; one we did not offer is illegal (RFC 7301 §3.2).
        if (x.Alpn is not { Length: 1 } alpn) return Alert(TlsAlert.NoApplicationProtocol, "server selected no application protocol");
        if (IndexOfAlpn(alpn[0].Span) < 0) return Alert(TlsAlert.IllegalParameter, "server selected an application protocol that was not offered");
        if (!x.TryGetTransportParameters(QuicPerspective.Server, out var parameters, out alert, out var error))
            return alert != TlsAlert.None ? Alert(alert, "server sent no quic_transport_parameters") : error;
        var earlyError = OnEarlyDataAnswer(x, parameters!);
        if (!earlyError.IsNone) return earlyError;
        NegotiatedApplicationProtocol = Encoding.UTF8.GetString(alpn[0].Span);
        PeerTransportParameters = parameters;
        _transcript.Add(message);
        // A resumed handshake has no Certificate/CertificateVerify (RFC 8446 §2.2): the PSK authenticates the server.
        _state = IsResumed ? State.ClientWaitFinished : State.ClientWaitCertificate;
        return default;
    }

    private QuicError OnCertificate(TlsHandshakeType type, byte[] message, ReadOnlyMemory<byte> body)
    {
        if (type == TlsHandshakeType.CertificateRequest && _certificateRequestContext is null) return OnCertificateRequest(message, body);
        if (type != TlsHandshakeType.Certificate) return Alert(TlsAlert.UnexpectedMessage, "expected Certificate");
        if (!Certificate.TryRead(body, out var certificate, out var alert)) return Alert(alert, "malformed Certificate");
        if (!certificate.RequestContext.IsEmpty) return Alert(TlsAlert.IllegalParameter, "server Certificate with a request context");
        // §4.4.2.4: an empty server Certificate is a decode_error.
        if (certificate.Entries.Length == 0) return Alert(TlsAlert.DecodeError, "server sent no certificate");
        X509Certificate2 leaf;
        var intermediates = new X509Certificate2Collection();
        try
        {
            leaf = X509CertificateLoader.LoadCertificate(certificate.Entries[0].Data.Span);
            for (int i = 1; i < certificate.Entries.Length; i++)
                intermediates.Add(X509CertificateLoader.LoadCertificate(certificate.Entries[i].Data.Span));
        }
        catch (CryptographicException)
        {
            return Alert(TlsAlert.BadCertificate, "server certificate does not parse");
        }
        PeerCertificate = leaf;
        try
        {
            if (!HasUsableKey(leaf)) return Alert(TlsAlert.UnsupportedCertificate, "server certificate key is neither ECDSA nor RSA");
            if (!_options.SkipCertificateValidation)
            {
                var result = CertificateValidation.Validate(leaf, intermediates, _options, out var reason);
                if (result != TlsAlert.None) return Alert(result, reason);
            }
        }
        catch (Exception e) when (e is CryptographicException or NotSupportedException)
        {
            // A certificate that parses at the top level can still carry a key or extension the platform rejects.
            return Alert(TlsAlert.BadCertificate, "server certificate key or extensions are unusable");
        }
        _transcript.Add(message);
        _state = State.ClientWaitCertificateVerify;
        return default;
    }

    private static bool HasUsableKey(X509Certificate2 leaf)
    {
        using (var ec = leaf.GetECDsaPublicKey()) if (ec is not null) return true;
        using var rsa = leaf.GetRSAPublicKey();
        return rsa is not null;
    }

    /// <summary>
    /// CertificateRequest (§4.3.2): <c>opaque certificate_request_context&lt;0..2^8-1&gt;; Extension extensions&lt;2..2^16-1&gt;</c>.
    /// This client has no certificate; it answers with an empty Certificate before its Finished (§4.4.2).
    /// </summary>
    private QuicError OnCertificateRequest(byte[] message, ReadOnlyMemory<byte> body)
    {
        var r = new TlsReader(body);
        if (!r.TryReadVector(1, 0, 255, out var context) || !r.TryReadVector(2, 2, 0xFFFF, out _) || !r.IsEnd)
            return Alert(TlsAlert.DecodeError, "malformed CertificateRequest");
        _certificateRequestContext = context.ToArray();
        _transcript.Add(message);
        return default;
    }

    private QuicError OnCertificateVerify(TlsHandshakeType type, byte[] message, ReadOnlyMemory<byte> body)
    {
        if (type != TlsHandshakeType.CertificateVerify) return Alert(TlsAlert.UnexpectedMessage, "expected CertificateVerify");
        if (!CertificateVerify.TryRead(body, out var verify, out var alert)) return Alert(alert, "malformed CertificateVerify");
        var content = CertificateVerify.BuildSignedContent(server: true, _transcript.CurrentHash());
        alert = TlsSignatures.Verify(PeerCertificate!, verify.Algorithm, content, verify.Signature.Span);
        if (alert != TlsAlert.None)
            return Alert(alert, alert == TlsAlert.DecryptError ? "CertificateVerify signature does not verify" : "CertificateVerify scheme not offered or not matching the key");
        _transcript.Add(message);
        _state = State.ClientWaitFinished;
        return default;
    }

    private QuicError OnServerFinished(TlsHandshakeType type, byte[] message, ReadOnlyMemory<byte> body)
    {
        if (type != TlsHandshakeType.Finished) return Alert(TlsAlert.UnexpectedMessage, "expected Finished");
        if (!Finished.TryRead(body, _schedule!.HashLength, out var finished, out var alert)) return Alert(alert, "malformed Finished");
        if (!_schedule.VerifyFinished(_serverHandshakeSecret, _transcript.CurrentHash(), finished.VerifyData.Span))
            return Alert(TlsAlert.DecryptError, "server Finished does not verify");
        _transcript.Add(message);
        DeriveApplicationSecrets();

        if (_certificateRequestContext is { } context)
        {
            var empty = new Certificate { RequestContext = context };
            Send(EncryptionLevel.Handshake, empty.Write, 512);
        }
        var mine = new Finished { VerifyData = _schedule.ComputeVerifyData(_clientHandshakeSecret, _transcript.CurrentHash()) };
        Send(EncryptionLevel.Handshake, mine.Write, 128);
        DeriveResumptionMasterSecret();
        _state = State.Complete;
        _sink.HandshakeCompleted();
        return default;
    }
}
