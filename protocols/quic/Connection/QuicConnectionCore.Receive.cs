using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Connection;

// Packets in: split the datagram, pick keys, remove protection, drop duplicates, hand the frames to Frames.
public sealed partial class QuicConnectionCore
{
    /// <summary>Packets that arrived before their keys (reordering around the handshake); replayed once keys exist.</summary>
    private const int MaxUndecryptablePackets = 8;
    /// <summary>Each with the ECN codepoint of the datagram it came in (counted when it is finally processed).</summary>
    private readonly List<(byte[] Packet, byte Ecn)> _undecryptable = [];
    private bool _replayUndecryptable;
    /// <summary>Size of the UDP datagram being processed (the §14.1 minimum applies to it).</summary>
    private int _datagramLength;

    // 1-RTT key update state (RFC 9001 §6): the current keys live in the application space; these are around them.
    private PacketKeys? _oneRttReadPrevious;
    private PacketKeys? _oneRttReadNext;
    private ulong _readPhaseFirstPacketNumber;
    private ulong _writePhaseFirstPacketNumber;
    /// <summary>RFC 9001 §6.1: a packet of the current write phase was acknowledged (no update before that).</summary>
    private bool _writePhaseAcknowledged = true;

    /// <summary>
    /// Processes one UDP datagram addressed to this connection. The bytes are decrypted in place, so the caller's
    /// buffer is changed; frames that keep data (STREAM, CRYPTO) copy it before returning.
    /// </summary>
    public void OnDatagram(Memory<byte> datagram, long now)
    {
        if (Phase is ConnectionPhase.Draining or ConnectionPhase.Closed) return;
        _tracer.AdvanceTime(now);
        _bytesReceived += datagram.Length;
        Streams.Now = now;
        bool processedAny = ProcessDatagram(datagram, now);
        if (!processedAny && _cids.IsStatelessReset(datagram.Span))
        {
            _log.LogDebug("stateless reset received");
            EnterDraining(now, new ConnectionCloseInfo(0, false, "stateless reset", ByPeer: true, StatelessReset: true));
            return;
        }
        if (processedAny && Phase == ConnectionPhase.Closing) _closeFramePending = true;
        while (_replayUndecryptable)
        {
            _replayUndecryptable = false;
            var pending = _undecryptable.ToArray();
            _undecryptable.Clear();
            byte ecn = _datagramEcn;
            foreach (var (packet, packetEcn) in pending)
            {
                _datagramEcn = packetEcn;
                ProcessDatagram(packet, now);
            }
            _datagramEcn = ecn;
        }
    }

    private bool ProcessDatagram(Memory<byte> datagram, long now)
    {
        _datagramLength = datagram.Length;
        var packets = new CoalescedPackets(datagram, _settings.LocalConnectionIdLength);
        bool processedAny = false;
        ConnectionId firstDestination = default;
        while (true)
        {
            int start = packets.Offset;
            if (!packets.TryGetNext(out var header, out _)) break;
            // RFC 9000 §12.2: coalesced packets with another destination id are not ours to process.
            if (packets.Count == 1) ConnectionId.TryCreate(header.DestinationConnectionId.Span, out firstDestination);
            else if (!header.DestinationConnectionId.Span.SequenceEqual(firstDestination.Span)) continue;
            processedAny |= ProcessPacket(header, datagram.Slice(start, header.PacketLength), now);
            if (Phase is ConnectionPhase.Draining or ConnectionPhase.Closed) break;
        }
        return processedAny;
    }

