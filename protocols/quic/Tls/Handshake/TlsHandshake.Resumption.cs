using System.Security.Cryptography;
using System.Text;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Tls.Messages;
using FastRelay.Protocols.Quic.Tls.Resumption;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Tls.Handshake;

/// <summary>Early data as the handshake sees it.</summary>
public enum EarlyDataState : byte
{
    /// <summary>Not offered (client) or not asked for (server).</summary>
    NotAttempted,
    /// <summary>Client: offered, no answer yet.</summary>
    Offered,
    Accepted,
    Rejected,
}

/// <summary>
/// Session resumption and 0-RTT (RFC 8446 §2.2/§2.3, §4.2.10, §4.2.11, §4.6.1; RFC 9001 §4.5/§4.6). Only psk_dhe_ke is
/// offered and accepted (a fresh (EC)DHE share keeps forward secrecy), one identity per ClientHello. Server tickets are
/// stateless (<see cref="SessionTicketProtector"/>). No EndOfEarlyData in QUIC (RFC 9001 §8.3).
/// </summary>
public sealed partial class TlsHandshake
{
    /// <summary>psk_key_exchange_modes: psk_dhe_ke (RFC 8446 §4.2.9).</summary>
    private const byte PskDheKe = 1;
    /// <summary>RFC 9001 §4.6.1: the only max_early_data_size that allows 0-RTT in QUIC.</summary>
    private const uint QuicMaxEarlyDataSize = 0xFFFFFFFF;

    private byte[]? _psk;
    private SessionTicket? _offeredTicket;
    private TlsKeySchedule? _pskSchedule;

    /// <summary>The handshake was resumed with a PSK (no certificate was exchanged).</summary>
    public bool IsResumed { get; private set; }
    public EarlyDataState EarlyData { get; private set; }

    private long NowUnixMs => _options.Time.GetUtcNow().ToUnixTimeMilliseconds();

    // ---- Client ----

    /// <summary>Adds pre_shared_key (+ psk_key_exchange_modes, + early_data) to the first ClientHello when a usable ticket is there.</summary>
    private void OfferTicket(TlsExtensions extensions)
    {
        if (_options.ResumptionTicket is not { } ticket || ticket.IsExpired(NowUnixMs)) return;
        if (Array.IndexOf(_suites, ticket.CipherSuite) < 0 || IndexOfAlpn(Encoding.UTF8.GetBytes(ticket.ApplicationProtocol)) < 0) return;
        _offeredTicket = ticket;
        _pskSchedule = new TlsKeySchedule(ticket.CipherSuite, ticket.Psk);
        extensions.PskKeyExchangeModes = new byte[] { PskDheKe };
        if (_options.EnableEarlyData && ticket.AllowsEarlyData)
        {
            extensions.EarlyData = true;
            EarlyData = EarlyDataState.Offered;
        }
        extensions.PreSharedKey = PskOffer(ticket, ticket.CipherSuite.HashLength());
    }

    private ReadOnlyMemory<byte> PskOffer(SessionTicket ticket, int binderLength) => new OfferedPsks
    {
        Identities = [new PskIdentity(ticket.Ticket, ticket.ObfuscatedAge(NowUnixMs))],
        Binders = [new byte[binderLength]],
    }.Encode();

    /// <summary>Fills in the binder of an encoded ClientHello (RFC 8446 §4.2.11.2): HMAC over the transcript + partial ClientHello.</summary>
    private void PatchPskBinder(Span<byte> clientHello)
    {
        if (_offeredTicket is null || _clientHello!.Extensions.PreSharedKey is null) return;
        int hashLength = _pskSchedule!.HashLength;
        int bindersLength = 2 + 1 + hashLength;
        var partialHash = _transcript.HashWith(_pskSchedule.Hash, clientHello[..^bindersLength]);
        var binderKey = _pskSchedule.BinderKey(resumption: true);
        var binder = _pskSchedule.ComputeVerifyData(binderKey, partialHash);
        CryptographicOperations.ZeroMemory(binderKey);
        OfferedPsks.PatchBinder(clientHello, binder);
    }

    /// <summary>After the first ClientHello went out with early_data: the 0-RTT write keys (transcript: ClientHello).</summary>
    private void InstallClientEarlyKeys()
    {
        if (EarlyData != EarlyDataState.Offered) return;
        var secret = _pskSchedule!.ClientEarlyTrafficSecret(_transcript.HashWith(_pskSchedule.Hash, default));
        _sink.InstallEarlySecret(_offeredTicket!.CipherSuite, secret);
        CryptographicOperations.ZeroMemory(secret);
    }

