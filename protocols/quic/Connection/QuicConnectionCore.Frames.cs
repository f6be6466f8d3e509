using FastRelay.Protocols.Quic.Tls.Handshake;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Connection;

// What each received frame does. FrameDecoder has already checked that the frame may appear in the packet type.
public sealed partial class QuicConnectionCore
{
    private readonly struct FrameHandler(QuicConnectionCore core, PacketSpace space, ReadOnlyMemory<byte> destination, long now) : IQuicFrameHandler
    {
        /// <summary>Every frame but PADDING, PATH_CHALLENGE, PATH_RESPONSE and NEW_CONNECTION_ID (RFC 9000 §9.1).</summary>
        private QuicError NonProbing(QuicError result)
        {
            core._packetHasNonProbingFrame = true;
            return result;
        }

        public QuicError OnPadding(in PaddingFrame frame) => default;
        public QuicError OnPing(in PingFrame frame) => NonProbing(default);
        public QuicError OnAck(in AckFrame frame) => NonProbing(core.OnAck(frame, space, now));
        public QuicError OnCrypto(in CryptoFrame frame) => NonProbing(core.OnCrypto(frame, space));
        public QuicError OnConnectionClose(in ConnectionCloseFrame frame) => NonProbing(core.OnConnectionClose(frame, now));
        public QuicError OnStream(in StreamFrame frame) => NonProbing(core.Streams.TryOnStream(frame, out var e) ? default : e);
        public QuicError OnResetStream(in ResetStreamFrame frame) => NonProbing(core.Streams.TryOnResetStream(frame, out var e) ? default : e);
        public QuicError OnStopSending(in StopSendingFrame frame) => NonProbing(core.Streams.TryOnStopSending(frame, out var e) ? default : e);
        public QuicError OnMaxData(in MaxDataFrame frame) { core.Streams.OnMaxData(frame); return NonProbing(default); }
        public QuicError OnMaxStreamData(in MaxStreamDataFrame frame) => NonProbing(core.Streams.TryOnMaxStreamData(frame, out var e) ? default : e);
        public QuicError OnMaxStreams(in MaxStreamsFrame frame) => NonProbing(core.Streams.TryOnMaxStreams(frame, out var e) ? default : e);
        public QuicError OnDataBlocked(in DataBlockedFrame frame) => NonProbing(default);
        public QuicError OnStreamDataBlocked(in StreamDataBlockedFrame frame) => NonProbing(core.Streams.TryOnStreamDataBlocked(frame, out var e) ? default : e);
        public QuicError OnStreamsBlocked(in StreamsBlockedFrame frame) => NonProbing(default);
        public QuicError OnNewToken(in NewTokenFrame frame) =>
            NonProbing(core._isClient ? default : QuicError.Protocol("NEW_TOKEN sent by a client", FrameType.NewToken));
        public QuicError OnNewConnectionId(in NewConnectionIdFrame frame) =>
            core._cids.TryOnNewConnectionId(frame, LocalActiveConnectionIdLimit, out var e) ? default : e;
        public QuicError OnRetireConnectionId(in RetireConnectionIdFrame frame) =>
            NonProbing(core._cids.TryOnRetire(frame, destination.Span, out var e) ? default : e);
        public QuicError OnPathChallenge(in PathChallengeFrame frame) { core._pathResponsePending = frame.Data; return default; }
        public QuicError OnPathResponse(in PathResponseFrame frame) { core.OnPathResponse(frame.Data); return default; }
        public QuicError OnHandshakeDone(in HandshakeDoneFrame frame) => NonProbing(core.OnHandshakeDone(now));
        public QuicError OnDatagram(in DatagramFrame frame) => NonProbing(core.OnDatagramFrame(frame));
        public QuicError OnAckFrequency(in AckFrequencyFrame frame) => NonProbing(core.OnAckFrequency(frame));
        public QuicError OnImmediateAck(in ImmediateAckFrame frame) { core._immediateAckReceived = true; return NonProbing(default); }
    }