    private bool ProcessPacket(in PacketHeader header, Memory<byte> packet, long now)
    {
        switch (header.Type)
        {
            case QuicPacketType.VersionNegotiation:
                return OnVersionNegotiation(header, now);
            case QuicPacketType.Retry:
                return OnRetry(header, packet.Span);
            case QuicPacketType.Initial or QuicPacketType.Handshake or QuicPacketType.OneRtt:
                break;
            case QuicPacketType.ZeroRtt when !_isClient:
                // Before the ClientHello was processed (reordering) it waits like other early packets; once TLS refused
                // early data, or after the first 1-RTT packet, 0-RTT keys are gone and the packet is dropped.
                if (_zeroRttKeys is null)
                {
                    if (!_tls.IsStarted && _undecryptable.Count < MaxUndecryptablePackets) _undecryptable.Add((packet.ToArray(), _datagramEcn));
                    return false;
                }
                break;
            default:
                return false; // 0-RTT sent to a client, unknown versions
        }

        var space = _spaces[(int)header.Type.GetSpace()];
        if (space.Discarded) return false;
        if (space.ReadKeys is null && header.Type != QuicPacketType.ZeroRtt)
        {
            if (header.Type != QuicPacketType.Initial && _undecryptable.Count < MaxUndecryptablePackets) _undecryptable.Add((packet.ToArray(), _datagramEcn));
            return false;
        }
        // RFC 9000 §14.1: the minimum is the datagram's size (an Initial may share it with 0-RTT), not the packet's.
        if (header.Type == QuicPacketType.Initial && !_isClient && _datagramLength < MinimumInitialDatagramSize && !_receivedFromPeer)
            return false;

        // Long headers: only the versions this connection reads now (RFC 9369 §4), checked last so that a candidate
        // version's keys are always settled by the decryption right below.
        PacketKeys? initialKeys = null;
        if (header.Type != QuicPacketType.OneRtt && !AcceptsLongHeaderVersion(header, out initialKeys)) return false;
        bool opened = TryUnprotect(header, packet.Span, space, initialKeys, out ulong packetNumber, out int payloadOffset, out int payloadLength, out var error);
        FinishFollowingServerVersion(opened);
        if (!opened)
        {
            if (!error.Discard) CloseWithError(error, now);
            return false;
        }
        if (space.Received.IsDuplicate(packetNumber)) return false;
        TracePacketReceived(header, packet.Span, packetNumber, payloadOffset, payloadLength);

        if (_isClient && !_receivedFromPeer && header.Type != QuicPacketType.OneRtt)
        {
            // The server's first packet fixes its connection id (RFC 9000 §7.2) until NEW_CONNECTION_ID changes it.
            if (!ConnectionId.TryCreate(header.SourceConnectionId.Span, out var serverId)) return false;
            _cids.ReplaceInitialPeer(serverId);
            _peerInitialSource = serverId;
        }
        _receivedFromPeer = true;

        var handler = new FrameHandler(this, space, header.DestinationConnectionId, now);
        _packetHasNonProbingFrame = false;
        _immediateAckReceived = false;
        var payload = packet.Slice(payloadOffset, payloadLength);
        if (!FrameDecoder.TryDecode(payload, header.Type, ref handler, out bool ackEliciting, out error,
                datagramsEnabled: _localParameters.MaxDatagramFrameSize is not null, ackFrequencyEnabled: AcceptsAckFrequency))
        {
            CloseWithError(error, now);
            return true;
        }
        if (Phase is ConnectionPhase.Draining or ConnectionPhase.Closed) return true;
        space.Received.OnPacketReceived(packetNumber, ackEliciting, now);
        if (ackEliciting) AckElicitingPacketsReceived++;
        ApplyImmediateAck(space);
        // RFC 9000 §13.4.1: count the codepoint of every packet processed, whether or not we mark our own.
        if (_datagramEcn != 0) space.Received.OnEcnCodepoint(_datagramEcn);
        if (header.Type == QuicPacketType.OneRtt) ConsiderPeerAddressChange(packetNumber, space.Received.LargestReceived, now);
        // RFC 9001 §4.9.3: a server may drop 0-RTT keys once 1-RTT packets arrive (later 0-RTT is retransmitted in 1-RTT).
        if (header.Type == QuicPacketType.OneRtt && !_isClient && _zeroRttKeys is not null) DiscardZeroRttKeys();
        _lastActivity = now;
        _ackElicitingSentSinceReceive = false;

        if (header.Type == QuicPacketType.Handshake && !_isClient)
        {
            // A Handshake packet proves the client owns its address (§8.1) and ends the Initial space (RFC 9001 §4.9.1).
            _addressValidated = true;
            // It also proves the client holds the handshake keys: this is no longer half-open state a flood can make,
            // so the idle timeout governs from here (a client whose Finished is lost again and again still completes,
            // as against ngtcp2's and gtlsserver's servers).
            _handshakeDeadline = long.MaxValue;
            _loss.AmplificationBlocked = false;
            DiscardSpace(PacketNumberSpace.Initial);
        }
        else if (header.Type == QuicPacketType.OneRtt && !_isClient && !_handshakeComplete)
        {
            // A 1-RTT packet that opened proves what a Handshake packet would about the client's keys (1-RTT keys follow
            // from the whole handshake, our Finished included): it is no half-open state, so the idle timeout governs.
            // Seen under 30 % loss each way: the datagrams with the client's Finished and Handshake ACKs all lost while
            // its 1-RTT packets arrived, and the server dropped the connection at the half-open deadline.
            _handshakeDeadline = long.MaxValue;
        }
        return true;
    }

