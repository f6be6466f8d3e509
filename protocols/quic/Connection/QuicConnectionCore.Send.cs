using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Connection;

// Packets out: one datagram per call, coalescing Initial, Handshake and 1-RTT packets (RFC 9000 §12.2).
public sealed partial class QuicConnectionCore
{
    /// <summary>Every packet number is written in 4 bytes: the header protection sample then never needs padding, and
    /// the kernel fast path can rewrite numbers in place (a fixed length is what it needs).</summary>
    private const int PacketNumberLength = 4;
    private const int LengthFieldLength = 2;
    /// <summary>Room below which a packet is not worth starting.</summary>
    private const int MinimumPacketRoom = 32;
    /// <summary>Smallest datagram worth sending to an unvalidated address (a short header, a PATH_CHALLENGE and a tag fit).</summary>
    private const int MinimumPathDatagram = 64;

    /// <summary>A packet laid out in the datagram, protected once the datagram is complete (padding may still grow it).</summary>
    private struct PendingPacket
    {
        public int Start;
        public int HeaderLength;
        public int PayloadLength;
        public bool LongHeader;
        public PacketKeys? Keys;
        public SentPacket Record;
        public PacketNumberSpace Space;
    }

    private readonly PendingPacket[] _pending = new PendingPacket[3];

    /// <summary>
    /// Builds the next datagram into <paramref name="destination"/> (at least 1200 bytes) and returns its length, or 0
    /// when there is nothing to send now (or congestion control, the anti-amplification limit or closing forbid it).
    /// </summary>
    public int WriteDatagram(Span<byte> destination, long now)
    {
        if (Phase is ConnectionPhase.Draining or ConnectionPhase.Closed) return 0;
        _tracer.AdvanceTime(now);
        // One ECN codepoint per datagram: every packet in it is recorded with the mark the datagram will carry.
        Ecn.BeginDatagram();
        int limit = Math.Min(destination.Length, MaxDatagramSize);
        if (!_isClient && !_addressValidated)
        {
            // RFC 9000 §8.1: three times what the client sent, until its address is validated.
            long allowance = AmplificationAllowance;
            limit = (int)Math.Min(limit, Math.Max(0, allowance));
            _loss.AmplificationBlocked = allowance < MinimumInitialDatagramSize;
            if (limit < MinimumInitialDatagramSize) return 0;
        }
        if (!_pathValidated)
        {
            // RFC 9000 §9.3: until the peer's new address answers our PATH_CHALLENGE, three times what came from it.
            limit = (int)Math.Min(limit, Math.Max(0, PathAmplificationAllowance));
            if (limit < MinimumPathDatagram) return 0;
        }
        _padDatagram = false;
        var datagram = destination[..limit];
        if (Phase == ConnectionPhase.Closing) return WriteClosePackets(datagram, now);
        if (_keyUpdateRequested && TryInitiateKeyUpdate()) _keyUpdateRequested = false;
        // The fixed layout only where a kernel can read it; otherwise (and until then) fast-path streams pack as usual.
        Streams.FastPathLayoutActive = _plaintextOneRtt && _handshakeConfirmed && _cids.Destination.Length == 8;
        if (TryWritePathMtuProbe(destination, now, out int probe)) return probe;
        AdaptAckFrequency(now);

        int count = 0, offset = 0;
        bool hasInitial = false, initialAckEliciting = false;
        for (int s = 0; s < 3; s++)
        {
            var space = _spaces[s];
            bool zeroRtt = s == 2 && CanSendZeroRtt;
            if (!space.CanSend && !zeroRtt || datagram.Length - offset < MinimumPacketRoom) continue;
            if (!TryBuildPacket(space, datagram, offset, now, out var packet, zeroRtt)) continue;
            _pending[count++] = packet;
            offset = packet.Start + packet.HeaderLength + packet.PayloadLength + TagLengthFor(packet);
            if (s == 0)
            {
                hasInitial = true;
                initialAckEliciting = packet.Record.AckEliciting;
            }
        }
        // Fast-path stream data goes last and alone: ACKs, control frames and retransmissions go first in ordinary packets.
        if (count == 0) return TryWriteFastPathPacket(datagram, now, out int fastPath) ? fastPath : 0;

        // RFC 9000 §14.1: a client pads every datagram with an Initial, a server those with ack-eliciting Initials.
        // §8.2.1/§8.2.2: so are datagrams with PATH_CHALLENGE or PATH_RESPONSE (as far as the path's limit allows).
        if ((hasInitial && (_isClient || initialAckEliciting) || _padDatagram) && offset < Math.Min(MinimumInitialDatagramSize, datagram.Length))
        {
            ref var last = ref _pending[count - 1];
            int padding = Math.Min(MinimumInitialDatagramSize, datagram.Length) - offset;
            datagram.Slice(last.Start + last.HeaderLength + last.PayloadLength, padding).Clear();
            last.PayloadLength += padding;
            offset += padding;
        }

        bool sentHandshake = false;
        for (int i = 0; i < count; i++)
        {
            ref var packet = ref _pending[i];
            TracePacketSent(datagram, packet, packet.Space);
            int length = SealPacket(datagram, packet);
            var record = packet.Record;
            record.Size = length;
            record.InFlight = record.AckEliciting || packet.PayloadLength > 0 && hasInitial;
            RecordSent(record, now);
            // RFC 9000 §10.1: sending restarts the idle timer only for the first ack-eliciting packet since the peer was
            // last heard from; otherwise the probes to a peer that is gone would keep the connection alive.
            if (record.AckEliciting && !_ackElicitingSentSinceReceive)
            {
                _lastActivity = Math.Max(_lastActivity, now);
                _ackElicitingSentSinceReceive = true;
            }
            sentHandshake |= packet.Space == PacketNumberSpace.Handshake;
            packet.Record = null!;
        }
        _bytesSent += offset;
        if (!_pathValidated) _pathBytesSent += offset;
        // RFC 9001 §4.9.1: a client drops Initial keys when it first sends a Handshake packet.
        if (_isClient && sentHandshake) DiscardSpace(PacketNumberSpace.Initial);
        return offset;
    }

