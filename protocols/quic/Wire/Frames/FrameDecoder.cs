namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>
/// Walks the frames of a decrypted packet payload (RFC 9000 §12.4) and hands each to a handler. Errors, in the order
/// the RFC assigns them: a packet without frames is a PROTOCOL_VIOLATION; a frame type that is not minimally encoded
/// is a PROTOCOL_VIOLATION (§12.4, "MAY"); an unknown frame type (including DATAGRAM when not negotiated) is a
/// FRAME_ENCODING_ERROR; a frame not permitted in the packet type is a PROTOCOL_VIOLATION; malformed frame contents
/// are a FRAME_ENCODING_ERROR. ACK_FREQUENCY and IMMEDIATE_ACK are known only with <c>ackFrequencyEnabled</c> (we
/// advertised min_ack_delay, draft-ietf-quic-ack-frequency §3); otherwise they are unknown types like any other.
/// Never throws, never allocates.
/// </summary>
public static class FrameDecoder
{
    public static bool TryDecode<THandler>(ReadOnlyMemory<byte> payload, QuicPacketType packetType, ref THandler handler,
        out bool ackEliciting, out QuicError error, bool datagramsEnabled = true, bool ackFrequencyEnabled = false)
        where THandler : IQuicFrameHandler, allows ref struct
    {
        ackEliciting = false;
        if (payload.IsEmpty)
        {
            error = QuicError.Protocol("packet payload contains no frames");
            return false;
        }
        var reader = new QuicReader(payload);
        while (!reader.IsEnd)
        {
            if (!reader.TryReadVarint(out ulong type, out int typeLength))
            {
                error = QuicError.FrameEncoding(0, "frame type truncated");
                return false;
            }
            if (typeLength != QuicVarint.GetLength(type))
            {
                error = QuicError.Protocol("frame type not minimally encoded", type);
                return false;
            }
            bool isDatagram = type is FrameType.Datagram or FrameType.DatagramWithLength;
            bool isAckFrequency = type is FrameType.AckFrequency or FrameType.ImmediateAck;
            if (type > FrameType.HandshakeDone && !(isDatagram && datagramsEnabled) && !(isAckFrequency && ackFrequencyEnabled))
            {
                error = QuicError.FrameEncoding(type, "unknown frame type");
                return false;
            }
            if (!FrameType.IsAllowedIn(type, packetType))
            {
                error = QuicError.Protocol("frame type not allowed in this packet type", type);
                return false;
            }
            ackEliciting |= FrameType.IsAckEliciting(type);
            error = Dispatch(ref reader, type, ref handler);
            if (!error.IsNone) return false;
        }
        error = default;
        return true;
    }

    private static QuicError Dispatch<THandler>(ref QuicReader reader, ulong type, ref THandler handler)
        where THandler : IQuicFrameHandler, allows ref struct
    {
        QuicError error;
        switch (type)
        {
            case FrameType.Padding:
                return PaddingFrame.TryRead(ref reader, type, out var padding, out error) ? handler.OnPadding(padding) : error;
            case FrameType.Ping:
                return PingFrame.TryRead(ref reader, type, out var ping, out error) ? handler.OnPing(ping) : error;
            case FrameType.Ack or FrameType.AckEcn:
                return AckFrame.TryRead(ref reader, type, out var ack, out error) ? handler.OnAck(ack) : error;
            case FrameType.ResetStream:
                return ResetStreamFrame.TryRead(ref reader, type, out var reset, out error) ? handler.OnResetStream(reset) : error;
            case FrameType.StopSending:
                return StopSendingFrame.TryRead(ref reader, type, out var stop, out error) ? handler.OnStopSending(stop) : error;
            case FrameType.Crypto:
                return CryptoFrame.TryRead(ref reader, type, out var crypto, out error) ? handler.OnCrypto(crypto) : error;
            case FrameType.NewToken:
                return NewTokenFrame.TryRead(ref reader, type, out var token, out error) ? handler.OnNewToken(token) : error;
            case >= FrameType.Stream and <= FrameType.StreamMax:
                return StreamFrame.TryRead(ref reader, type, out var stream, out error) ? handler.OnStream(stream) : error;
            case FrameType.MaxData:
                return MaxDataFrame.TryRead(ref reader, type, out var maxData, out error) ? handler.OnMaxData(maxData) : error;
            case FrameType.MaxStreamData:
                return MaxStreamDataFrame.TryRead(ref reader, type, out var maxStreamData, out error) ? handler.OnMaxStreamData(maxStreamData) : error;
            case FrameType.MaxStreamsBidi or FrameType.MaxStreamsUni:
                return MaxStreamsFrame.TryRead(ref reader, type, out var maxStreams, out error) ? handler.OnMaxStreams(maxStreams) : error;
            case FrameType.DataBlocked:
                return DataBlockedFrame.TryRead(ref reader, type, out var dataBlocked, out error) ? handler.OnDataBlocked(dataBlocked) : error;
            case FrameType.StreamDataBlocked:
                return StreamDataBlockedFrame.TryRead(ref reader, type, out var streamDataBlocked, out error) ? handler.OnStreamDataBlocked(streamDataBlocked) : error;
            case FrameType.StreamsBlockedBidi or FrameType.StreamsBlockedUni:
                return StreamsBlockedFrame.TryRead(ref reader, type, out var streamsBlocked, out error) ? handler.OnStreamsBlocked(streamsBlocked) : error;
            case FrameType.NewConnectionId:
                return NewConnectionIdFrame.TryRead(ref reader, type, out var newCid, out error) ? handler.OnNewConnectionId(newCid) : error;
            case FrameType.RetireConnectionId:
                return RetireConnectionIdFrame.TryRead(ref reader, type, out var retire, out error) ? handler.OnRetireConnectionId(retire) : error;
            case FrameType.PathChallenge:
                return PathChallengeFrame.TryRead(ref reader, type, out var challenge, out error) ? handler.OnPathChallenge(challenge) : error;
            case FrameType.PathResponse:
                return PathResponseFrame.TryRead(ref reader, type, out var response, out error) ? handler.OnPathResponse(response) : error;
            case FrameType.ConnectionClose or FrameType.ConnectionCloseApplication:
                return ConnectionCloseFrame.TryRead(ref reader, type, out var close, out error) ? handler.OnConnectionClose(close) : error;
            case FrameType.HandshakeDone:
                return HandshakeDoneFrame.TryRead(ref reader, type, out var done, out error) ? handler.OnHandshakeDone(done) : error;
            case FrameType.Datagram or FrameType.DatagramWithLength:
                return DatagramFrame.TryRead(ref reader, type, out var datagram, out error) ? handler.OnDatagram(datagram) : error;
            case FrameType.AckFrequency:
                return AckFrequencyFrame.TryRead(ref reader, type, out var frequency, out error) ? handler.OnAckFrequency(frequency) : error;
            case FrameType.ImmediateAck:
                return ImmediateAckFrame.TryRead(ref reader, type, out var immediate, out error) ? handler.OnImmediateAck(immediate) : error;
            default:
                return QuicError.FrameEncoding(type, "unknown frame type");
        }
    }
}