    /// <summary>HelloRetryRequest: early data is over (§4.2.10); the PSK stays only if its hash matches the new suite.</summary>
    private void AdjustOfferAfterRetry(TlsExtensions extensions, CipherSuite retrySuite)
    {
        if (EarlyData == EarlyDataState.Offered)
        {
            EarlyData = EarlyDataState.Rejected;
            _sink.EarlyDataResolved(false);
        }
        extensions.EarlyData = false;
        if (_offeredTicket is null) return;
        if (_offeredTicket.CipherSuite.Hash() != retrySuite.Hash())
        {
            extensions.PreSharedKey = null;
            extensions.PskKeyExchangeModes = null;
            _offeredTicket = null;
            return;
        }
        // The age is sent again, updated (§4.1.2 allows it), the binder recomputed over the new transcript.
        extensions.PreSharedKey = PskOffer(_offeredTicket, _offeredTicket.CipherSuite.HashLength());
    }

    /// <summary>ServerHello with pre_shared_key: check the selection, then the key schedule starts from the PSK.</summary>
    private QuicError OnServerSelectedPsk(ServerHello hello)
    {
        if (hello.Extensions.PreSharedKey is not { } selected) return default;
        if (_offeredTicket is null || _clientHello!.Extensions.PreSharedKey is null)
            return Alert(TlsAlert.IllegalParameter, "pre_shared_key selected but none offered");
        if (!OfferedPsks.TryReadSelectedIdentity(selected, out ushort index)) return Alert(TlsAlert.DecodeError, "malformed pre_shared_key");
        if (index != 0) return Alert(TlsAlert.IllegalParameter, "server selected a PSK identity that was not offered");
        if (hello.CipherSuite.Hash() != _offeredTicket.CipherSuite.Hash())
            return Alert(TlsAlert.IllegalParameter, "server selected a cipher suite whose hash does not match the PSK");
        _psk = _offeredTicket.Psk;
        IsResumed = true;
        return default;
    }

    /// <summary>EncryptedExtensions' early_data decides 0-RTT (RFC 8446 §4.2.10; RFC 9000 §7.4.1 for the transport parameters).</summary>
    private QuicError OnEarlyDataAnswer(TlsExtensions x, TransportParameters serverParameters)
    {
        if (x.EarlyData)
        {
            if (EarlyData != EarlyDataState.Offered || !IsResumed) return Alert(TlsAlert.UnsupportedExtension, "early_data accepted but not offered");
            if (!RememberedTransportParameters.From(serverParameters).AllowsEarlyDataUnder(_offeredTicket!.ServerTransportParameters))
                return QuicError.Protocol("server accepted 0-RTT but lowered a remembered transport parameter");
            EarlyData = EarlyDataState.Accepted;
            _sink.EarlyDataResolved(true);
        }
        else if (EarlyData == EarlyDataState.Offered)
        {
            EarlyData = EarlyDataState.Rejected;
            _sink.EarlyDataResolved(false);
        }
        return default;
    }

    private byte[]? _resumptionMasterSecret;

    /// <summary>resumption_master_secret: transcript through the client Finished (both sides, RFC 8446 §7.1).</summary>
    private void DeriveResumptionMasterSecret() => _resumptionMasterSecret = _schedule!.ResumptionMasterSecret(_transcript.CurrentHash());

    /// <summary>Client: NewSessionTicket → a stored ticket (RFC 8446 §4.6.1). max_early_data_size other than 0xffffffff is a
    /// PROTOCOL_VIOLATION in QUIC (RFC 9001 §4.6.1).</summary>
    private QuicError OnNewSessionTicket(ReadOnlyMemory<byte> body)
    {
        if (!NewSessionTicket.TryRead(body, out var message, out var alert)) return Alert(alert, "malformed NewSessionTicket");
        if (message.Extensions.MaxEarlyDataSize is { } max && max != QuicMaxEarlyDataSize)
            return QuicError.Protocol("NewSessionTicket with a max_early_data_size other than 0xffffffff");
        if (_options.TicketReceived is not { } received || _resumptionMasterSecret is null || message.LifetimeSeconds == 0) return default;
        received(new SessionTicket
        {
            ServerName = _options.ServerName ?? "",
            ApplicationProtocol = NegotiatedApplicationProtocol!,
            CipherSuite = NegotiatedCipherSuite,
            Psk = _schedule!.ResumptionPsk(_resumptionMasterSecret, message.Nonce.Span),
            Ticket = message.Ticket.ToArray(),
            ReceivedAtUnixMs = NowUnixMs,
            LifetimeSeconds = message.LifetimeSeconds,
            AgeAdd = message.AgeAdd,
            AllowsEarlyData = message.Extensions.MaxEarlyDataSize == QuicMaxEarlyDataSize,
            ServerTransportParameters = RememberedTransportParameters.From(PeerTransportParameters!),
            QuicVersion = _sink.ConnectionVersion,
        });
        return default;
    }

    // ---- Server ----

