using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Tls.Handshake;

/// <summary>
/// A TLS 1.3 handshake (RFC 8446) as QUIC uses it (RFC 9001 §4): no records, handshake messages are exchanged per
/// <see cref="EncryptionLevel"/> through CRYPTO frames, secrets go to the connection through <see cref="ITlsHandshakeSink"/>.
/// Full (EC)DHE handshakes, and resumption with session tickets + 0-RTT (psk_dhe_ke, TlsHandshake.Resumption.cs). No
/// client certificates (a client answers a CertificateRequest with an empty Certificate).
/// <para>
/// Errors never throw: <see cref="TryProcess"/> returns false with CRYPTO_ERROR (0x100 + alert) or the transport
/// parameter error, and every later call returns the same error. One instance per connection; not thread-safe.
/// </para>
/// </summary>
public sealed partial class TlsHandshake : IDisposable
{
    private enum State : byte
    {
        ClientStart,
        ClientWaitServerHello,
        ClientWaitEncryptedExtensions,
        ClientWaitCertificate,
        ClientWaitCertificateVerify,
        ClientWaitFinished,
        ServerWaitClientHello,
        ServerWaitFinished,
        Complete,
    }

    /// <summary>Received bytes buffered per level: at most one maximal message (header + 64 KiB body).</summary>
    private const int MaxBuffered = HandshakeMessage.HeaderLength + HandshakeMessage.DefaultMaxBodyLength;

    private readonly bool _isServer;
    private readonly TlsHandshakeOptions _options;
    private readonly ITlsHandshakeSink _sink;
    private readonly CipherSuite[] _suites;
    private readonly NamedGroup[] _groups;
    private readonly byte[][] _alpn;
    private readonly Transcript _transcript = new();
    private readonly byte[][] _buffers = new byte[3][];
    private readonly int[] _buffered = new int[3];

    private State _state;
    private QuicError _error;
    private bool _failed;
    private TlsKeySchedule? _schedule;
    private KeyExchange? _keyExchange;
    private byte[]? _clientHandshakeSecret;
    private byte[]? _serverHandshakeSecret;
    private bool _disposed;

    public bool IsComplete => _state == State.Complete && !_failed;
    /// <summary>Server: the ClientHello was processed (the state moved on from waiting for it).</summary>
    public bool IsStarted => _state != State.ServerWaitClientHello && _state != State.ClientStart;
    public TransportParameters? PeerTransportParameters { get; private set; }
    public string? NegotiatedApplicationProtocol { get; private set; }
    public CipherSuite NegotiatedCipherSuite { get; private set; }
    public X509Certificate2? PeerCertificate { get; private set; }
    /// <summary>Server: the SNI host_name the client sent (null when none).</summary>
    public string? ReceivedServerName { get; private set; }
    /// <summary>Client: a HelloRetryRequest was received. Server: one was sent.</summary>
    public bool HelloRetryRequested { get; private set; }

