using System.Security.Cryptography;
using System.Text;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Tls.Messages;
using FastRelay.Protocols.Quic.Tls.Resumption;

namespace FastRelay.Protocols.Quic.Tls.Handshake;

/// <summary>Server side: ClientHello → (HelloRetryRequest, ClientHello) → ServerHello, EncryptedExtensions, Certificate,
/// CertificateVerify, Finished → Finished (RFC 8446 §2); with a valid ticket ServerHello, EncryptedExtensions, Finished
/// (§2.2) and possibly 0-RTT accepted; a NewSessionTicket after the client Finished when tickets are enabled.</summary>
public sealed partial class TlsHandshake
{
    private AsymmetricAlgorithm? _signingKey;
    private SignatureScheme[] _signingSchemes = [];
    private NamedGroup? _retryGroup;

    private QuicError OnClientHello(TlsHandshakeType type, byte[] message, ReadOnlyMemory<byte> body)
    {
        if (type != TlsHandshakeType.ClientHello) return Alert(TlsAlert.UnexpectedMessage, "expected ClientHello");
        if (!ClientHello.TryRead(body, out var hello, out var alert)) return Alert(alert, "malformed ClientHello");
        var x = hello.Extensions;
        // §4.2.1: without supported_versions (or without 0x0304 in it) this is not a TLS 1.3 client.
        if (x.SupportedVersions is not { } versions || Array.IndexOf(versions, TlsExtensions.Tls13) < 0)
            return Alert(TlsAlert.ProtocolVersion, "client does not offer TLS 1.3");

        // Cipher suite: the server's preference among the client's offer; unchanged across a retry (§4.1.4).
        CipherSuite suite;
        if (HelloRetryRequested)
        {
            suite = NegotiatedCipherSuite;
            if (!hello.Offers(suite)) return Alert(TlsAlert.IllegalParameter, "second ClientHello no longer offers the cipher suite");
        }
        else
        {
            int s = Array.FindIndex(_suites, hello.Offers);
            if (s < 0) return Alert(TlsAlert.HandshakeFailure, "no common cipher suite");
            suite = _suites[s];
        }

        if (x.SignatureAlgorithms is not { } schemes) return Alert(TlsAlert.MissingExtension, "ClientHello without signature_algorithms");
        int schemeIndex = Array.FindIndex(_signingSchemes, sc => Array.IndexOf(schemes, sc) >= 0);
        if (schemeIndex < 0) return Alert(TlsAlert.HandshakeFailure, "no signature scheme usable with the server certificate");
        var scheme = _signingSchemes[schemeIndex];

        if (x.SupportedGroups is not { } clientGroups) return Alert(TlsAlert.MissingExtension, "ClientHello without supported_groups");
        if (x.KeyShares is not { } shares) return Alert(TlsAlert.MissingExtension, "ClientHello without key_share");
        // §4.2.8: every share must be for a group listed in supported_groups.
        foreach (var share in shares)
            if (Array.IndexOf(clientGroups, share.Group) < 0) return Alert(TlsAlert.IllegalParameter, "key_share for a group not in supported_groups");

        KeyShareEntry? chosen = null;
        if (_retryGroup is { } retryGroup)
        {
            // §4.1.2: after a retry the key_share holds exactly the requested group.
            if (shares.Length != 1 || shares[0].Group != retryGroup)
                return Alert(TlsAlert.IllegalParameter, "second ClientHello without a share for the requested group");
            chosen = shares[0];
        }
        else
        {
            foreach (var g in _groups)
            {
                int k = Array.FindIndex(shares, e => e.Group == g);
                if (k >= 0) { chosen = shares[k]; break; }
            }
        }

        // ALPN and transport parameters are checked before a retry so that a doomed handshake ends at once.
        if (x.Alpn is not { } offered) return Alert(TlsAlert.NoApplicationProtocol, "ClientHello without ALPN");
        int alpnIndex = Array.FindIndex(_alpn, mine => offered.Any(o => o.Span.SequenceEqual(mine)));
        if (alpnIndex < 0) return Alert(TlsAlert.NoApplicationProtocol, "no common application protocol");
        if (!x.TryGetTransportParameters(QuicPerspective.Client, out var parameters, out alert, out var error))
            return alert != TlsAlert.None ? Alert(alert, "client sent no quic_transport_parameters") : error;

        if (chosen is null)
        {
            int g = Array.FindIndex(_groups, mine => Array.IndexOf(clientGroups, mine) >= 0);
            if (g < 0) return Alert(TlsAlert.HandshakeFailure, "no common key exchange group");
            return SendHelloRetryRequest(hello, suite, _groups[g], message);
        }

        var versionError = _sink.OnClientTransportParameters(parameters);
        if (!versionError.IsNone) return versionError;

        var pskError = TryAcceptPsk(hello, message, ref suite, out var resumption, out uint clientAgeMs);
        if (!pskError.IsNone) return pskError;
        string alpn = Encoding.UTF8.GetString(_alpn[alpnIndex]);
        bool earlyData = resumption is not null && DecideEarlyData(hello, suite, alpn, resumption, clientAgeMs);

        using var keyExchange = KeyExchange.Create(chosen.Value.Group);
        if (!keyExchange.TryDeriveSecret(chosen.Value.KeyExchange.Span, out var shared))
            return Alert(TlsAlert.IllegalParameter, "invalid client key share");

        NegotiatedCipherSuite = suite;
        NegotiatedApplicationProtocol = alpn;
        PeerTransportParameters = parameters;
        if (x.ServerName is { } sni) ReceivedServerName = Encoding.ASCII.GetString(sni.Span);
        _transcript.Start(suite.Hash());
        _transcript.Add(message);
        if (earlyData)
        {
            // client_early_traffic_secret over the ClientHello alone: the 0-RTT read keys (RFC 9001 §4.6.1).
            var early = new TlsKeySchedule(suite, _psk);
            var secret = early.ClientEarlyTrafficSecret(_transcript.CurrentHash());
            _sink.InstallEarlySecret(suite, secret);
            CryptographicOperations.ZeroMemory(secret);
            CryptographicOperations.ZeroMemory(early.EarlySecret);
        }

        var serverHello = new ServerHello
        {
            Random = RandomNumberGenerator.GetBytes(32),
            LegacySessionIdEcho = hello.LegacySessionId.ToArray(),
            CipherSuite = suite,
            Extensions = new TlsExtensions
            {
                SelectedVersion = TlsExtensions.Tls13,
                ServerShare = new KeyShareEntry(keyExchange.Group, keyExchange.PublicKey),
            },
        };
        // Not a conditional expression: a null byte[] would convert to an empty, non-null ReadOnlyMemory.
        if (IsResumed) serverHello.Extensions.PreSharedKey = OfferedPsks.EncodeSelectedIdentity(0);
        Send(EncryptionLevel.Initial, serverHello.Write, 512);
        DeriveHandshakeSecrets(shared);

        var encrypted = new EncryptedExtensions { Extensions = NewExtensionsWithTransportParameters() };
        encrypted.Extensions.Alpn = [_alpn[alpnIndex]];
        encrypted.Extensions.EarlyData = earlyData;
        Send(EncryptionLevel.Handshake, encrypted.Write, 512 + TransportParametersLength);
        if (!IsResumed) SendCertificateAndVerify(scheme);

        var finished = new Finished { VerifyData = _schedule!.ComputeVerifyData(_serverHandshakeSecret, _transcript.CurrentHash()) };
        Send(EncryptionLevel.Handshake, finished.Write, 128);
        DeriveApplicationSecrets();
        _state = State.ServerWaitFinished;
        return default;
    }

