using System.Buffers.Binary;

namespace FastRelay.Protocols.CustomUdp.Wire;

/// <summary>A run of missing subscriber sequences: <c>First</c>, <c>First + 1</c>, …, <c>First + Length - 1</c> (mod 2^32).</summary>
public readonly record struct NackRange(uint First, ushort Length)
{
    /// <summary>True if <paramref name="sequence"/> lies in the range (wrap-around aware).</summary>
    public bool Contains(uint sequence) => unchecked(sequence - First) < Length;
}

/// <summary>
/// NACK (subscriber → relay): <c>u64 session, u16 count, count × (u32 first, u16 length)</c>, sequences in the subscriber's own
/// numbering. A view over the received bytes (no copy): index it or <c>foreach</c> it. Rejected when the count is 0 or
/// above <see cref="CustomUdpWire.MaxNackRanges"/>, a length is 0, or the body size does not match the count exactly.
/// </summary>
public readonly ref struct Nack
{
    private readonly ReadOnlySpan<byte> _ranges;

    private Nack(ulong session, ReadOnlySpan<byte> ranges)
    {
        Session = session;
        _ranges = ranges;
    }

    /// <summary>The session secret from the subscriber's REPLY.</summary>
    public ulong Session { get; }

    public int Count => _ranges.Length / CustomUdpWire.NackRangeSize;

    public NackRange this[int index]
    {
        get
        {
            var r = _ranges.Slice(index * CustomUdpWire.NackRangeSize, CustomUdpWire.NackRangeSize);
            return new NackRange(BinaryPrimitives.ReadUInt32BigEndian(r), BinaryPrimitives.ReadUInt16BigEndian(r[4..]));
        }
    }

    /// <summary>Total sequences asked for.</summary>
    public int TotalSequences
    {
        get
        {
            var total = 0;
            for (var i = 0; i < Count; i++) total += this[i].Length;
            return total;
        }
    }

    public Enumerator GetEnumerator() => new(this);

    public static bool TryRead(ReadOnlySpan<byte> packet, out Nack message) => TryRead(packet, out _, out message);

    public static bool TryRead(ReadOnlySpan<byte> packet, out PacketHeader header, out Nack message)
    {
        message = default;
        if (!ControlMessage.TryBody(packet, ControlType.Nack, out header, out var body) || body.Length < CustomUdpWire.NackFixedBodySize)
            return false;
        int count = BinaryPrimitives.ReadUInt16BigEndian(body[(1 + CustomUdpWire.SessionSize)..]);
        if (count == 0 || count > CustomUdpWire.MaxNackRanges || body.Length != BodySize(count))
            return false;
        var ranges = body[CustomUdpWire.NackFixedBodySize..];
        for (var i = 0; i < count; i++)
            if (BinaryPrimitives.ReadUInt16BigEndian(ranges[(i * CustomUdpWire.NackRangeSize + 4)..]) == 0)
                return false;
        message = new Nack(BinaryPrimitives.ReadUInt64BigEndian(body[1..]), ranges);
        return true;
    }

    /// <summary>Body size (type byte included) of a NACK with <paramref name="count"/> ranges.</summary>
    public static int BodySize(int count) => CustomUdpWire.NackFixedBodySize + count * CustomUdpWire.NackRangeSize;

    /// <summary>Packet size of a NACK with <paramref name="count"/> ranges.</summary>
    public static int PacketSize(int count) => CustomUdpWire.HeaderSize + BodySize(count);

    /// <summary>Writes a NACK of 1..<see cref="CustomUdpWire.MaxNackRanges"/> ranges (each of length ≥ 1).</summary>
    public static int Write(Span<byte> destination, ushort channel, ulong timestampNs, ulong session, ReadOnlySpan<NackRange> ranges)
    {
        if (ranges.Length is 0 or > CustomUdpWire.MaxNackRanges)
            throw new ArgumentException($"a NACK carries 1..{CustomUdpWire.MaxNackRanges} ranges", nameof(ranges));
        var o = ControlMessage.Begin(destination, ControlType.Nack, BodySize(ranges.Length), channel, timestampNs);
        BinaryPrimitives.WriteUInt64BigEndian(destination[o..], session);
        BinaryPrimitives.WriteUInt16BigEndian(destination[(o + CustomUdpWire.SessionSize)..], (ushort)ranges.Length);
        o += CustomUdpWire.SessionSize + 2;
        foreach (var range in ranges)
        {
            if (range.Length == 0) throw new ArgumentException("a NACK range has length ≥ 1", nameof(ranges));
            BinaryPrimitives.WriteUInt32BigEndian(destination[o..], range.First);
            BinaryPrimitives.WriteUInt16BigEndian(destination[(o + 4)..], range.Length);
            o += CustomUdpWire.NackRangeSize;
        }
        return o;
    }

    public ref struct Enumerator
    {
        private readonly Nack _nack;
        private int _index;

        internal Enumerator(Nack nack) { _nack = nack; _index = -1; }

        public bool MoveNext() => ++_index < _nack.Count;

        public readonly NackRange Current => _nack[_index];
    }
}