    /// <summary>Server before address validation: bytes it may still send (RFC 9000 §8.1).</summary>
    private long AmplificationAllowance => 3 * _bytesReceived - _bytesSent;

    private bool AmplificationLimited => !_isClient && !_addressValidated && AmplificationAllowance < MinimumInitialDatagramSize;

    private int MaxDatagramSize =>
        _peerParameters is { } peer ? (int)Math.Min((ulong)_pmtu.CurrentSize, peer.MaxUdpPayloadSize) : MinimumInitialDatagramSize;

    private long MaxAckDelayFor(PacketSpace space) => space.Space == PacketNumberSpace.ApplicationData ? _localMaxAckDelay : 0;

    private int TagLengthFor(in PendingPacket packet) => packet.Keys is null ? 0 : PacketProtection.TagLength;

    private bool HasAckElicitingData(PacketSpace space)
    {
        if (space.ProbesPending > 0 || space.CryptoSend.HasPendingData(ulong.MaxValue)) return true;
        if (space.Space != PacketNumberSpace.ApplicationData) return false;
        if (!_handshakeComplete && _isClient) return CanSendZeroRtt && Streams.HasPendingFrames;
        return _handshakeDonePending || _pingPending || HasAckFrequencyFrames || _pathResponsePending is not null || _pathChallengePending || _cids.HasPendingFrames
            || HasDatagramsToSend || Streams.HasPendingFrames;
    }

