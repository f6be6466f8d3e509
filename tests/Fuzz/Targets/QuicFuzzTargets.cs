using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Http3;
using FastRelay.Protocols.Quic.Http3.Qpack;
using FastRelay.Protocols.Quic.Tls;
using FastRelay.Protocols.Quic.Tls.Messages;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;

namespace FastRelay.Fuzz.Targets;

/// <summary>
/// The QUIC stack's network-facing parsers as fuzz targets. Each target feeds one input to a parser and walks whatever
/// it returns, so lazily decoded parts (ACK ranges, QPACK literals) are exercised too. A parser reports bad input as
/// a value (QuicError, TlsAlert, Http3Error); the only failure a target can show is an exception, which afl-fuzz
/// records as a crash and the corpus replay test as a failed test.
/// </summary>
public static class QuicFuzzTargets
{
    /// <summary>A datagram: coalesced packets, each header parsed with the short-header CID length a server uses.</summary>
    public static void Datagram(ReadOnlySpan<byte> input)
    {
        var datagram = input.ToArray();
        PacketHeaderParser.TryGetDestinationConnectionId(datagram, 8, out _);
        PacketHeaderParser.TryParse(datagram, 8, out _, out _);
        var packets = new CoalescedPackets(datagram, 8);
        int guard = 0;
        while (packets.TryGetNext(out _, out _))
            if (++guard > datagram.Length) throw new InvalidOperationException("coalesced packet iteration does not advance");
    }

    /// <summary>A decrypted payload, decoded as the frames of a 1-RTT packet and of an Initial packet.</summary>
    public static void Frames(ReadOnlySpan<byte> input)
    {
        var payload = input.ToArray();
        var handler = new WalkingFrameHandler();
        FrameDecoder.TryDecode(payload, QuicPacketType.OneRtt, ref handler, out _, out _, ackFrequencyEnabled: true);
        FrameDecoder.TryDecode(payload, QuicPacketType.Initial, ref handler, out _, out _);
        FrameDecoder.TryDecode(payload, QuicPacketType.Handshake, ref handler, out _, out _, datagramsEnabled: false);
    }

    /// <summary>A transport parameter block from either side.</summary>
    public static void TransportParameters(ReadOnlySpan<byte> input)
    {
        Protocols.Quic.Wire.TransportParameters.TryDecode(input, QuicPerspective.Client, out _, out _);
        Protocols.Quic.Wire.TransportParameters.TryDecode(input, QuicPerspective.Server, out _, out _);
    }

    /// <summary>A CRYPTO stream's bytes: framed handshake messages, each body handed to its message parser.</summary>
    public static void TlsHandshake(ReadOnlySpan<byte> input)
    {
        ReadOnlyMemory<byte> data = input.ToArray();
        while (HandshakeMessage.TryRead(data, out var type, out var body, out int consumed, out _))
        {
            switch (type)
            {
                case TlsHandshakeType.ClientHello: ClientHello.TryRead(body, out _, out _); break;
                case TlsHandshakeType.ServerHello: ServerHello.TryRead(body, out _, out _); break;
                case TlsHandshakeType.EncryptedExtensions: EncryptedExtensions.TryRead(body, out _, out _); break;
                case TlsHandshakeType.Certificate: Certificate.TryRead(body, out _, out _); break;
                case TlsHandshakeType.CertificateVerify: CertificateVerify.TryRead(body, out _, out _); break;
                case TlsHandshakeType.Finished: Finished.TryRead(body, 32, out _, out _); Finished.TryRead(body, 48, out _, out _); break;
                case TlsHandshakeType.NewSessionTicket: NewSessionTicket.TryRead(body, out _, out _); break;
                case TlsHandshakeType.KeyUpdate: KeyUpdate.TryRead(body.Span, out _, out _); break;
            }
            if (consumed <= 0) throw new InvalidOperationException("handshake message of no length consumed");
            data = data[consumed..];
        }
    }

    /// <summary>An HTTP/3 stream's bytes: frames in sequence; SETTINGS payloads parsed, HEADERS payloads QPACK-decoded.</summary>
    public static void Http3Frames(ReadOnlySpan<byte> input)
    {
        var fields = new List<HttpField>();
        while (Http3FrameCodec.TryReadFrame(input, 1 << 16, out ulong type, out var payload, out int consumed, out _) == Http3ParseStatus.Ok)
        {
            if (type == (ulong)Http3FrameType.Settings) Http3Settings.TryParse(payload, out _, out _);
            else if (type == (ulong)Http3FrameType.Headers)
            {
                fields.Clear();
                if (QpackDecoder.TryDecode(payload, fields, out _)) Http3Message.TryValidateRequest(fields, out _, out _);
            }
            if (consumed <= 0) throw new InvalidOperationException("HTTP/3 frame of no length consumed");
            input = input[consumed..];
        }
    }

    /// <summary>A QPACK field section (static table, Huffman literals).</summary>
    public static void Qpack(ReadOnlySpan<byte> input)
    {
        var fields = new List<HttpField>();
        if (QpackDecoder.TryDecode(input, fields, out _))
            Http3Message.TryValidateRequest(fields, out _, out _);
    }

    /// <summary>Accepts every frame and walks the parts that are decoded lazily.</summary>
    private struct WalkingFrameHandler : IQuicFrameHandler
    {
        public QuicError OnAck(in AckFrame frame)
        {
            foreach (var _ in frame.GetRanges()) { }
            return QuicError.None;
        }
        public QuicError OnPadding(in PaddingFrame frame) => QuicError.None;
        public QuicError OnPing(in PingFrame frame) => QuicError.None;
        public QuicError OnResetStream(in ResetStreamFrame frame) => QuicError.None;
        public QuicError OnStopSending(in StopSendingFrame frame) => QuicError.None;
        public QuicError OnCrypto(in CryptoFrame frame) => QuicError.None;
        public QuicError OnNewToken(in NewTokenFrame frame) => QuicError.None;
        public QuicError OnStream(in StreamFrame frame) => QuicError.None;
        public QuicError OnMaxData(in MaxDataFrame frame) => QuicError.None;
        public QuicError OnMaxStreamData(in MaxStreamDataFrame frame) => QuicError.None;
        public QuicError OnMaxStreams(in MaxStreamsFrame frame) => QuicError.None;
        public QuicError OnDataBlocked(in DataBlockedFrame frame) => QuicError.None;
        public QuicError OnStreamDataBlocked(in StreamDataBlockedFrame frame) => QuicError.None;
        public QuicError OnStreamsBlocked(in StreamsBlockedFrame frame) => QuicError.None;
        public QuicError OnNewConnectionId(in NewConnectionIdFrame frame) => QuicError.None;
        public QuicError OnRetireConnectionId(in RetireConnectionIdFrame frame) => QuicError.None;
        public QuicError OnPathChallenge(in PathChallengeFrame frame) => QuicError.None;
        public QuicError OnPathResponse(in PathResponseFrame frame) => QuicError.None;
        public QuicError OnConnectionClose(in ConnectionCloseFrame frame) => QuicError.None;
        public QuicError OnHandshakeDone(in HandshakeDoneFrame frame) => QuicError.None;
        public QuicError OnDatagram(in DatagramFrame frame) => QuicError.None;
        public QuicError OnAckFrequency(in AckFrequencyFrame frame) => QuicError.None;
        public QuicError OnImmediateAck(in ImmediateAckFrame frame) => QuicError.None;
    }
}
