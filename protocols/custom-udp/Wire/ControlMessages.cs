using System.Buffers.Binary;

namespace FastRelay.Protocols.CustomUdp.Wire;

/// <summary>
/// Shared framing of CONTROL packets: the 16-byte header (byte 0 = 0x10, priority/flags 0) then a body whose first byte
/// is the <see cref="ControlType"/>. Each message type has <c>TryRead(packet, out header, out message)</c> (false on
/// anything malformed or truncated, never throws) and <c>Write(destination, channel, timestampNs)</c> returning the
/// number of bytes written (throws <see cref="ArgumentException"/> only if the destination is too short: a caller bug).
/// The channel a control message refers to is the header's channel field.
/// </summary>
public static class ControlMessage
{
    /// <summary>Reads the header and type byte of a CONTROL packet (the body is not validated: use the type's TryRead).</summary>
    public static bool TryReadType(ReadOnlySpan<byte> packet, out PacketHeader header, out ControlType type)
    {
        type = default;
        if (!PacketHeader.TryRead(packet, out header) || header.IsData || packet.Length < CustomUdpWire.HeaderSize + 1)
            return false;
        var t = packet[CustomUdpWire.HeaderSize];
        if (t < (byte)ControlType.Subscribe || t > (byte)ControlType.Unsubscribe)
            return false;
        type = (ControlType)t;
        return true;
    }

    /// <summary>The body (type byte included) of a CONTROL packet of the expected type.</summary>
    internal static bool TryBody(ReadOnlySpan<byte> packet, ControlType expected, out PacketHeader header, out ReadOnlySpan<byte> body)
    {
        body = default;
        if (!TryReadType(packet, out header, out var type) || type != expected)
            return false;
        body = packet[CustomUdpWire.HeaderSize..];
        return true;
    }

    /// <summary>Writes the header and the type byte; returns the offset of the byte after the type byte.</summary>
    internal static int Begin(Span<byte> destination, ControlType type, int bodySize, ushort channel, ulong timestampNs, uint sequence = 0)
    {
        if (destination.Length < CustomUdpWire.HeaderSize + bodySize)
            throw new ArgumentException($"{type} needs {CustomUdpWire.HeaderSize + bodySize} bytes", nameof(destination));
        PacketHeader.Control(channel, timestampNs, sequence).Write(destination);
        destination[CustomUdpWire.HeaderSize] = (byte)type;
        return CustomUdpWire.HeaderSize + 1;
    }

    internal static bool IsRole(byte value) => value is (byte)Role.Subscriber or (byte)Role.Publisher;
}

/// <summary>SUBSCRIBE (subscriber → relay): <c>u32 history_ms, u32 rate_bytes_per_s</c>, body zero-padded to 64 bytes.
/// A shorter body is rejected (anti-amplification); a longer one is accepted, padding is not inspected.</summary>
public readonly record struct Subscribe(uint HistoryMs, uint RateBytesPerSecond)
{
    public static bool TryRead(ReadOnlySpan<byte> packet, out Subscribe message) => TryRead(packet, out _, out message);

    public static bool TryRead(ReadOnlySpan<byte> packet, out PacketHeader header, out Subscribe message)
    {
        message = default;
        if (!ControlMessage.TryBody(packet, ControlType.Subscribe, out header, out var body) || body.Length < CustomUdpWire.SubscribeBodySize)
            return false;
        message = new Subscribe(BinaryPrimitives.ReadUInt32BigEndian(body[1..]), BinaryPrimitives.ReadUInt32BigEndian(body[5..]));
        return true;
    }

    public int Write(Span<byte> destination, ushort channel, ulong timestampNs)
    {
        var o = ControlMessage.Begin(destination, ControlType.Subscribe, CustomUdpWire.SubscribeBodySize, channel, timestampNs);
        BinaryPrimitives.WriteUInt32BigEndian(destination[o..], HistoryMs);
        BinaryPrimitives.WriteUInt32BigEndian(destination[(o + 4)..], RateBytesPerSecond);
        destination[(o + 8)..CustomUdpWire.SubscribePacketSize].Clear();
        return CustomUdpWire.SubscribePacketSize;
    }
}

