using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Tls.Handshake;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Connection;

// Handshake progress, keys, timers, acknowledgement and loss of what we sent, and the end of the connection.
public sealed partial class QuicConnectionCore
{
    // ---- TLS → QUIC (RFC 9001 §4.1) ----

    void ITlsHandshakeSink.WriteCrypto(EncryptionLevel level, ReadOnlySpan<byte> data)
    {
        var send = _spaces[(int)level].CryptoSend;
        if (send.Write(data) != data.Length) throw new InvalidOperationException("TLS flight larger than the CRYPTO send buffer");
    }

    void ITlsHandshakeSink.InstallSecrets(EncryptionLevel level, CipherSuite suite, ReadOnlySpan<byte> readSecret, ReadOnlySpan<byte> writeSecret)
    {
        var space = _spaces[(int)level];
        space.ReadKeys?.Dispose();
        space.WriteKeys?.Dispose();
        // Handshake and 1-RTT keys carry the negotiated version's labels (RFC 9369 §3.3); a client that reached its
        // Handshake keys has read the ServerHello, so the version is settled (RFC 9369 §4).
        if (level == EncryptionLevel.Handshake) _versionSettled = true;
        space.ReadKeys = PacketKeys.FromSecret(suite, readSecret, _version);
        space.WriteKeys = PacketKeys.FromSecret(suite, writeSecret, _version);
        _loss.SetHasKeys((PacketNumberSpace)level, true);
        _log.LogDebug("{Level} keys installed ({Suite})", level, suite);
        if (_undecryptable.Count > 0) _replayUndecryptable = true;
        // RFC 9001 §4.9.3: once a client has 1-RTT keys it sends no more 0-RTT.
        if (_isClient && level == EncryptionLevel.OneRtt) DiscardZeroRttKeys();
        TraceKeysInstalled(level);
    }

    void ITlsHandshakeSink.HandshakeCompleted()
    {
        _handshakeComplete = true;
        if (Phase == ConnectionPhase.Handshaking) Phase = ConnectionPhase.Established;
        _log.LogDebug("handshake complete: QUIC {Version}, ALPN {Alpn}, {Suite}, 1-RTT {Protection}, hello retry request: {Hrr}", QuicVersion.Name(_version),
            _tls.NegotiatedApplicationProtocol,
            _tls.NegotiatedCipherSuite,
            _plaintextOneRtt || _localParameters.Disable1RttEncryption && _tls.PeerTransportParameters?.Disable1RttEncryption == true ? "unprotected" : "protected",
            _tls.HelloRetryRequested ? "yes" : "no");
        if (!_isClient)
        {
            // RFC 9001 §4.1.2: the server's handshake is confirmed when it completes; it tells the client.
            _handshakeDonePending = true;
            ConfirmHandshake();
        }
        _events.Enqueue(ConnectionEventKind.HandshakeCompleted);
    }

    private void ConfirmHandshake()
    {
        if (_handshakeConfirmed) return;
        _handshakeConfirmed = true;
        _loss.HandshakeConfirmed = true;
        Ecn.Start();
        _loss.PeerCompletedAddressValidation = true;
        DiscardSpace(PacketNumberSpace.Handshake);
        if (_pmtu.IsEnabled && _peerParameters is { } peer) _pmtu.Start(peer.MaxUdpPayloadSize, 0);
        int limit = (int)Math.Min((ulong)LocalActiveConnectionIdLimit, _peerParameters?.ActiveConnectionIdLimit ?? TransportParameters.DefaultActiveConnectionIdLimit);
        _cids.IssueUpTo(limit);
    }

    private void DiscardSpace(PacketNumberSpace which)
    {
        var space = _spaces[(int)which];
        if (space.Discarded) return;
        space.Discard();
        if (which == PacketNumberSpace.Initial) DisposeOriginalInitialKeys();
        TraceKeysDiscarded(which);
        _loss.DiscardSpace(which);
    }

    private void DisposeOneRttKeys()
    {
        RetireOneRttKeys(_oneRttReadPrevious);
        RetireOneRttKeys(_oneRttReadNext);
        _oneRttReadPrevious = _oneRttReadNext = null;
        foreach (var keys in _firstOneRttKeys) keys.Dispose();
        _firstOneRttKeys.Clear();
    }