    private void SendCertificateAndVerify(SignatureScheme scheme)
    {

        var leaf = _options.Certificate!.RawData;
        var certificate = new Certificate { Entries = [new CertificateEntry(leaf, ReadOnlyMemory<byte>.Empty)] };
        Send(EncryptionLevel.Handshake, certificate.Write, 64 + leaf.Length);

        var content = CertificateVerify.BuildSignedContent(server: true, _transcript.CurrentHash());
        var verify = new CertificateVerify { Algorithm = scheme, Signature = TlsSignatures.Sign(_signingKey!, scheme, content) };
        Send(EncryptionLevel.Handshake, verify.Write, 64 + verify.Signature.Length);
    }

    /// <summary>§4.1.4: ask for a share of <paramref name="group"/>; the transcript restarts with message_hash(ClientHello1).</summary>
    private QuicError SendHelloRetryRequest(ClientHello hello, CipherSuite suite, NamedGroup group, byte[] clientHello)
    {
        if (HelloRetryRequested) return Alert(TlsAlert.IllegalParameter, "second ClientHello still without a usable key share");
        HelloRetryRequested = true;
        _retryGroup = group;
        NegotiatedCipherSuite = suite;
        _transcript.Start(suite.Hash());
        _transcript.Add(clientHello);
        _transcript.ReplaceWithMessageHash();
        var retry = new ServerHello
        {
            LegacySessionIdEcho = hello.LegacySessionId.ToArray(),
            CipherSuite = suite,
            Extensions = new TlsExtensions { SelectedVersion = TlsExtensions.Tls13, SelectedGroup = group },
        };
        retry.SetHelloRetryRequest();
        Send(EncryptionLevel.Initial, retry.Write, 256);
        return default;
    }

    private QuicError OnClientFinished(TlsHandshakeType type, byte[] message, ReadOnlyMemory<byte> body)
    {
        if (type != TlsHandshakeType.Finished) return Alert(TlsAlert.UnexpectedMessage, "expected client Finished");
        if (!Finished.TryRead(body, _schedule!.HashLength, out var finished, out var alert)) return Alert(alert, "malformed Finished");
        if (!_schedule.VerifyFinished(_clientHandshakeSecret, _transcript.CurrentHash(), finished.VerifyData.Span))
            return Alert(TlsAlert.DecryptError, "client Finished does not verify");
        _transcript.Add(message);
        DeriveResumptionMasterSecret();
        SendNewSessionTicket();
        _state = State.Complete;
        _sink.HandshakeCompleted();
        return default;
    }
}