    private TlsHandshake(bool isServer, TlsHandshakeOptions options, ITlsHandshakeSink sink)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(options.LocalTransportParameters);
        if (options.ApplicationProtocols is null || options.ApplicationProtocols.Count == 0)
            throw new ArgumentException("at least one application protocol (ALPN) is required in QUIC", nameof(options));
        _isServer = isServer;
        _options = options;
        _sink = sink;
        _suites = options.EffectiveSuites();
        _groups = options.EffectiveGroups();
        _alpn = options.ApplicationProtocols.Select(p =>
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(p);
            if (bytes.Length is 0 or > 255) throw new ArgumentException("ALPN names are 1..255 bytes", nameof(options));
            return bytes;
        }).ToArray();
        _state = isServer ? State.ServerWaitClientHello : State.ClientStart;
    }

    public static TlsHandshake CreateClient(TlsHandshakeOptions options, ITlsHandshakeSink sink) => new(false, options, sink);

    public static TlsHandshake CreateServer(TlsHandshakeOptions options, ITlsHandshakeSink sink)
    {
        var handshake = new TlsHandshake(true, options, sink);
        if (options.Certificate is null) throw new ArgumentException("a server needs a certificate", nameof(options));
        handshake._signingKey = TlsSignatures.GetSigningKey(options.Certificate, out handshake._signingSchemes);
        return handshake;
    }

    /// <summary>Client: writes the ClientHello at Initial. Server: nothing (it waits for the ClientHello).</summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_isServer || _state != State.ClientStart) return;
        SendClientHello();
        _state = State.ClientWaitServerHello;
    }

    private EncryptionLevel ExpectedLevel => _state switch
    {
        State.ClientStart or State.ClientWaitServerHello or State.ServerWaitClientHello => EncryptionLevel.Initial,
        State.Complete => EncryptionLevel.OneRtt,
        _ => EncryptionLevel.Handshake,
    };

    /// <summary>
    /// In-order, contiguous CRYPTO bytes received at a level (partial or several messages are fine; buffering is bounded
    /// to one maximal message per level). False + error on failure: TLS problems as CRYPTO_ERROR (0x100 + alert),
    /// transport parameter problems as TRANSPORT_PARAMETER_ERROR.
    /// </summary>
    public bool TryProcess(EncryptionLevel level, ReadOnlySpan<byte> data, out QuicError error)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_failed) { error = _error; return false; }
        if (data.IsEmpty) { error = default; return true; }
        if ((uint)level > (uint)EncryptionLevel.OneRtt || level != ExpectedLevel || _state == State.ClientStart)
            return Fail(Alert(TlsAlert.UnexpectedMessage, "handshake data at an unexpected encryption level"), out error);
        try
        {
            while (!data.IsEmpty)
            {
                if (level != ExpectedLevel)
                    return Fail(Alert(TlsAlert.UnexpectedMessage, "handshake data after a key change at the old level"), out error);
                int i = (int)level;
                int take = Math.Min(data.Length, MaxBuffered - _buffered[i]);
                Append(i, data[..take]);
                data = data[take..];
                var e = Drain(level);
                if (!e.IsNone) return Fail(e, out error);
            }
            // A message must not span a key change (RFC 8446 §5.1; RFC 9001 §4.1.3).
            if (level != ExpectedLevel && _buffered[(int)level] > 0)
                return Fail(Alert(TlsAlert.UnexpectedMessage, "partial message left at a level whose keys changed"), out error);
        }
        catch (CryptographicException)
        {
            return Fail(Alert(TlsAlert.InternalError, "cryptographic operation failed"), out error);
        }
        error = default;
        return true;
    }

    private void Append(int level, ReadOnlySpan<byte> data)
    {
        var buffer = _buffers[level];
        int needed = _buffered[level] + data.Length;
        if (buffer is null || buffer.Length < needed)
        {
            var bigger = new byte[Math.Min(MaxBuffered, Math.Max(needed, Math.Max(1024, (buffer?.Length ?? 0) * 2)))];
            buffer?.AsSpan(0, _buffered[level]).CopyTo(bigger);
            _buffers[level] = buffer = bigger;
        }
        data.CopyTo(buffer.AsSpan(_buffered[level]));
        _buffered[level] = needed;
    }

    /// <summary>Processes every complete message buffered at <paramref name="level"/>.</summary>
    private QuicError Drain(EncryptionLevel level)
    {
        int i = (int)level;
        while (_buffered[i] > 0)
        {
            if (level != ExpectedLevel) return Alert(TlsAlert.UnexpectedMessage, "handshake message after a key change at the old level");
            var buffer = _buffers[i];
            if (!HandshakeMessage.TryRead(buffer.AsMemory(0, _buffered[i]), out var type, out _, out int consumed, out var alert))
                return alert == TlsAlert.None ? default : Alert(alert, "handshake message longer than the buffering limit");
            // Own copy: decoded messages slice their bytes, and the level buffer is compacted below.
            var message = buffer.AsSpan(0, consumed).ToArray();
            buffer.AsSpan(consumed, _buffered[i] - consumed).CopyTo(buffer);
            _buffered[i] -= consumed;
            var e = Handle(level, type, message);
            if (!e.IsNone) return e;
        }
        return default;
    }

    private QuicError Handle(EncryptionLevel level, TlsHandshakeType type, byte[] message)
    {
        var body = message.AsMemory(HandshakeMessage.HeaderLength);
        // RFC 9001 §6: TLS KeyUpdate is forbidden in QUIC, whatever the state.
        if (type == TlsHandshakeType.KeyUpdate) return Alert(TlsAlert.UnexpectedMessage, "TLS KeyUpdate is not allowed in QUIC");
        return _state switch
        {
            State.ClientWaitServerHello => OnServerHello(type, message, body),
            State.ClientWaitEncryptedExtensions => OnEncryptedExtensions(type, message, body),
            State.ClientWaitCertificate => OnCertificate(type, message, body),
            State.ClientWaitCertificateVerify => OnCertificateVerify(type, message, body),
            State.ClientWaitFinished => OnServerFinished(type, message, body),
            State.ServerWaitClientHello => OnClientHello(type, message, body),
            State.ServerWaitFinished => OnClientFinished(type, message, body),
            State.Complete when !_isServer && type == TlsHandshakeType.NewSessionTicket => OnNewSessionTicket(body),
            _ => Alert(TlsAlert.UnexpectedMessage, "unexpected handshake message"),
        };
    }

    private static QuicError Alert(TlsAlert alert, string reason) => QuicError.Crypto((byte)alert, reason);

    private bool Fail(QuicError e, out QuicError error)
    {
        _failed = true;
        _error = e;
        error = e;
        return false;
    }

    private delegate int MessageWriter(Span<byte> destination);

    /// <summary>Encodes a message, adds it to the transcript and hands it to the connection.</summary>
    private void Send(EncryptionLevel level, MessageWriter write, int sizeHint)
    {
        var buffer = new byte[sizeHint];
        int n = write(buffer);
        _transcript.Add(buffer.AsSpan(0, n));
        _sink.WriteCrypto(level, buffer.AsSpan(0, n));
    }

    private void Install(EncryptionLevel level, byte[] clientSecret, byte[] serverSecret)
    {
        if (_isServer) _sink.InstallSecrets(level, NegotiatedCipherSuite, clientSecret, serverSecret);
        else _sink.InstallSecrets(level, NegotiatedCipherSuite, serverSecret, clientSecret);
    }

    /// <summary>Handshake traffic secrets from the transcript through ServerHello.</summary>
    private void DeriveHandshakeSecrets(byte[] sharedSecret)
    {
        _schedule = new TlsKeySchedule(NegotiatedCipherSuite, _psk);
        _schedule.DeriveHandshakeSecret(sharedSecret);
        CryptographicOperations.ZeroMemory(sharedSecret);
        var hash = _transcript.CurrentHash();
        _clientHandshakeSecret = _schedule.ClientHandshakeTrafficSecret(hash);
        _serverHandshakeSecret = _schedule.ServerHandshakeTrafficSecret(hash);
        Install(EncryptionLevel.Handshake, _clientHandshakeSecret, _serverHandshakeSecret);
    }

    /// <summary>Application traffic secrets from the transcript through the server Finished.</summary>
    private void DeriveApplicationSecrets()
    {
        _schedule!.DeriveMasterSecret();
        var hash = _transcript.CurrentHash();
        var client = _schedule.ClientApplicationTrafficSecret(hash);
        var server = _schedule.ServerApplicationTrafficSecret(hash);
        Install(EncryptionLevel.OneRtt, client, server);
        CryptographicOperations.ZeroMemory(client);
        CryptographicOperations.ZeroMemory(server);
    }

    private int IndexOfAlpn(ReadOnlySpan<byte> name)
    {
        for (int i = 0; i < _alpn.Length; i++)
            if (name.SequenceEqual(_alpn[i])) return i;
        return -1;
    }

    private TlsExtensions NewExtensionsWithTransportParameters() => new()
    {
        QuicTransportParameters = _options.LocalTransportParameters.Encode(),
    };

    private int TransportParametersLength => _options.LocalTransportParameters.GetEncodedLength();

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _keyExchange?.Dispose();
        _transcript.Dispose();
        if (_clientHandshakeSecret is not null) CryptographicOperations.ZeroMemory(_clientHandshakeSecret);
        if (_serverHandshakeSecret is not null) CryptographicOperations.ZeroMemory(_serverHandshakeSecret);
        _signingKey?.Dispose();
    }
}