/// <summary>
/// REPAIR (relay → subscriber): <c>u32 sequence</c>, then a complete DATA packet (header and payload). The body's
/// sequence is the subscriber sequence being repaired; <see cref="Write"/> also puts it into the embedded DATA header
/// and into the CONTROL header's sequence field, so whichever a reader looks at agrees. Rejected unless the embedded
/// packet is a well-formed DATA packet.
/// </summary>
public readonly ref struct Repair
{
    /// <summary>The subscriber sequence this packet repairs.</summary>
    public uint Sequence { get; }

    /// <summary>The embedded DATA packet (a view into the received bytes).</summary>
    public ReadOnlySpan<byte> DataPacket { get; }

    /// <summary>The embedded DATA packet's header.</summary>
    public PacketHeader DataHeader { get; }

    private Repair(uint sequence, ReadOnlySpan<byte> packet, PacketHeader header)
    {
        Sequence = sequence;
        DataPacket = packet;
        DataHeader = header;
    }

    public static bool TryRead(ReadOnlySpan<byte> packet, out Repair message) => TryRead(packet, out _, out message);

    public static bool TryRead(ReadOnlySpan<byte> packet, out PacketHeader header, out Repair message)
    {
        message = default;
        if (!ControlMessage.TryBody(packet, ControlType.Repair, out header, out var body) || body.Length < CustomUdpWire.RepairFixedBodySize)
            return false;
        var inner = body[CustomUdpWire.RepairFixedBodySize..];
        if (!PacketHeader.TryRead(inner, out var innerHeader) || !innerHeader.IsData)
            return false;
        message = new Repair(BinaryPrimitives.ReadUInt32BigEndian(body[1..]), inner, innerHeader);
        return true;
    }

    public static int PacketSize(int dataPacketLength) => CustomUdpWire.HeaderSize + CustomUdpWire.RepairFixedBodySize + dataPacketLength;

    /// <summary>Wraps <paramref name="dataPacket"/> (copied; its sequence field set to <paramref name="sequence"/>).</summary>
    public static int Write(Span<byte> destination, ushort channel, ulong timestampNs, uint sequence, ReadOnlySpan<byte> dataPacket)
    {
        if (!PacketHeader.IsDataPacket(dataPacket))
            throw new ArgumentException("REPAIR carries a DATA packet", nameof(dataPacket));
        var o = ControlMessage.Begin(destination, ControlType.Repair, CustomUdpWire.RepairFixedBodySize + dataPacket.Length, channel, timestampNs, sequence);
        BinaryPrimitives.WriteUInt32BigEndian(destination[o..], sequence);
        o += 4;
        dataPacket.CopyTo(destination[o..]);
        PacketHeader.WriteSequence(destination[o..], sequence);
        return o + dataPacket.Length;
    }
}

/// <summary>HISTORY (relay → subscriber): a DATA packet exactly as the publisher sent it, replayed after acceptance
/// for the <c>history_ms</c> asked for. Not part of the subscriber's numbering.</summary>
public readonly ref struct History
{
    public ReadOnlySpan<byte> DataPacket { get; }

    public PacketHeader DataHeader { get; }

    private History(ReadOnlySpan<byte> packet, PacketHeader header)
    {
        DataPacket = packet;
        DataHeader = header;
    }

    public static bool TryRead(ReadOnlySpan<byte> packet, out History message) => TryRead(packet, out _, out message);

    public static bool TryRead(ReadOnlySpan<byte> packet, out PacketHeader header, out History message)
    {
        message = default;
        if (!ControlMessage.TryBody(packet, ControlType.History, out header, out var body))
            return false;
        var inner = body[CustomUdpWire.HistoryFixedBodySize..];
        if (!PacketHeader.TryRead(inner, out var innerHeader) || !innerHeader.IsData)
            return false;
        message = new History(inner, innerHeader);
        return true;
    }

    public static int PacketSize(int dataPacketLength) => CustomUdpWire.HeaderSize + CustomUdpWire.HistoryFixedBodySize + dataPacketLength;

    /// <summary>Wraps <paramref name="dataPacket"/> unchanged.</summary>
    public static int Write(Span<byte> destination, ushort channel, ulong timestampNs, ReadOnlySpan<byte> dataPacket)
    {
        if (!PacketHeader.IsDataPacket(dataPacket))
            throw new ArgumentException("HISTORY carries a DATA packet", nameof(dataPacket));
        var o = ControlMessage.Begin(destination, ControlType.History, CustomUdpWire.HistoryFixedBodySize + dataPacket.Length, channel, timestampNs);
        dataPacket.CopyTo(destination[o..]);
        return o + dataPacket.Length;
    }
}