    /// <summary>
    /// Generation 0 of the 1-RTT keys owns the header protection every later generation shares (RFC 9001 §6: header
    /// protection keys do not change), so it is kept until the connection ends; later generations go at once.
    /// </summary>
    private void RetireOneRttKeys(PacketKeys? keys)
    {
        if (keys is null) return;
        if (keys.Generation == 0) _firstOneRttKeys.Add(keys);
        else keys.Dispose();
    }

    private readonly List<PacketKeys> _firstOneRttKeys = [];

    /// <summary>Asks for a key update as soon as one is allowed (handshake confirmed, previous update answered).</summary>
    public void RequestKeyUpdate()
    {
        _keyUpdateRequested = true;
        // If the current phase has no acknowledged packet yet (we may only have sent ACKs in it), elicit one.
        if (!_writePhaseAcknowledged) _pingPending = true;
    }

    private bool _keyUpdateRequested;

    /// <summary>
    /// Starts a key update (RFC 9001 §6.1): the next 1-RTT packet uses the next generation of write keys. Only after the
    /// handshake is confirmed and once a packet of the current key phase was acknowledged; false otherwise.
    /// </summary>
    public bool TryInitiateKeyUpdate()
    {
        var app = _spaces[2];
        if (!_handshakeConfirmed || !_writePhaseAcknowledged || app.WriteKeys is null || _plaintextOneRtt) return false;
        var next = app.WriteKeys.DeriveNextGeneration();
        RetireOneRttKeys(app.WriteKeys);
        app.WriteKeys = next;
        OnWriteKeysChanged(next);
        _writePhaseFirstPacketNumber = app.NextPacketNumber;
        _writePhaseAcknowledged = false;
        _pingPending = true; // make sure a packet in the new phase goes out
        TraceKeyUpdate(write: true, next.Generation, remote: false);
        _log.LogDebug("key update initiated: generation {Generation}", next.Generation);
        return true;
    }

    // ---- What we sent: acknowledged or lost (RFC 9002 via LossDetection) ----

    void ILossDetectionSink.OnPacketAcked(SentPacket packet)
    {
        if (packet.IsPathMtuProbe)
        {
            _pmtu.OnProbeAcknowledged(packet.Size);
            _log.LogDebug("path MTU probe of {Size} bytes acknowledged: datagrams up to {Current}", packet.Size, _pmtu.CurrentSize);
        }
        else if (packet.Space == PacketNumberSpace.ApplicationData && _pmtu.IsConfigured) _pmtu.OnPacketAcknowledged(packet.Size, packet.TimeSent);
        if (packet.Space == PacketNumberSpace.ApplicationData && packet.PacketNumber >= _writePhaseFirstPacketNumber) _writePhaseAcknowledged = true;
        if (packet.LargestAcknowledgedInAck is { } largest) _spaces[(int)packet.Space].Received.OnAckOfAckReceived(largest);
        foreach (var frame in packet.Frames)
        {
            switch (frame.FrameType)
            {
                case FrameType.Crypto:
                    _spaces[(int)frame.StreamId].CryptoSend.OnAcked(frame.Offset, frame.Length, false);
                    break;
                case FrameType.RetireConnectionId:
                    _cids.OnFrameAcked(frame);
                    break;
                case FrameType.AckFrequency:
                    OnAckFrequencyAcked(frame.Value);
                    break;
                case FrameType.ImmediateAck:
                    break;
                case FrameType.Ping or FrameType.HandshakeDone or FrameType.PathResponse or FrameType.PathChallenge or FrameType.NewConnectionId
                    or FrameType.Datagram or FrameType.DatagramWithLength:
                    break;
                default:
                    Streams.OnFrameAcked(frame);
                    break;
            }
        }
    }

    void ILossDetectionSink.OnPacketLost(SentPacket packet)
    {
        if (packet.IsPathMtuProbe)
        {
            // Nothing to resend (PING + PADDING): the size just did not make it.
            _pmtu.OnProbeLost(packet.Size);
            return;
        }
        if (packet.Space == PacketNumberSpace.ApplicationData && _pmtu.IsConfigured && _pmtu.OnPacketLost(packet.Size, packet.TimeSent))
            _log.LogDebug("path MTU black hole: back to {Size} bytes", _pmtu.CurrentSize);
        _log.LogTrace("lost: {Space} packet {Number}", packet.Space, packet.PacketNumber);
        TracePacketLost(packet);
        RequeueFrames(packet);
    }