    private bool TryUnprotect(in PacketHeader header, Span<byte> packet, PacketSpace space, PacketKeys? initialKeys, out ulong packetNumber,
        out int payloadOffset, out int payloadLength, out QuicError error)
    {
        if (header.Type != QuicPacketType.OneRtt)
            return PacketProtection.TryUnprotect(packet, header.PacketNumberOffset, space.Received.LargestReceived,
                header.Type == QuicPacketType.ZeroRtt ? _zeroRttKeys! : initialKeys ?? space.ReadKeys!,
                out packetNumber, out payloadOffset, out payloadLength, out error);

        if (_plaintextOneRtt) return TryReadPlaintextOneRtt(header, packet, space, out packetNumber, out payloadOffset, out payloadLength, out error);

        packetNumber = 0;
        payloadOffset = 0;
        payloadLength = 0;
        var current = space.ReadKeys!;
        if (!PacketProtection.TryRemoveHeaderProtection(packet, header.PacketNumberOffset, current.HeaderProtection,
                out int pnLength, out uint truncated, out error))
            return false;
        packetNumber = PacketNumber.Decode(space.Received.LargestReceived, truncated, pnLength);
        bool phase = (packet[0] & 0x04) != 0;
        PacketKeys keys;
        bool rotate = false;
        if (phase == current.KeyPhase) keys = current;
        else if (_oneRttReadPrevious is not null && packetNumber < _readPhaseFirstPacketNumber) keys = _oneRttReadPrevious;
        else
        {
            keys = _oneRttReadNext ??= current.DeriveNextGeneration();
            rotate = true;
        }
        if (!PacketProtection.TryDecryptPayload(packet, header.PacketNumberOffset, pnLength, packetNumber, keys.Aead,
                out payloadOffset, out payloadLength, out error))
        {
            _log.LogTrace("1-RTT packet {Number} (key phase {Phase}) failed with key generation {Generation}", packetNumber, phase, keys.Generation);
            return false;
        }
        if (rotate) RotateReadKeys(packetNumber);
        return true;
    }

    /// <summary>
    /// disable_1rtt_encryption (0xBAAD, negotiated by both ends): the short header's first byte and packet number are
    /// sent as they are and the payload has no AEAD tag, so a kernel program can read and rewrite them.
    /// </summary>
    private static bool TryReadPlaintextOneRtt(in PacketHeader header, Span<byte> packet, PacketSpace space, out ulong packetNumber,
        out int payloadOffset, out int payloadLength, out QuicError error)
    {
        packetNumber = 0;
        payloadLength = 0;
        int pnLength = (packet[0] & 0x03) + 1;
        payloadOffset = header.PacketNumberOffset + pnLength;
        if (packet.Length <= payloadOffset)
        {
            error = QuicError.DropPacket("unprotected 1-RTT packet without payload");
            return false;
        }
        if ((packet[0] & 0x18) != 0)
        {
            error = QuicError.Protocol("reserved header bits are not zero");
            return false;
        }
        uint truncated = PacketNumber.ReadTruncated(packet[header.PacketNumberOffset..], pnLength);
        packetNumber = PacketNumber.Decode(space.Received.LargestReceived, truncated, pnLength);
        payloadLength = packet.Length - payloadOffset;
        error = default;
        return true;
    }