    /// <summary>
    /// Looks at the client's PSK offer. Anything that does not resume (no ticket key, a ticket that does not open, an expired
    /// ticket, an incompatible hash) just means a full handshake; a ticket that opens but whose binder does not verify is
    /// fatal (decrypt_error, §4.2.11). Returns the suite to use (the ticket's when the client offers it).
    /// </summary>
    private QuicError TryAcceptPsk(ClientHello hello, byte[] message, ref CipherSuite suite, out ResumptionState? accepted, out uint clientAgeMs)
    {
        accepted = null;
        clientAgeMs = 0;
        var x = hello.Extensions;
        if (_options.TicketProtector is not { } protector || x.PreSharedKey is not { } raw) return default;
        // §4.2.9: without psk_key_exchange_modes a PSK offer is an illegal ClientHello; without psk_dhe_ke we do not resume.
        if (x.PskKeyExchangeModes is not { } modes) return Alert(TlsAlert.MissingExtension, "pre_shared_key without psk_key_exchange_modes");
        if (modes.Span.IndexOf(PskDheKe) < 0) return default;
        if (!OfferedPsks.TryRead(raw, out var offered)) return Alert(TlsAlert.DecodeError, "malformed pre_shared_key");
        var identity = offered!.Identities[0];
        if (!protector.TryOpen(identity.Identity.Span, out var state)) return default;
        long now = NowUnixMs;
        if (now - state!.IssuedAtUnixMs >= protector.LifetimeSeconds * 1000L || now < state.IssuedAtUnixMs - 60_000) return default;
        // RFC 9369 §5: a ticket from a connection of another QUIC version falls back to a full handshake.
        if (state.QuicVersion != _sink.ConnectionVersion) return default;
        // The ticket's own suite when the client still offers it (0-RTT needs exactly that suite, §4.2.10); after a
        // retry the suite is fixed already. Either way the PSK's hash must be the suite's (§4.2.11).
        if (!HelloRetryRequested && hello.Offers(state.CipherSuite) && Array.IndexOf(_suites, state.CipherSuite) >= 0) suite = state.CipherSuite;
        if (state.CipherSuite.Hash() != suite.Hash()) return default;

        using var schedule = new DisposableSchedule(new TlsKeySchedule(suite, state.Psk));
        var partial = message.AsSpan(0, message.Length - offered.WireBindersLength);
        var binderKey = schedule.Value.BinderKey(resumption: true);
        bool valid = schedule.Value.VerifyFinished(binderKey, _transcript.HashWith(suite.Hash(), partial), offered.Binders[0].Span);
        CryptographicOperations.ZeroMemory(binderKey);
        if (!valid) return Alert(TlsAlert.DecryptError, "PSK binder does not verify");
        accepted = state;
        clientAgeMs = unchecked(identity.ObfuscatedTicketAge - state.AgeAdd);
        _psk = state.Psk;
        IsResumed = true;
        return default;
    }

    /// <summary>RFC 8446 §4.2.10 + RFC 9000 §7.4.1 + anti-replay: whether the early data of a resumed ClientHello is accepted.</summary>
    private bool DecideEarlyData(ClientHello hello, CipherSuite suite, string alpn, ResumptionState state, uint clientAgeMs)
    {
        if (!hello.Extensions.EarlyData) return false;
        EarlyData = EarlyDataState.Rejected;
        if (!_options.EnableEarlyData || HelloRetryRequested || suite != state.CipherSuite || alpn != state.ApplicationProtocol) return false;
        if (!RememberedTransportParameters.From(_options.LocalTransportParameters).AllowsEarlyDataUnder(state.ServerTransportParameters)) return false;
        if (!_options.TicketProtector!.ReplayGuard.TryAccept(state.TicketId, state.IssuedAtUnixMs, clientAgeMs, NowUnixMs)) return false;
        EarlyData = EarlyDataState.Accepted;
        return true;
    }

    /// <summary>Server, after verifying the client Finished: one NewSessionTicket at the 1-RTT level (not part of the transcript).</summary>
    private void SendNewSessionTicket()
    {
        if (_options.TicketProtector is not { } protector || _resumptionMasterSecret is null) return;
        byte[] nonce = [0];
        var psk = _schedule!.ResumptionPsk(_resumptionMasterSecret, nonce);
        uint ageAdd = BitConverter.ToUInt32(RandomNumberGenerator.GetBytes(4));
        var ticket = protector.Seal(new ResumptionState(NegotiatedCipherSuite, psk, NegotiatedApplicationProtocol!, NowUnixMs, ageAdd,
            RememberedTransportParameters.From(_options.LocalTransportParameters), default, _sink.ConnectionVersion));
        CryptographicOperations.ZeroMemory(psk);
        var message = new NewSessionTicket
        {
            LifetimeSeconds = protector.LifetimeSeconds,
            AgeAdd = ageAdd,
            Nonce = nonce,
            Ticket = ticket,
            Extensions = new TlsExtensions { MaxEarlyDataSize = _options.EnableEarlyData ? QuicMaxEarlyDataSize : null },
        };
        var buffer = new byte[64 + ticket.Length];
        int n = message.Write(buffer);
        _sink.WriteCrypto(EncryptionLevel.OneRtt, buffer.AsSpan(0, n));
    }

    private readonly struct DisposableSchedule(TlsKeySchedule value) : IDisposable
    {
        public TlsKeySchedule Value { get; } = value;
        public void Dispose() => CryptographicOperations.ZeroMemory(Value.EarlySecret);
    }
}