    /// <summary>Gives a packet's frames back to their senders (a loss, or a PTO probe that resends them).</summary>
    private void RequeueFrames(SentPacket packet)
    {
        foreach (var frame in packet.Frames)
        {
            switch (frame.FrameType)
            {
                case FrameType.Crypto:
                    var space = _spaces[(int)frame.StreamId];
                    if (!space.Discarded) space.CryptoSend.OnLost(frame.Offset, frame.Length, false);
                    break;
                case FrameType.HandshakeDone:
                    _handshakeDonePending = true;
                    break;
                case FrameType.NewConnectionId or FrameType.RetireConnectionId:
                    _cids.OnFrameLost(frame);
                    break;
                case FrameType.AckFrequency:
                    OnAckFrequencyLost(frame.Value);
                    break;
                case FrameType.ImmediateAck:
                    break;   // draft-ietf-quic-ack-frequency §5: not retransmitted
                case FrameType.Ping or FrameType.PathResponse or FrameType.Datagram or FrameType.DatagramWithLength:
                    break; // DATAGRAMs are never retransmitted (RFC 9221 §5.2)
                case FrameType.PathChallenge:
                    break; // a lost PATH_CHALLENGE is asked again by the path validation timer
                default:
                    Streams.OnFrameLost(frame);
                    break;
            }
        }
    }

    void ILossDetectionSink.SendProbes(PacketNumberSpace which, int count)
    {
        var space = _spaces[(int)which];
        if (!space.CanSend)
        {
            // A client without Handshake keys probes with an Initial (RFC 9002 §6.2.2.1, anti-deadlock).
            space = _spaces[0].CanSend ? _spaces[0] : _spaces[2];
        }
        Probe(space, count);
        // RFC 9002 §6.2.4: also probe the other handshake space that has data in flight, in the same datagram, as the
        // peer may hold the keys of only one. A client drops its Initial keys once it sends a Handshake packet; when
        // that datagram was lost, a server probing only Initial spent its anti-amplification allowance on packets the
        // client could not read, had none left for Handshake, and dropped the connection at its handshake deadline.
        if (space.Space != PacketNumberSpace.ApplicationData)
        {
            var other = _spaces[space.Space == PacketNumberSpace.Initial ? 1 : 0];
            if (other.CanSend && _loss.AckElicitingInFlight(other.Space) > 0) Probe(other, 1);
        }
    }

    private void Probe(PacketSpace space, int count)
    {
        // Nothing new to send: the probes carry the oldest data in flight again rather than a bare PING (see
        // LossDetection.TryTakeOldestForProbe). Not with kernel-numbered packets (fast path): their records stand for
        // copies the kernel sent and keep the ordinary loss path.
        if (space.Space == PacketNumberSpace.ApplicationData && !_externalNumbering && !HasAckElicitingData(space))
        {
            // As many of the oldest packets as the probes have room for, at least one: a short response lost in two
            // packets goes out again whole, not one packet per PTO (each PTO backed off further under heavy loss).
            int room = count * MaxDatagramSize;
            for (bool first = true; room > 0 && _loss.TryTakeOldestForProbe(space.Space, first ? int.MaxValue : room, out var oldest); first = false)
            {
                _log.LogTrace("PTO: resending the frames of {Space} packet {Number}", space.Space, oldest.PacketNumber);
                room -= oldest.Size;
                RequeueFrames(oldest);
                _loss.ReturnPacket(oldest);
            }
        }
        space.ProbesPending = Math.Max(space.ProbesPending, count);
        _log.LogTrace("PTO: {Count} probe(s) in {Space}", count, space.Space);
        if (space.Space != PacketNumberSpace.ApplicationData) space.ResendUnacknowledgedCrypto();
    }

    // ---- Timers ----