    private bool TryBuildPacket(PacketSpace space, Span<byte> datagram, int start, long now, out PendingPacket packet, bool zeroRtt = false)
    {
        packet = default;
        bool probe = space.ProbesPending > 0;
        bool wantData = HasAckElicitingData(space) && (probe || _cc.CanSend(MaxDatagramSize) && !(_probeWaitsForWindow && space.Space == PacketNumberSpace.ApplicationData));
        bool ackDue = space.Received.AckPending && (wantData || space.Received.AckDeadline(MaxAckDelayFor(space)) <= now);
        if (!wantData && !ackDue) return false;

        bool oneRtt = space.Space == PacketNumberSpace.ApplicationData && !zeroRtt;
        var keys = zeroRtt ? _zeroRttKeys : oneRtt && _plaintextOneRtt ? null : space.WriteKeys;
        if (oneRtt) ReserveOneRttNumber(space);
        ulong packetNumber = space.NextPacketNumber;
        var buffer = datagram[start..];
        var longType = zeroRtt ? QuicPacketType.ZeroRtt : space.Space == PacketNumberSpace.Initial ? QuicPacketType.Initial : QuicPacketType.Handshake;
        int headerLength = oneRtt
            ? PacketHeaderWriter.WriteShortHeader(buffer, _cids.Destination.Span, packetNumber, PacketNumberLength, space.WriteKeys!.KeyPhase)
            : PacketHeaderWriter.WriteLongHeader(buffer, longType,
                zeroRtt ? _originalVersion : _version, _cids.Destination.Span, _cids.InitialLocal.Span, space.Space == PacketNumberSpace.Initial && _isClient ? _token : [],
                packetNumber, PacketNumberLength, 0, LengthFieldLength);
        int tag = keys is null ? 0 : PacketProtection.TagLength;
        var frames = buffer[headerLength..^tag];
        if (frames.Length < 8) return false;

        var record = _loss.RentPacket();
        record.PacketNumber = packetNumber;
        record.Space = space.Space;
        int written = 0;
        if (space.Received.AckPending)
        {
            ulong? largest = space.Received.LargestReceived;
            int ack = space.Received.WriteAckFrame(frames, now, LocalAckDelayExponent);
            if (ack > 0)
            {
                record.LargestAcknowledgedInAck = largest;
                AckFramesSent++;
            }
            written += ack;
        }
        if (wantData) written += WriteAckElicitingFrames(space, frames[written..], record, probe, now, zeroRtt);
        _zeroRttSent |= zeroRtt;
        foreach (var f in record.Frames)
            if (FrameType.IsAckEliciting(f.FrameType)) { record.AckEliciting = true; break; }
        // A probe must elicit an ACK even when there is nothing to (re)send: PING (RFC 9002 §6.2.4).
        if (probe && !record.AckEliciting && frames.Length - written > 0)
        {
            frames[written++] = (byte)FrameType.Ping;
            record.Frames.Add(new SentFrame(FrameType.Ping));
            record.AckEliciting = true;
        }
        if (written == 0)
        {
            _loss.ReturnPacket(record);
            return false;
        }
        if (record.AckEliciting && probe) space.ProbesPending--;
        if (_log.IsEnabled(LogLevel.Trace)) _log.LogTrace("sent {Space} {Number}: {Frames}", space.Space, packetNumber, DescribeFrames(record));
        space.NextPacketNumber++;
        packet = new PendingPacket
        {
            Start = start, HeaderLength = headerLength, PayloadLength = written, LongHeader = !oneRtt, Keys = keys, Record = record, Space = space.Space,
        };
        return true;
    }

    private int WriteAckElicitingFrames(PacketSpace space, Span<byte> frames, SentPacket record, bool probe, long now, bool zeroRtt = false)
    {
        int written = 0;
        // CRYPTO first: handshake progress matters more than anything else in the packet.
        while (frames.Length - written > 16)
        {
            int room = frames.Length - written;
            int overhead = CryptoFrame.GetOverhead(space.CryptoSend.WrittenLength, room);
            var dataArea = frames.Slice(written + overhead, room - overhead);
            if (!space.CryptoSend.TryTakeNext(dataArea, ulong.MaxValue, out ulong offset, out int length, out _)) break;
            // Frame header in front of the data already copied into place (overhead was sized for the largest offset).
            var header = frames[written..];
            int h = 0;
            header[h++] = (byte)FrameType.Crypto;
            h += QuicVarint.Write(header[h..], offset, QuicVarint.GetLength(space.CryptoSend.WrittenLength));
            h += QuicVarint.Write(header[h..], (ulong)length, QuicVarint.GetLength((ulong)room));
            if (h != overhead) throw new InvalidOperationException("CRYPTO frame header size mismatch");
            written += overhead + length;
            record.Frames.Add(new SentFrame(FrameType.Crypto, (ulong)space.Space, offset, (ulong)length));
        }
        if (space.Space != PacketNumberSpace.ApplicationData) return written;
        if (zeroRtt)
        {
            // RFC 9000 §12.4 Table 3: of what we would send, only STREAM frames (and a probe's PING) belong in 0-RTT.
            if (probe && frames.Length - written >= 1 && !Streams.HasPendingFrames)
            {
                frames[written++] = (byte)FrameType.Ping;
                record.Frames.Add(new SentFrame(FrameType.Ping));
            }
            return written + Streams.WriteFrames(frames[written..], record.Frames);
        }

        if (_handshakeDonePending && frames.Length - written >= 1)
        {
            frames[written++] = (byte)FrameType.HandshakeDone;
            record.Frames.Add(new SentFrame(FrameType.HandshakeDone));
            _handshakeDonePending = false;
        }
        if (_pathResponsePending is { } challenge && frames.Length - written >= 9)
        {
            written += new PathResponseFrame(challenge).Write(frames[written..]);
            record.Frames.Add(new SentFrame(FrameType.PathResponse));
            _pathResponsePending = null;
            _padDatagram = true;
        }
        if (_pathChallengePending && _pathChallenge is { } ours && frames.Length - written >= 9)
        {
            written += new PathChallengeFrame(ours).Write(frames[written..]);
            record.Frames.Add(new SentFrame(FrameType.PathChallenge));
            _pathChallengePending = false;
            _pathChallengeSentAt = now;
            _padDatagram = true;
        }
        if (_pingPending && frames.Length - written >= 1)
        {
            frames[written++] = (byte)FrameType.Ping;
            record.Frames.Add(new SentFrame(FrameType.Ping));
            _pingPending = false;
        }
        written += WriteAckFrequencyFrames(frames[written..], record, probe, now);
        written += _cids.WriteFrames(frames[written..], record.Frames);
        if (_handshakeComplete || !_isClient)
        {
            // Datagrams before stream data: they are the latency-sensitive traffic and never wait for a retransmission.
            written += WriteDatagramFrames(frames[written..], record);
            written += Streams.WriteFrames(frames[written..], record.Frames);
        }
        return written;
    }