    /// <summary>The peer moved to the next key phase (or answered ours): shift read keys, and follow with write keys.</summary>
    private void RotateReadKeys(ulong firstPacketNumber)
    {
        var app = _spaces[2];
        TraceKeyUpdate(write: false, _oneRttReadNext!.Generation, remote: _oneRttReadNext.Generation > app.WriteKeys!.Generation);
        RetireOneRttKeys(_oneRttReadPrevious);
        _oneRttReadPrevious = app.ReadKeys;
        app.ReadKeys = _oneRttReadNext;
        _oneRttReadNext = null;
        _readPhaseFirstPacketNumber = firstPacketNumber;
        if (app.WriteKeys!.Generation < app.ReadKeys!.Generation)
        {
            // Peer-initiated update (RFC 9001 §6.2): respond by updating our write keys too.
            var next = app.WriteKeys.DeriveNextGeneration();
            RetireOneRttKeys(app.WriteKeys);
            app.WriteKeys = next;
            OnWriteKeysChanged(next);
            _writePhaseFirstPacketNumber = app.NextPacketNumber;
            _writePhaseAcknowledged = false;
            TraceKeyUpdate(write: true, next.Generation, remote: true);
            _log.LogDebug("key update by peer: generation {Generation}", next.Generation);
        }
    }

    private bool OnVersionNegotiation(in PacketHeader header, long now)
    {
        // RFC 9000 §6.2, RFC 9368 §4: only before anything else arrived, and only if it does not list the version we used
        // (one that does is forged or stale: a downgrade attempt to ignore).
        if (!_isClient || _receivedFromPeer) return false;
        for (int i = 0; i < header.SupportedVersionCount; i++)
            if (header.GetSupportedVersion(i) == _originalVersion) return false;
        _log.LogDebug("version negotiation: server does not speak QUIC {Version}", QuicVersion.Name(_originalVersion));
        TracePacketReceived(header, header.PacketLength);
        var listed = new uint[Math.Min(header.SupportedVersionCount, VersionInformation.MaxAvailableVersions)];
        for (int i = 0; i < listed.Length; i++) listed[i] = header.GetSupportedVersion(i);
        CloseInfo = new ConnectionCloseInfo(0, false, $"server does not support QUIC {QuicVersion.Name(_originalVersion)}", ByPeer: true, VersionMismatch: true,
            ServerVersions: listed);
        Phase = ConnectionPhase.Closed;
        _events.Enqueue(ConnectionEventKind.Closed);
        EndTrace();
        return true;
    }

    /// <summary>RFC 9000 §17.2.5.2: accept one Retry before any server packet; restart the handshake towards its new id.</summary>
    private bool OnRetry(in PacketHeader header, ReadOnlySpan<byte> packet)
    {
        // RFC 9369 §4: a Retry is in the original version; one in another version is ignored.
        if (!_isClient || _receivedFromPeer || _retrySource is not null || header.Version != _originalVersion || _version != _originalVersion) return false;
        if (header.Token.IsEmpty || !RetryIntegrity.Verify(_originalDestination.Span, packet)) return false;
        if (!ConnectionId.TryCreate(header.SourceConnectionId.Span, out var retrySource) || retrySource.Equals(_cids.Destination)) return false;
        _retrySource = retrySource;
        TracePacketReceived(header, packet.Length);
        _token = header.Token.ToArray();
        _cids.ReplaceInitialPeer(retrySource);
        var initial = _spaces[0];
        initial.ReadKeys?.Dispose();
        initial.WriteKeys?.Dispose();
        var (client, server) = PacketKeys.CreateInitial(retrySource.Span, _version);
        initial.WriteKeys = client;
        initial.ReadKeys = server;
        // The Initials sent so far are gone; their packet numbers stay used (§17.2.5.3) and their data goes again.
        _loss.DiscardSpace(PacketNumberSpace.Initial);
        _loss.SetHasKeys(PacketNumberSpace.Initial, true);
        initial.ResendUnacknowledgedCrypto();
        _log.LogDebug("retry: new destination {Id}", Convert.ToHexString(retrySource.Span));
        return true;
    }
}