    /// <summary>The earliest time <see cref="OnTimeout"/> must run (absolute µs); long.MaxValue when nothing is armed.</summary>
    public long NextTimeout
    {
        get
        {
            if (Phase == ConnectionPhase.Closed) return long.MaxValue;
            if (Phase is ConnectionPhase.Closing or ConnectionPhase.Draining) return _closeDeadline;
            long next = _idleTimeout > 0 ? _lastActivity + _idleTimeout : long.MaxValue;
            if (!_handshakeComplete) next = Math.Min(next, _handshakeDeadline);
            next = Math.Min(next, PathValidationTimeout);
            next = Math.Min(next, _loss.LossDetectionTimer);
            next = Math.Min(next, ExternalNumberingTimeout);
            // An ACK that the anti-amplification limit keeps in is no reason to wake up: it leaves with the next
            // datagram from the client (which raises the limit), and a due-at-once deadline would make the owner spin.
            if (!AmplificationLimited)
                foreach (var space in _spaces)
                    if (space.CanSend && space.Received.AckPending)
                        next = Math.Min(next, space.Received.AckDeadline(MaxAckDelayFor(space)));
            return next;
        }
    }

    public void OnTimeout(long now)
    {
        _tracer.AdvanceTime(now);
        switch (Phase)
        {
            case ConnectionPhase.Closed:
                return;
            case ConnectionPhase.Closing or ConnectionPhase.Draining:
                if (now >= _closeDeadline) EnterClosed();
                return;
        }
        if (_idleTimeout > 0 && now >= _lastActivity + _idleTimeout)
        {
            _log.LogDebug("idle timeout");
            CloseInfo = new ConnectionCloseInfo(0, false, "idle timeout", ByPeer: false, IdleTimeout: true);
            EnterClosed();
            return;
        }
        if (!_handshakeComplete && now >= _handshakeDeadline)
        {
            _log.LogDebug("handshake timeout");
            CloseInfo = new ConnectionCloseInfo(0, false, "handshake timeout", ByPeer: false, IdleTimeout: true);
            EnterClosed();
            return;
        }
        OnPathValidationTimeout(now);
        OnExternalNumberingTimeout(now);
        if (Phase is ConnectionPhase.Closing or ConnectionPhase.Draining or ConnectionPhase.Closed) return;   // held ACK expired
        if (now >= _loss.LossDetectionTimer) _loss.OnLossDetectionTimeout(now, this);
    }

    // ---- Closing (RFC 9000 §10) ----

    /// <summary>Closes with an application error (CONNECTION_CLOSE 0x1d) — or NO_ERROR transport close when code is null.</summary>
    public void Close(ulong? applicationErrorCode, string reason, long now)
    {
        if (Phase is ConnectionPhase.Closing or ConnectionPhase.Draining or ConnectionPhase.Closed) return;
        var info = applicationErrorCode is { } code
            ? new ConnectionCloseInfo(code, true, reason, ByPeer: false)
            : new ConnectionCloseInfo((ulong)QuicTransportError.NoError, false, reason, ByPeer: false);
        EnterClosing(now, info);
    }

    private void CloseWithError(QuicError error, long now)
    {
        if (Phase is ConnectionPhase.Closing or ConnectionPhase.Draining or ConnectionPhase.Closed) return;
        _log.LogDebug("closing with {Error}", error);
        EnterClosing(now, new ConnectionCloseInfo((ulong)error.Code, false, error.Reason ?? "", ByPeer: false));
    }

    private void EnterClosing(long now, ConnectionCloseInfo info)
    {
        CloseInfo = info;
        Phase = ConnectionPhase.Closing;
        _closeFramePending = true;
        _closeDeadline = now + 3 * ProbeTimeout();
        TraceConnectionClosed(now);
        _events.Enqueue(ConnectionEventKind.Closing);
    }

    private void EnterDraining(long now, ConnectionCloseInfo info)
    {
        if (Phase is ConnectionPhase.Draining or ConnectionPhase.Closed) return;
        bool wasClosing = Phase == ConnectionPhase.Closing;
        CloseInfo ??= info;
        TraceConnectionClosed(now);
        Phase = ConnectionPhase.Draining;
        _closeDeadline = now + 3 * ProbeTimeout();
        if (!wasClosing) _events.Enqueue(ConnectionEventKind.Closing);
    }

    private void EnterClosed()
    {
        Phase = ConnectionPhase.Closed;
        _cids.RetireAllLocal();
        _events.Enqueue(ConnectionEventKind.Closed);
        EndTrace();
    }

    private long ProbeTimeout() => _rtt.ProbeTimeout(true, (long)(_peerParameters?.MaxAckDelay ?? TransportParameters.DefaultMaxAckDelayMs) * 1000);
}
