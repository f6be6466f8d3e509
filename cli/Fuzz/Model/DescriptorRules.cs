using System.Reflection;
using FastRelay.Descriptors;

namespace FastRelay.Cli.Fuzz.Model;

/// <summary>One integer (or forced-width QUIC varint) field of a protocol header, read and written as the descriptor's
/// attributes say: offset, width, byte order, encoding.</summary>
public sealed record HeaderField(int Offset, int Width, ByteOrder Order, bool Varint = false)
{
    public int End => Offset + Width;

    /// <summary>Bits of the value a varint of this width carries (its first two bits are the length prefix).</summary>
    public ulong ValueMask => Varint ? (Width >= 8 ? 0x3FFF_FFFF_FFFF_FFFFUL : (1UL << (8 * Width - 2)) - 1)
        : Width >= 8 ? ulong.MaxValue : (1UL << (8 * Width)) - 1;

    public ulong Read(ReadOnlySpan<byte> header)
    {
        ulong value = 0;
        for (var i = 0; i < Width; i++)
        {
            var b = (ulong)header[Offset + i];
            value = Order == ByteOrder.BigEndian ? value << 8 | b : value | b << (8 * i);
        }
        return Varint ? value & ValueMask : value;
    }

    public void Write(Span<byte> header, ulong value)
    {
        value &= ValueMask;
        if (Varint)
            value |= (ulong)Prefix << (8 * Width - 2);
        for (var i = 0; i < Width; i++)
        {
            var shift = 8 * (Order == ByteOrder.BigEndian ? Width - 1 - i : i);
            header[Offset + i] = (byte)(value >> shift);
        }
    }

    /// <summary>RFC 9000 §16: 0b00 one byte, 0b01 two, 0b10 four, 0b11 eight.</summary>
    private int Prefix => Width switch { 1 => 0, 2 => 1, 4 => 2, _ => 3 };
}

/// <summary>A <c>[Match]</c>: (field &amp; mask) == value, for every packet of the protocol or for fast-path ones only.</summary>
public sealed record MatchRule(HeaderField Field, ulong Value, ulong Mask, MatchScope Scope)
{
    public bool Holds(ReadOnlySpan<byte> header) => (Field.Read(header) & Mask) == Value;
}

/// <summary>A field that names the channel through the lookup map (<c>ChannelKey = true</c>): bytes as on the wire for a
/// connection id, the decoded integer otherwise.</summary>
public sealed record ChannelKeyField(string Name, HeaderField? Integer, (int Offset, int Length)? Bytes);

/// <summary>
/// The reference model's reading of a descriptor: taken from the descriptor type's own attributes, written here without
/// the generator's model or emitters, so that the generator and this model can disagree (and the fuzzer then tells).
/// The rules (header length, urgency, channel key width...) are those docs/generated-header.md states. Nor does it reuse
/// the runtime's reading for the userspace copy loop (runtime/Relay/DescriptorFields.cs): that is code under judgement
/// too, and it covers less (no varints, stream offsets, priorities or lookup keys).
/// </summary>
public sealed class DescriptorRules
{
    public required string Name { get; init; }
    public required Type Descriptor { get; init; }
    public required int UdpPort { get; init; }
    public required int MaxSubscribers { get; init; }
    public required int MaxChannels { get; init; }
    public required bool PriorityDrop { get; init; }
    public required int KernelCachePackets { get; init; }
    public IReadOnlyList<MatchRule> Matches { get; init; } = [];
    public HeaderField? Channel { get; init; }
    public HeaderField? PacketNumber { get; init; }
    public bool TranslatePacketNumbers { get; init; }
    public HeaderField? StreamId { get; init; }
    public bool TranslateStreams { get; init; }
    public HeaderField? StreamOffset { get; init; }
    public (int Offset, byte Mask)? Fin { get; init; }
    public (int Offset, int Length)? ConnectionId { get; init; }
    public (int Offset, int FirstBit, int Bits, UrgencyOrder Order)? Priority { get; init; }
    public IReadOnlyList<ChannelKeyField> ChannelKeys { get; init; } = [];
    public int? PayloadField { get; init; }

    /// <summary>The end of the furthest field or the payload start: a datagram needs this many payload bytes to be copied.</summary>
    public int HeaderLength => new[]
    {
        PayloadField ?? 0,
        Matches.Select(m => m.Field.End).DefaultIfEmpty(0).Max(),
        Channel?.End ?? 0, PacketNumber?.End ?? 0, StreamId?.End ?? 0, StreamOffset?.End ?? 0,
        Fin is { } f ? f.Offset + 1 : 0,
        ConnectionId is { } c ? c.Offset + c.Length : 0,
        Priority is { } p ? p.Offset + 1 : 0,
    }.Max();

    /// <summary>What egress must read to number a packet of the relay's own stack: connection-scope matches and the packet number.</summary>
    public int ConnectionHeaderLength => Math.Max(
        Matches.Where(m => m.Scope == MatchScope.Connection).Select(m => m.Field.End).DefaultIfEmpty(0).Max(),
        PacketNumber?.End ?? 0);

    public int PayloadOffset => PayloadField ?? HeaderLength;
    public bool LooksUpChannel => ChannelKeys.Count > 0;
    public bool UrgencyFromStream => PriorityDrop && Priority is null;
    public bool KernelCache => KernelCachePackets > 0 && PacketNumber is not null;

