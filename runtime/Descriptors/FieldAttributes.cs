namespace FastRelay.Descriptors;

/// <summary>Byte order of a multi-byte field on the wire.</summary>
public enum ByteOrder
{
    /// <summary>Network byte order (most significant byte first).</summary>
    BigEndian = 0,
    LittleEndian = 1,
}

/// <summary>Which packets a match constraint selects.</summary>
public enum MatchScope
{
    /// <summary>Only packets the kernel copies to subscribers must satisfy it (e.g. "one STREAM frame").</summary>
    FastPath = 0,

    /// <summary>Every packet of the protocol satisfies it (e.g. "QUIC short header"). Packets the userspace stack
    /// sends to a subscriber are numbered by the kernel when they satisfy all connection-scope constraints.</summary>
    Connection = 1,
}

/// <summary>How a stream id is encoded.</summary>
public enum StreamIdEncoding
{
    /// <summary>A plain unsigned integer of the field's width.</summary>
    Integer = 0,

    /// <summary>A QUIC variable-length integer (RFC 9000 §16) always written with the field's width (1, 2, 4 or 8 bytes).</summary>
    QuicVarint = 1,
}

/// <summary>Which end of the priority value is more urgent.</summary>
public enum UrgencyOrder
{
    /// <summary>0 is the most urgent (HTTP/3 and MoQ style).</summary>
    LowerIsMoreUrgent = 0,
    HigherIsMoreUrgent = 1,
}

/// <summary>Common shape of a field role: where it starts in the UDP payload and how wide it is.</summary>
public abstract class FieldAttribute(int offset) : Attribute
{
    /// <summary>Byte offset from the start of the UDP payload.</summary>
    public int Offset { get; } = offset;

    /// <summary>Width in bytes (1, 2, 4 or 8). 0 takes the width of the property's type.</summary>
    public int Width { get; set; }

    public ByteOrder ByteOrder { get; set; } = ByteOrder.BigEndian;

    /// <summary>The field is part of the key of the channel lookup map (<c>fr_channel_lookup</c>): for protocols that do
    /// not carry their channel in a fixed place, userspace learns it (e.g. from a stream's first bytes) and tells the
    /// kernel "these header values belong to that channel". Allowed on <see cref="ConnectionIdAttribute"/> and
    /// <see cref="StreamIdAttribute"/> fields, and not together with a <see cref="ChannelAttribute"/> field. The values
    /// are read as the packet arrived, before any rewrite.</summary>
    public bool ChannelKey { get; set; }
}

/// <summary>A fixed value under a mask that marks fast-path eligible packets: <c>(field &amp; Mask) == Value</c>.
/// A property may carry several.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field, AllowMultiple = true)]
public sealed class MatchAttribute(int offset) : FieldAttribute(offset)
{
    public ulong Value { get; set; }

    /// <summary>Bits compared; all bits of the field by default.</summary>
    public ulong Mask { get; set; } = ulong.MaxValue;

    public MatchScope Scope { get; set; } = MatchScope.FastPath;
}

/// <summary>The packet number (sequence number). With <see cref="Translate"/> the kernel renumbers every packet to a
/// subscriber from an atomic per-subscriber counter, so each subscriber sees a gapless sequence.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class PacketNumberAttribute(int offset) : FieldAttribute(offset)
{
    public bool Translate { get; set; } = true;
}

/// <summary>The stream id. With <see cref="Translate"/> the kernel maps (subscriber, upstream stream) to the stream id the
/// userspace stack opened on the subscriber's connection; copies without a mapping are not forwarded.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class StreamIdAttribute(int offset) : FieldAttribute(offset)
{
    public StreamIdEncoding Encoding { get; set; } = StreamIdEncoding.Integer;

    public bool Translate { get; set; } = true;
}

/// <summary>A fixed-length connection id, replaced per subscriber with the subscriber's own.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ConnectionIdAttribute(int offset, int length) : FieldAttribute(offset)
{
    /// <summary>Length in bytes, 1..20 (RFC 9000 limit).</summary>
    public int Length { get; } = length;
}

/// <summary>Priority bits inside one byte: <c>(byte &gt;&gt; FirstBit) &amp; ((1 &lt;&lt; Bits) - 1)</c>.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class PriorityAttribute(int offset) : FieldAttribute(offset)
{
    /// <summary>Index of the lowest priority bit, 0 = least significant.</summary>
    public int FirstBit { get; set; }

    /// <summary>Number of priority bits, 1..8; they must stay inside the byte.</summary>
    public int Bits { get; set; } = 8;

    public UrgencyOrder Order { get; set; } = UrgencyOrder.LowerIsMoreUrgent;
}

/// <summary>The channel (track) key: the kernel fans a packet out to the subscribers of its channel only.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ChannelAttribute(int offset) : FieldAttribute(offset);

/// <summary>The byte offset of the packet's data within its stream (QUIC STREAM frame offset). Translated per (subscriber,
/// upstream stream) mapping by a signed delta; the mapping also says from which upstream offset the kernel forwards
/// (bytes before it userspace sends itself) and up to which downstream offset the subscriber's flow control lets it send.
/// The data length is what follows the <see cref="PayloadAttribute"/> start up to the end of the datagram, and every
/// forwarded copy also takes it from the subscriber's connection credit. Needs a translated <see cref="StreamIdAttribute"/>
/// and a <see cref="PayloadAttribute"/>.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class StreamOffsetAttribute(int offset) : FieldAttribute(offset)
{
    public StreamIdEncoding Encoding { get; set; } = StreamIdEncoding.Integer;
}

/// <summary>One bit (or bits) of a byte that mark the stream's last data (QUIC STREAM frame FIN): <c>(byte &amp; Mask) != 0</c>.
/// The kernel does not act on it, it carries it into the registration events. Needs a <see cref="StreamOffsetAttribute"/>.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class FinFlagAttribute(int offset) : FieldAttribute(offset)
{
    /// <summary>The bits that say "final"; non-zero, inside one byte.</summary>
    public byte Mask { get; set; } = 0x01;
}

/// <summary>The number of messages the datagram carries, when the <see cref="PacketNumberAttribute"/> field numbers the
/// first of them and so advances by this count from one datagram to the next (MoldUDP64 and many market-data feeds;
/// a count of 0 is a heartbeat). The kernel does not rewrite it. It tells the generator that the packet number is not a
/// datagram counter, so it refuses what would break such a sequence: renumbering by one per datagram
/// (<c>Translate = true</c>, FR0021) and a kernel cache, whose slots (number mod <c>KernelCachePackets</c>) would collide
/// and leave holes (FR0022). Needs a <see cref="PacketNumberAttribute"/> field.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class MessageCountAttribute(int offset) : FieldAttribute(offset);

/// <summary>Where the application payload starts; every other field must end at or before it.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class PayloadAttribute(int offset) : FieldAttribute(offset);