    private QuicError OnAck(in AckFrame frame, PacketSpace space, long now)
    {
        int exponent = (int)(_peerParameters?.AckDelayExponent ?? TransportParameters.DefaultAckDelayExponent);
        // The peer's max_ack_delay, or a larger one we asked for with ACK_FREQUENCY (draft-ietf-quic-ack-frequency §7).
        long maxAckDelay = EffectivePeerMaxAckDelay;
        if (_log.IsEnabled(LogLevel.Trace)) _log.LogTrace("ACK {Space} largest {Largest} first range {First}", space.Space, frame.LargestAcknowledged, frame.FirstAckRange);
        var ecnBefore = Ecn.State;
        if (!_loss.TryOnAckReceived(frame, space.Space, now, exponent, maxAckDelay, this, out var error)) return error;
        if (Ecn.State != ecnBefore) LogEcnChange();
        // RFC 9002 A.6: a client knows the server validated its address once a Handshake packet is acknowledged.
        if (space.Space == PacketNumberSpace.Handshake) _loss.PeerCompletedAddressValidation = true;
        Streams.SmoothedRtt = _rtt.SmoothedRtt;
        _tracer.MetricsUpdated(_rtt, _cc);
        return default;
    }

    private QuicError OnCrypto(in CryptoFrame frame, PacketSpace space)
    {
        if (!space.CryptoReceive.TryWrite(frame.Offset, frame.Data.Span, false, out var error)) return error;
        int available = space.CryptoReceive.Available;
        if (available == 0) return default;
        var level = (EncryptionLevel)space.Space;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(available);
        try
        {
            int read = space.CryptoReceive.Read(buffer.AsSpan(0, available));
            if (!_tls.TryProcess(level, buffer.AsSpan(0, read), out error)) return error;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
        return ApplyPeerTransportParameters();
    }

    private QuicError OnConnectionClose(in ConnectionCloseFrame frame, long now)
    {
        string reason = System.Text.Encoding.UTF8.GetString(frame.ReasonPhrase.Span);
        _log.LogDebug("peer closed: {Kind} 0x{Code:x} {Reason}", frame.IsApplicationError ? "application" : "transport", frame.ErrorCode, reason);
        EnterDraining(now, new ConnectionCloseInfo(frame.ErrorCode, frame.IsApplicationError, reason, ByPeer: true));
        return default;
    }

    private QuicError OnHandshakeDone(long now)
    {
        if (!_isClient) return QuicError.Protocol("HANDSHAKE_DONE sent by a client", FrameType.HandshakeDone);
        ConfirmHandshake();
        return default;
    }

    /// <summary>
    /// Once TLS has the peer's transport parameters: check the connection ids they vouch for (RFC 9000 §7.3), then apply
    /// limits. Runs once.
    /// </summary>
    private QuicError ApplyPeerTransportParameters()
    {
        if (_peerParameters is not null || _tls.PeerTransportParameters is not { } peer) return default;
        if (peer.InitialSourceConnectionId is not { } initialSource || _peerInitialSource is not { } seen || !initialSource.Equals(seen))
            return QuicError.TransportParameter("initial_source_connection_id does not match the peer's Source Connection ID");
        if (_isClient)
        {
            if (peer.OriginalDestinationConnectionId is not { } odcid || !odcid.Equals(_originalDestination))
                return QuicError.TransportParameter("original_destination_connection_id does not match what we sent");
            if (_retrySource is { } retry ? peer.RetrySourceConnectionId is not { } r || !r.Equals(retry) : peer.RetrySourceConnectionId is not null)
                return QuicError.TransportParameter("retry_source_connection_id does not match the Retry");
            if (peer.StatelessResetToken is { } token) _cids.SetInitialPeerResetToken(token);
            var versionError = VersionNegotiation.CheckServerChoice(peer.VersionInformation, _version, _originalVersion, _settings.Versions);
            if (!versionError.IsNone) return versionError;
            // RFC 9368 §4: after Version Negotiation, a server that lists the version it refused sent a forged VN.
            if (_settings.AbandonedVersion is { } abandoned && peer.VersionInformation is { } info && VersionNegotiation.Contains(info.AvailableVersions, abandoned))
                return QuicError.VersionNegotiation($"downgrade: the server lists QUIC {QuicVersion.Name(abandoned)}, which its Version Negotiation refused");
        }
        _peerParameters = peer;
        _tracer.ParametersSet(false, peer);
        Streams.SetPeerLimits(peer);
        _plaintextOneRtt = _localParameters.Disable1RttEncryption && peer.Disable1RttEncryption;
        if (peer.MaxIdleTimeout != 0)
            _idleTimeout = _idleTimeout == 0 ? (long)peer.MaxIdleTimeout * 1000 : Math.Min(_idleTimeout, (long)peer.MaxIdleTimeout * 1000);
        if (_plaintextOneRtt) _log.LogInformation("disable_1rtt_encryption negotiated: 1-RTT packets are not encrypted");
        return default;
    }
}