    /// <summary>2^bits with a priority field, 256 when the stream mapping gives the urgency, else 1.</summary>
    public int PriorityLevels => Priority is { } p ? 1 << p.Bits : UrgencyFromStream ? 256 : 1;

    /// <summary>Bytes of the channel id in the kernel's key: the channel field's width, 4 without one.</summary>
    public int ChannelIdWidth => Channel?.Width ?? 4;

    public ulong StreamOffsetMax => StreamOffset?.ValueMask ?? 0;

    public bool MatchesConnection(ReadOnlySpan<byte> header)
    {
        foreach (var m in Matches)
            if (m.Scope == MatchScope.Connection && !m.Holds(header))
                return false;
        return true;
    }

    public bool MatchesFastPath(ReadOnlySpan<byte> header)
    {
        foreach (var m in Matches)
            if (!m.Holds(header))
                return false;
        return true;
    }

    /// <summary>0 = most urgent.</summary>
    public uint Urgency(ReadOnlySpan<byte> header)
    {
        if (Priority is not { } p)
            return 0;
        var raw = (uint)(header[p.Offset] >> p.FirstBit) & ((1u << p.Bits) - 1);
        return p.Order == UrgencyOrder.LowerIsMoreUrgent ? raw : (uint)(PriorityLevels - 1) - raw;
    }

    public bool ReadFin(ReadOnlySpan<byte> header) => Fin is { } f && (header[f.Offset] & f.Mask) != 0;

    public static DescriptorRules Of(Type descriptor)
    {
        var protocol = descriptor.GetCustomAttribute<FastRelayProtocolAttribute>()
            ?? throw new ArgumentException($"{descriptor.FullName} is not marked [FastRelayProtocol]");
        var matches = new List<MatchRule>();
        var keys = new List<ChannelKeyField>();
        HeaderField? channel = null, pn = null, sid = null, offset = null;
        bool translatePn = false, translateSid = false;
        (int, byte)? fin = null;
        (int, int)? cid = null;
        (int, int, int, UrgencyOrder)? priority = null;
        int? payload = null;
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance;
        // Declaration order: the lookup key's members follow the header order of the ChannelKey fields.
        var members = descriptor.GetProperties(all).Cast<MemberInfo>().Concat(descriptor.GetFields(all))
            .Where(m => m.GetCustomAttributes<FieldAttribute>().Any())
            .OrderBy(m => m.GetCustomAttributes<FieldAttribute>().Min(a => a.Offset));
        foreach (var member in members)
        {
            foreach (var attribute in member.GetCustomAttributes<FieldAttribute>())
            {
                switch (attribute)
                {
                    case MatchAttribute m:
                        matches.Add(new MatchRule(Integer(m, member), m.Value, m.Mask, m.Scope));
                        break;
                    case ChannelAttribute c:
                        channel = Integer(c, member);
                        break;
                    case PacketNumberAttribute p:
                        pn = Integer(p, member);
                        translatePn = p.Translate;
                        break;
                    case StreamIdAttribute s:
                        sid = Integer(s, member, s.Encoding == StreamIdEncoding.QuicVarint);
                        translateSid = s.Translate;
                        if (s.ChannelKey)
                            keys.Add(new ChannelKeyField(member.Name, sid, null));
                        break;
                    case StreamOffsetAttribute o:
                        offset = Integer(o, member, o.Encoding == StreamIdEncoding.QuicVarint);
                        break;
                    case FinFlagAttribute f:
                        fin = (f.Offset, f.Mask);
                        break;
                    case ConnectionIdAttribute id:
                        cid = (id.Offset, id.Length);
                        if (id.ChannelKey)
                            keys.Add(new ChannelKeyField(member.Name, null, (id.Offset, id.Length)));
                        break;
                    case PriorityAttribute p:
                        priority = (p.Offset, p.FirstBit, p.Bits, p.Order);
                        break;
                    case PayloadAttribute p:
                        payload = p.Offset;
                        break;
                }
            }
        }
        return new DescriptorRules
        {
            Name = protocol.Name, Descriptor = descriptor, UdpPort = protocol.UdpPort, MaxSubscribers = protocol.MaxSubscribers,
            MaxChannels = protocol.MaxChannels, PriorityDrop = protocol.PriorityDrop, KernelCachePackets = protocol.KernelCachePackets,
            Matches = matches, Channel = channel, PacketNumber = pn, TranslatePacketNumbers = translatePn, StreamId = sid,
            TranslateStreams = translateSid, StreamOffset = offset, Fin = fin, ConnectionId = cid, Priority = priority,
            ChannelKeys = keys.OrderBy(k => k.Integer?.Offset ?? k.Bytes!.Value.Offset).ToList(), PayloadField = payload,
        };
    }

    /// <summary>Width 0: the width of the member's type.</summary>
    private static HeaderField Integer(FieldAttribute attribute, MemberInfo member, bool varint = false)
    {
        var type = member is PropertyInfo p ? p.PropertyType : ((FieldInfo)member).FieldType;
        var width = attribute.Width != 0 ? attribute.Width : Type.GetTypeCode(type) switch
        {
            TypeCode.Byte or TypeCode.SByte => 1,
            TypeCode.UInt16 or TypeCode.Int16 => 2,
            TypeCode.UInt32 or TypeCode.Int32 => 4,
            TypeCode.UInt64 or TypeCode.Int64 => 8,
            _ => throw new NotSupportedException($"{member.DeclaringType?.Name}.{member.Name}: no integer width"),
        };
        return new HeaderField(attribute.Offset, width, attribute.ByteOrder, varint);
    }
}