    /// <summary>Fills in the Length field, then applies AEAD and header protection (or, for unprotected 1-RTT, nothing).</summary>
    private static int SealPacket(Span<byte> datagram, in PendingPacket packet)
    {
        var bytes = datagram[packet.Start..];
        int pnOffset = packet.HeaderLength - PacketNumberLength;
        if (packet.LongHeader)
        {
            int tag = packet.Keys is null ? 0 : PacketProtection.TagLength;
            PacketHeaderWriter.PatchLength(bytes.Slice(pnOffset - LengthFieldLength, LengthFieldLength), (ulong)(PacketNumberLength + packet.PayloadLength + tag));
        }
        if (packet.Keys is null) return packet.HeaderLength + packet.PayloadLength;
        return PacketProtection.Protect(bytes, pnOffset, packet.Record.PacketNumber, packet.PayloadLength, packet.Keys);
    }

    /// <summary>CONNECTION_CLOSE in every space we can send in (the peer may lack our newer keys, RFC 9000 §10.2.3).</summary>
    private int WriteClosePackets(Span<byte> datagram, long now)
    {
        if (!_closeFramePending || CloseInfo is not { } info) return 0;
        int offset = 0;
        for (int s = 0; s < 3; s++)
        {
            var space = _spaces[s];
            if (!space.CanSend || datagram.Length - offset < MinimumPacketRoom + 64) continue;
            // Only the application space may carry the application variant; elsewhere it becomes APPLICATION_ERROR.
            bool app = info.IsApplicationError && s == 2;
            var frame = info.IsApplicationError && !app
                ? new ConnectionCloseFrame(false, (ulong)QuicTransportError.ApplicationError, 0, ReadOnlyMemory<byte>.Empty)
                : new ConnectionCloseFrame(info.IsApplicationError, info.ErrorCode, 0, System.Text.Encoding.UTF8.GetBytes(Truncate(info.Reason)));
            bool oneRtt = s == 2;
            var keys = oneRtt && _plaintextOneRtt ? null : space.WriteKeys;
            var buffer = datagram[offset..];
            if (oneRtt) ReserveOneRttNumber(space);
            ulong pn = space.NextPacketNumber++;
            int headerLength = oneRtt
                ? PacketHeaderWriter.WriteShortHeader(buffer, _cids.Destination.Span, pn, PacketNumberLength, space.WriteKeys!.KeyPhase)
                : PacketHeaderWriter.WriteLongHeader(buffer, s == 0 ? QuicPacketType.Initial : QuicPacketType.Handshake, _version,
                    _cids.Destination.Span, _cids.InitialLocal.Span, s == 0 && _isClient ? _token : [], pn, PacketNumberLength, 0, LengthFieldLength);
            int payload = frame.Write(buffer[headerLength..]);
            bool pad = s == 0 && _isClient;
            var pending = new PendingPacket { Start = offset, HeaderLength = headerLength, PayloadLength = payload, LongHeader = !oneRtt, Keys = keys };
            pending.Record = _loss.RentPacket();
            pending.Record.PacketNumber = pn;
            if (pad && offset + headerLength + payload + PacketProtection.TagLength < MinimumInitialDatagramSize)
            {
                int padding = MinimumInitialDatagramSize - (offset + headerLength + payload + PacketProtection.TagLength);
                buffer.Slice(headerLength + payload, padding).Clear();
                pending.PayloadLength += padding;
            }
            TracePacketSent(datagram, pending, (PacketNumberSpace)s);
            offset += SealPacket(datagram, pending);
            _loss.ReturnPacket(pending.Record);
        }
        _closeFramePending = false;
        _bytesSent += offset;
        return offset;
    }

    private static string DescribeFrames(SentPacket record)
    {
        var text = new System.Text.StringBuilder();
        if (record.LargestAcknowledgedInAck is { } acked) text.Append("ACK<=").Append(acked).Append(' ');
        foreach (var f in record.Frames) text.Append("0x").Append(f.FrameType.ToString("x")).Append(' ');
        return text.ToString();
    }

    private static string Truncate(string reason) => reason.Length <= 64 ? reason : reason[..64];
}
