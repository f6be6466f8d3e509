namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>
/// Receives the frames of a packet from <see cref="FrameDecoder"/>. A struct (or ref struct) handler is called without
/// virtual dispatch. Returning an error stops decoding; the connection closes with it.
/// </summary>
public interface IQuicFrameHandler
{
    QuicError OnPadding(in PaddingFrame frame);
    QuicError OnPing(in PingFrame frame);
    QuicError OnAck(in AckFrame frame);
    QuicError OnResetStream(in ResetStreamFrame frame);
    QuicError OnStopSending(in StopSendingFrame frame);
    QuicError OnCrypto(in CryptoFrame frame);
    QuicError OnNewToken(in NewTokenFrame frame);
    QuicError OnStream(in StreamFrame frame);
    QuicError OnMaxData(in MaxDataFrame frame);
    QuicError OnMaxStreamData(in MaxStreamDataFrame frame);
    QuicError OnMaxStreams(in MaxStreamsFrame frame);
    QuicError OnDataBlocked(in DataBlockedFrame frame);
    QuicError OnStreamDataBlocked(in StreamDataBlockedFrame frame);
    QuicError OnStreamsBlocked(in StreamsBlockedFrame frame);
    QuicError OnNewConnectionId(in NewConnectionIdFrame frame);
    QuicError OnRetireConnectionId(in RetireConnectionIdFrame frame);
    QuicError OnPathChallenge(in PathChallengeFrame frame);
    QuicError OnPathResponse(in PathResponseFrame frame);
    QuicError OnConnectionClose(in ConnectionCloseFrame frame);
    QuicError OnHandshakeDone(in HandshakeDoneFrame frame);
    QuicError OnDatagram(in DatagramFrame frame);
    QuicError OnAckFrequency(in AckFrequencyFrame frame);
    QuicError OnImmediateAck(in ImmediateAckFrame frame);
}
