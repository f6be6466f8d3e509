namespace FastRelay.Protocols.CustomUdp.Wire;

/// <summary>Constants of the custom-UDP wire format (protocols/custom-udp/README.md). All integers are big-endian.</summary>
public static class CustomUdpWire
{
    /// <summary>The relay's UDP port (the descriptor's <c>UdpPort</c>).</summary>
    public const int DefaultPort = 7400;

    /// <summary>Every datagram starts with this many header bytes.</summary>
    public const int HeaderSize = 16;

    /// <summary>The only protocol version (high nibble of byte 0).</summary>
    public const byte Version = 1;

    /// <summary>Byte 0 of a DATA packet with the reserved bits clear. DATA is recognised by <c>(byte0 &amp; 0xF8) == 0x18</c>.</summary>
    public const byte DataByte0 = 0x18;

    /// <summary>Byte 0 of every CONTROL packet (exact match).</summary>
    public const byte ControlByte0 = 0x10;

    /// <summary>Mask and value of the DATA match on byte 0.</summary>
    public const byte DataMask = 0xF8;

    /// <summary>Priority levels: bits 0..2 of byte 1, 0 = most urgent.</summary>
    public const int PriorityLevels = 8;

    /// <summary>
    /// Body size (type byte included) of SUBSCRIBE and PUBLISH: they are zero-padded to this so that no answer the relay
    /// sends to an unauthenticated sender (CHALLENGE, REPLY) is larger than what provoked it. Shorter ones are rejected.
    /// </summary>
    public const int PaddedRequestBodySize = 64;

    /// <summary>Body sizes (type byte included) of the fixed-size control messages.</summary>
    public const int SubscribeBodySize = PaddedRequestBodySize;
    public const int PublishBodySize = PaddedRequestBodySize;
    public const int ChallengeBodySize = 1 + 1 + HandshakeCookie.Size;          // type, role, cookie
    public const int ConfirmBodySize = 1 + 1 + HandshakeCookie.Size + 4 + 4;    // type, role, cookie, history_ms, rate
    public const int ReplyBodySize = 1 + 1 + 1 + 1 + SessionSize;      // type, role, status, slot, session
    public const int FeedbackBodySize = 1 + SessionSize + 4 + 4;       // type, session, rate, next expected
    public const int UnsubscribeBodySize = 1 + SessionSize;            // type, session

    /// <summary>The session secret an accepted subscriber's REPLY carries and its FEEDBACK, NACK and UNSUBSCRIBE must carry
    /// (right after the type byte): after the handshake a source address alone is easy to forge.</summary>
    public const int SessionSize = 8;

    /// <summary>NACK: type, session, u16 count, then <see cref="NackRangeSize"/> bytes per range.</summary>
    public const int NackFixedBodySize = 1 + SessionSize + 2;
    public const int NackRangeSize = 4 + 2;

    /// <summary>Ranges a NACK may carry (a NACK is then at most 16 + 11 + 128 × 6 = 795 bytes).</summary>
    public const int MaxNackRanges = 128;

    /// <summary>REPAIR body before the embedded DATA packet: type, u32 sequence.</summary>
    public const int RepairFixedBodySize = 1 + 4;

    /// <summary>HISTORY body before the embedded DATA packet: type.</summary>
    public const int HistoryFixedBodySize = 1;

    /// <summary>Whole-packet sizes of the fixed-size control messages.</summary>
    public const int SubscribePacketSize = HeaderSize + SubscribeBodySize;   // 80
    public const int PublishPacketSize = HeaderSize + PublishBodySize;       // 80
    public const int ChallengePacketSize = HeaderSize + ChallengeBodySize;   // 34
    public const int ConfirmPacketSize = HeaderSize + ConfirmBodySize;       // 42
    public const int ReplyPacketSize = HeaderSize + ReplyBodySize;           // 28
    public const int FeedbackPacketSize = HeaderSize + FeedbackBodySize;     // 33
    public const int UnsubscribePacketSize = HeaderSize + UnsubscribeBodySize; // 25

    /// <summary>Largest UDP payload (IPv4); a receive buffer of this size never truncates a datagram.</summary>
    public const int MaxDatagramSize = 65507;

    /// <summary>
    /// <c>rate_bytes_per_s</c> meaning "no limit" (the clients send it when the user asks for no rate limit).
    /// 0 is a real limit: nothing but what the relay never drops.
    /// </summary>
    public const uint UnlimitedRate = uint.MaxValue;
}

/// <summary>The first byte of a CONTROL body.</summary>
public enum ControlType : byte
{
    Subscribe = 1,
    Publish = 2,
    Challenge = 3,
    Confirm = 4,
    Reply = 5,
    Feedback = 6,
    Nack = 7,
    Repair = 8,
    History = 9,
    Unsubscribe = 10,
}

/// <summary>Role carried by CHALLENGE, CONFIRM and REPLY (and bound into the cookie). Values mirror the request types.</summary>
public enum Role : byte
{
    Subscriber = 1,
    Publisher = 2,
}

/// <summary>REPLY status.</summary>
public enum ReplyStatus : byte
{
    Accepted = 0,
    RelayFull = 1,
    BadCookie = 2,
    ChannelHasUpstream = 3,
}
