using System.Reflection;
using FastRelay.Descriptors;

namespace FastRelay.Relay;

/// <summary>One integer field of a header: where it is, how wide, which byte order.</summary>
public readonly record struct HeaderInteger(int Offset, int Width, ByteOrder Order)
{
    public int End => Offset + Width;

    public ulong Read(ReadOnlySpan<byte> header)
    {
        var bytes = header.Slice(Offset, Width);
        ulong value = 0;
        for (var i = 0; i < Width; i++)
            value = Order == ByteOrder.BigEndian ? value << 8 | bytes[i] : value | (ulong)bytes[i] << (8 * i);
        return value;
    }

    /// <summary>Writes the low <see cref="Width"/> bytes of <paramref name="value"/> (a 16-bit sequence wraps).</summary>
    public void Write(Span<byte> header, ulong value)
    {
        var bytes = header.Slice(Offset, Width);
        for (var i = 0; i < Width; i++)
        {
            var shift = 8 * (Order == ByteOrder.BigEndian ? Width - 1 - i : i);
            bytes[i] = (byte)(value >> shift);
        }
    }
}

/// <summary>A <c>[Priority]</c>: bits of one byte, read as the kernel's fr_read_urgency does (0 = most urgent).</summary>
public readonly record struct HeaderPriority(int Offset, int FirstBit, int Bits, bool HigherIsMoreUrgent)
{
    public uint Urgency(ReadOnlySpan<byte> header)
    {
        var mask = (1u << Bits) - 1;
        var value = (uint)(header[Offset] >> FirstBit) & mask;
        return HigherIsMoreUrgent ? mask - value : value;
    }
}

/// <summary>A <c>[Match]</c>: <c>(field &amp; Mask) == Value</c>.</summary>
public readonly record struct HeaderMatch(HeaderInteger Field, ulong Value, ulong Mask)
{
    public bool Holds(ReadOnlySpan<byte> header) => (Field.Read(header) & Mask) == Value;
}

/// <summary>
/// The fields of a descriptor that the userspace copy loop needs, read from the descriptor type's own attributes (the
/// same input the generator reads): the fast-path matches, the channel, the packet number, the stream id, the
/// connection id and the priority. Only what the generic host serves: integer stream ids, no ChannelKey lookup, no stream offsets.
/// </summary>
public sealed record DescriptorFields(
    IReadOnlyList<HeaderMatch> Matches,
    HeaderInteger? Channel,
    HeaderInteger? PacketNumber,
    bool RenumberPackets,
    HeaderInteger? StreamId,
    bool TranslateStreams,
    (int Offset, int Length)? ConnectionId,
    int PayloadOffset = 0,
    HeaderPriority? Priority = null)
{
    /// <summary>Bytes a datagram must have to be copied: the end of the furthest field or the payload start, whichever is
    /// later (the kernel's FR_HEADER_LEN).</summary>
    public int HeaderLength => new[]
    {
        PayloadOffset,
        Matches.Select(m => m.Field.End).DefaultIfEmpty(0).Max(),
        Channel?.End ?? 0, PacketNumber?.End ?? 0, StreamId?.End ?? 0,
        ConnectionId is { } c ? c.Offset + c.Length : 0,
        Priority is { } p ? p.Offset + 1 : 0,
    }.Max();

    /// <summary>The bytes a subscriber's copy can differ in (connection id, stream id, packet number): everything after
    /// them is shared by all copies of a datagram.</summary>
    public int RewrittenLength => new[]
    {
        ConnectionId is { } c ? c.Offset + c.Length : 0,
        TranslateStreams ? StreamId?.End ?? 0 : 0,
        RenumberPackets ? PacketNumber?.End ?? 0 : 0,
    }.Max();

    public bool IsEligible(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length < HeaderLength)
            return false;
        foreach (var match in Matches)
            if (!match.Holds(datagram))
                return false;
        return true;
    }

    public static DescriptorFields Of(Type descriptor)
    {
        var matches = new List<HeaderMatch>();
        HeaderInteger? channel = null, packetNumber = null, streamId = null;
        bool renumber = false, translateStreams = false;
        (int, int)? connectionId = null;
        HeaderPriority? priority = null;
        var payload = 0;
        const BindingFlags members = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance;
        foreach (var property in descriptor.GetProperties(members).Cast<MemberInfo>().Concat(descriptor.GetFields(members)))
        {
            foreach (var attribute in property.GetCustomAttributes<FieldAttribute>())
            {
                switch (attribute)
                {
                    case MatchAttribute m:
                        matches.Add(new HeaderMatch(Integer(m, property), m.Value, m.Mask));
                        break;
                    case ChannelAttribute c:
                        channel = Integer(c, property);
                        break;
                    case PacketNumberAttribute p:
                        packetNumber = Integer(p, property);
                        renumber = p.Translate;
                        break;
                    case StreamIdAttribute s when s.Encoding == StreamIdEncoding.Integer:
                        streamId = Integer(s, property);
                        translateStreams = s.Translate;
                        break;
                    case StreamIdAttribute:
                        throw new NotSupportedException($"{descriptor.Name}.{property.Name}: a QUIC-varint stream id is not served by the userspace copy loop");
                    case ConnectionIdAttribute id:
                        connectionId = (id.Offset, id.Length);
                        break;
                    case PayloadAttribute p:
                        payload = p.Offset;
                        break;
                    case PriorityAttribute p:
                        priority = new HeaderPriority(p.Offset, p.FirstBit, p.Bits, p.Order == UrgencyOrder.HigherIsMoreUrgent);
                        break;
                }
            }
        }
        return new DescriptorFields(matches, channel, packetNumber, renumber, streamId, translateStreams, connectionId, payload, priority);
    }

    /// <summary>Width 0 takes the property type's, as the generator does.</summary>
    private static HeaderInteger Integer(FieldAttribute attribute, MemberInfo property)
    {
        var type = property is PropertyInfo p ? p.PropertyType : ((FieldInfo)property).FieldType;
        var width = attribute.Width != 0 ? attribute.Width : Type.GetTypeCode(type) switch
        {
            TypeCode.Byte or TypeCode.SByte => 1,
            TypeCode.UInt16 or TypeCode.Int16 => 2,
            TypeCode.UInt32 or TypeCode.Int32 => 4,
            TypeCode.UInt64 or TypeCode.Int64 => 8,
            _ => throw new NotSupportedException($"{property.DeclaringType?.Name}.{property.Name}: no integer width"),
        };
        return new HeaderInteger(attribute.Offset, width, attribute.ByteOrder);
    }
}