/// <summary>PUBLISH (publisher → relay): asks to become the channel's upstream; body zero-padded to 64 bytes.</summary>
public readonly record struct Publish
{
    public static bool TryRead(ReadOnlySpan<byte> packet, out Publish message) => TryRead(packet, out _, out message);

    public static bool TryRead(ReadOnlySpan<byte> packet, out PacketHeader header, out Publish message)
    {
        message = default;
        return ControlMessage.TryBody(packet, ControlType.Publish, out header, out var body) && body.Length >= CustomUdpWire.PublishBodySize;
    }

    public int Write(Span<byte> destination, ushort channel, ulong timestampNs)
    {
        var o = ControlMessage.Begin(destination, ControlType.Publish, CustomUdpWire.PublishBodySize, channel, timestampNs);
        destination[o..CustomUdpWire.PublishPacketSize].Clear();
        return CustomUdpWire.PublishPacketSize;
    }
}

/// <summary>CHALLENGE (relay → sender): <c>u8 role, 16-byte cookie</c>. Always smaller than the SUBSCRIBE/PUBLISH it answers.</summary>
public readonly record struct Challenge(Role Role, HandshakeCookie Cookie)
{
    public static bool TryRead(ReadOnlySpan<byte> packet, out Challenge message) => TryRead(packet, out _, out message);

    public static bool TryRead(ReadOnlySpan<byte> packet, out PacketHeader header, out Challenge message)
    {
        message = default;
        if (!ControlMessage.TryBody(packet, ControlType.Challenge, out header, out var body) || body.Length != CustomUdpWire.ChallengeBodySize
            || !ControlMessage.IsRole(body[1]))
            return false;
        message = new Challenge((Role)body[1], new HandshakeCookie(body.Slice(2, HandshakeCookie.Size)));
        return true;
    }

    public int Write(Span<byte> destination, ushort channel, ulong timestampNs)
    {
        var o = ControlMessage.Begin(destination, ControlType.Challenge, CustomUdpWire.ChallengeBodySize, channel, timestampNs);
        destination[o] = (byte)Role;
        Cookie.WriteTo(destination[(o + 1)..]);
        return CustomUdpWire.ChallengePacketSize;
    }
}

/// <summary>CONFIRM (sender → relay): <c>u8 role, 16-byte cookie, u32 history_ms, u32 rate_bytes_per_s</c>
/// (a publisher sends 0 for history and rate).</summary>
public readonly record struct Confirm(Role Role, HandshakeCookie Cookie, uint HistoryMs, uint RateBytesPerSecond)
{
    public static bool TryRead(ReadOnlySpan<byte> packet, out Confirm message) => TryRead(packet, out _, out message);

    public static bool TryRead(ReadOnlySpan<byte> packet, out PacketHeader header, out Confirm message)
    {
        message = default;
        if (!ControlMessage.TryBody(packet, ControlType.Confirm, out header, out var body) || body.Length != CustomUdpWire.ConfirmBodySize
            || !ControlMessage.IsRole(body[1]))
            return false;
        message = new Confirm((Role)body[1], new HandshakeCookie(body.Slice(2, HandshakeCookie.Size)),
            BinaryPrimitives.ReadUInt32BigEndian(body[18..]), BinaryPrimitives.ReadUInt32BigEndian(body[22..]));
        return true;
    }

    public int Write(Span<byte> destination, ushort channel, ulong timestampNs)
    {
        var o = ControlMessage.Begin(destination, ControlType.Confirm, CustomUdpWire.ConfirmBodySize, channel, timestampNs);
        destination[o] = (byte)Role;
        Cookie.WriteTo(destination[(o + 1)..]);
        BinaryPrimitives.WriteUInt32BigEndian(destination[(o + 17)..], HistoryMs);
        BinaryPrimitives.WriteUInt32BigEndian(destination[(o + 21)..], RateBytesPerSecond);
        return CustomUdpWire.ConfirmPacketSize;
    }
}

