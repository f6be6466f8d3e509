namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>Frame types of RFC 9000 §19 (Table 3), DATAGRAM (RFC 9221 §4) and the ACK frequency extension
/// (draft-ietf-quic-ack-frequency-12 §4, §5).</summary>
public static class FrameType
{
    public const ulong Padding = 0x00;
    public const ulong Ping = 0x01;
    public const ulong Ack = 0x02;
    public const ulong AckEcn = 0x03;
    public const ulong ResetStream = 0x04;
    public const ulong StopSending = 0x05;
    public const ulong Crypto = 0x06;
    public const ulong NewToken = 0x07;
    /// <summary>0x08..0x0f: STREAM with OFF (0x04), LEN (0x02) and FIN (0x01) bits.</summary>
    public const ulong Stream = 0x08;
    public const ulong StreamMax = 0x0f;
    public const ulong MaxData = 0x10;
    public const ulong MaxStreamData = 0x11;
    public const ulong MaxStreamsBidi = 0x12;
    public const ulong MaxStreamsUni = 0x13;
    public const ulong DataBlocked = 0x14;
    public const ulong StreamDataBlocked = 0x15;
    public const ulong StreamsBlockedBidi = 0x16;
    public const ulong StreamsBlockedUni = 0x17;
    public const ulong NewConnectionId = 0x18;
    public const ulong RetireConnectionId = 0x19;
    public const ulong PathChallenge = 0x1a;
    public const ulong PathResponse = 0x1b;
    public const ulong ConnectionClose = 0x1c;
    public const ulong ConnectionCloseApplication = 0x1d;
    public const ulong HandshakeDone = 0x1e;
    /// <summary>draft-ietf-quic-ack-frequency §5: accepted only when we advertised min_ack_delay.</summary>
    public const ulong ImmediateAck = 0x1f;
    /// <summary>RFC 9221: DATAGRAM without (0x30) and with (0x31) a Length field.</summary>
    public const ulong Datagram = 0x30;
    public const ulong DatagramWithLength = 0x31;
    /// <summary>draft-ietf-quic-ack-frequency §4 (a two-byte varint on the wire): accepted only when we advertised min_ack_delay.</summary>
    public const ulong AckFrequency = 0xaf;

    public static bool IsStream(ulong type) => type is >= Stream and <= StreamMax;

    /// <summary>Whether a frame of this type is ack-eliciting (RFC 9002 §2): all but ACK, PADDING and CONNECTION_CLOSE.</summary>
    public static bool IsAckEliciting(ulong type) =>
        type is not (Padding or Ack or AckEcn or ConnectionClose or ConnectionCloseApplication);

    /// <summary>
    /// RFC 9000 §12.4 Table 3: which frames each packet type may carry. Initial and Handshake: PADDING, PING, ACK,
    /// CRYPTO, CONNECTION_CLOSE (0x1c). 0-RTT: everything but ACK, CRYPTO, HANDSHAKE_DONE, NEW_TOKEN, PATH_RESPONSE,
    /// RETIRE_CONNECTION_ID, and ACK_FREQUENCY / IMMEDIATE_ACK (draft-ietf-quic-ack-frequency §3: min_ack_delay is not
    /// remembered across connections, so they cannot be sent in 0-RTT). 1-RTT: everything.
    /// </summary>
    public static bool IsAllowedIn(ulong type, QuicPacketType packetType) => packetType switch
    {
        QuicPacketType.Initial or QuicPacketType.Handshake =>
            type is Padding or Ping or Ack or AckEcn or Crypto or ConnectionClose,
        QuicPacketType.ZeroRtt =>
            type is not (Ack or AckEcn or Crypto or HandshakeDone or NewToken or PathResponse or RetireConnectionId or AckFrequency or ImmediateAck),
        QuicPacketType.OneRtt => true,
        _ => false,
    };
}

/// <summary>
/// A frame as a value type: parsed from a <see cref="QuicReader"/> positioned after the frame type, written with its
/// type. TryRead never throws: malformed input gives a FRAME_ENCODING_ERROR (or the more specific code the RFC asks for).
/// </summary>
public interface IQuicFrame<TSelf> where TSelf : struct, IQuicFrame<TSelf>
{
    /// <param name="reader">Positioned right after the frame type.</param>
    /// <param name="frameType">The type already read (selects variants such as STREAM flags or ACK with ECN).</param>
    static abstract bool TryRead(ref QuicReader reader, ulong frameType, out TSelf frame, out QuicError error);

    /// <summary>The type this frame is written with.</summary>
    ulong Type { get; }

    /// <summary>Bytes <see cref="Write"/> produces, type included.</summary>
    int EncodedLength { get; }

    /// <summary>Writes the frame (type included) and returns its length; throws if the destination is too short.</summary>
    int Write(Span<byte> destination);
}

internal static class FrameErrors
{
    public static bool Truncated<T>(ulong frameType, out T frame, out QuicError error) where T : struct
    {
        frame = default;
        error = QuicError.FrameEncoding(frameType, "frame truncated");
        return false;
    }

    public static bool Fail<T>(QuicError failure, out T frame, out QuicError error) where T : struct
    {
        frame = default;
        error = failure;
        return false;
    }

    public static bool Ok<T>(T value, out T frame, out QuicError error) where T : struct
    {
        frame = value;
        error = default;
        return true;
    }

    public static int VarintLength(ulong value)
    {
        int length = QuicVarint.GetLength(value);
        return length != 0 ? length : throw new ArgumentOutOfRangeException(nameof(value), value, "exceeds 2^62-1");
    }
}