/// <summary>REPLY (relay → sender): <c>u8 role, u8 status, u8 slot, u64 session</c> (the secret later FEEDBACK, NACK and
/// UNSUBSCRIBE must carry; 0 unless accepted). Unknown roles or statuses are rejected.</summary>
public readonly record struct Reply(Role Role, ReplyStatus Status, byte Slot, ulong Session = 0)
{
    public static bool TryRead(ReadOnlySpan<byte> packet, out Reply message) => TryRead(packet, out _, out message);

    public static bool TryRead(ReadOnlySpan<byte> packet, out PacketHeader header, out Reply message)
    {
        message = default;
        if (!ControlMessage.TryBody(packet, ControlType.Reply, out header, out var body) || body.Length != CustomUdpWire.ReplyBodySize
            || !ControlMessage.IsRole(body[1]) || body[2] > (byte)ReplyStatus.ChannelHasUpstream)
            return false;
        message = new Reply((Role)body[1], (ReplyStatus)body[2], body[3], BinaryPrimitives.ReadUInt64BigEndian(body[4..]));
        return true;
    }

    public int Write(Span<byte> destination, ushort channel, ulong timestampNs)
    {
        var o = ControlMessage.Begin(destination, ControlType.Reply, CustomUdpWire.ReplyBodySize, channel, timestampNs);
        destination[o] = (byte)Role;
        destination[o + 1] = (byte)Status;
        destination[o + 2] = Slot;
        BinaryPrimitives.WriteUInt64BigEndian(destination[(o + 3)..], Session);
        return CustomUdpWire.ReplyPacketSize;
    }
}

/// <summary>FEEDBACK (subscriber → relay, keepalive): <c>u32 rate_bytes_per_s, u32 next_expected_sequence</c>.
/// The clients send as next expected the lowest subscriber sequence not yet received nor given up.</summary>
public readonly record struct Feedback(uint RateBytesPerSecond, uint NextExpectedSequence, ulong Session = 0)
{
    public static bool TryRead(ReadOnlySpan<byte> packet, out Feedback message) => TryRead(packet, out _, out message);

    public static bool TryRead(ReadOnlySpan<byte> packet, out PacketHeader header, out Feedback message)
    {
        message = default;
        if (!ControlMessage.TryBody(packet, ControlType.Feedback, out header, out var body) || body.Length != CustomUdpWire.FeedbackBodySize)
            return false;
        message = new Feedback(BinaryPrimitives.ReadUInt32BigEndian(body[9..]), BinaryPrimitives.ReadUInt32BigEndian(body[13..]),
            BinaryPrimitives.ReadUInt64BigEndian(body[1..]));
        return true;
    }

    public int Write(Span<byte> destination, ushort channel, ulong timestampNs)
    {
        var o = ControlMessage.Begin(destination, ControlType.Feedback, CustomUdpWire.FeedbackBodySize, channel, timestampNs);
        BinaryPrimitives.WriteUInt64BigEndian(destination[o..], Session);
        BinaryPrimitives.WriteUInt32BigEndian(destination[(o + 8)..], RateBytesPerSecond);
        BinaryPrimitives.WriteUInt32BigEndian(destination[(o + 12)..], NextExpectedSequence);
        return CustomUdpWire.FeedbackPacketSize;
    }
}

/// <summary>UNSUBSCRIBE (subscriber → relay): <c>u64 session</c>.</summary>
public readonly record struct Unsubscribe(ulong Session = 0)
{
    public static bool TryRead(ReadOnlySpan<byte> packet, out Unsubscribe message) => TryRead(packet, out _, out message);

    public static bool TryRead(ReadOnlySpan<byte> packet, out PacketHeader header, out Unsubscribe message)
    {
        message = default;
        if (!ControlMessage.TryBody(packet, ControlType.Unsubscribe, out header, out var body) || body.Length != CustomUdpWire.UnsubscribeBodySize)
            return false;
        message = new Unsubscribe(BinaryPrimitives.ReadUInt64BigEndian(body[1..]));
        return true;
    }

    public int Write(Span<byte> destination, ushort channel, ulong timestampNs)
    {
        var o = ControlMessage.Begin(destination, ControlType.Unsubscribe, CustomUdpWire.UnsubscribeBodySize, channel, timestampNs);
        BinaryPrimitives.WriteUInt64BigEndian(destination[o..], Session);
        return CustomUdpWire.UnsubscribePacketSize;
    }
}
