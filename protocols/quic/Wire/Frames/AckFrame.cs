namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>An inclusive range of acknowledged packet numbers.</summary>
public readonly record struct AckRange(ulong Smallest, ulong Largest)
{
    public ulong Count => Largest - Smallest + 1;
}

/// <summary>ECN counts of an ACK frame of type 0x03 (RFC 9000 §19.3.2).</summary>
public readonly record struct EcnCounts(ulong Ect0, ulong Ect1, ulong EcnCe);

/// <summary>
/// ACK (RFC 9000 §19.3), 0x02 or 0x03 with ECN counts. The additional ranges stay encoded (<see cref="EncodedRanges"/>,
/// a slice of the payload) and are decoded lazily by <see cref="GetRanges"/>, so reading an ACK never allocates however
/// many ranges it has. TryRead validates every range: one reaching below packet number 0, or a range count larger than
/// the rest of the packet could carry, is a FRAME_ENCODING_ERROR. <see cref="AckDelay"/> is the raw field, to be
/// scaled by 2^ack_delay_exponent microseconds.
/// </summary>
public readonly record struct AckFrame(ulong LargestAcknowledged, ulong AckDelay, ulong FirstAckRange, ulong AdditionalRangeCount,
    ReadOnlyMemory<byte> EncodedRanges, EcnCounts? Ecn = null) : IQuicFrame<AckFrame>
{
    public ulong Type => Ecn is null ? FrameType.Ack : FrameType.AckEcn;

    public int EncodedLength => 1 + FrameErrors.VarintLength(LargestAcknowledged) + FrameErrors.VarintLength(AckDelay)
        + FrameErrors.VarintLength(AdditionalRangeCount) + FrameErrors.VarintLength(FirstAckRange) + EncodedRanges.Length
        + (Ecn is { } e ? FrameErrors.VarintLength(e.Ect0) + FrameErrors.VarintLength(e.Ect1) + FrameErrors.VarintLength(e.EcnCe) : 0);

    public ulong SmallestOfFirstRange => LargestAcknowledged - FirstAckRange;

    /// <summary>The acknowledged ranges, largest first.</summary>
    public AckRangeEnumerator GetRanges() => new(this);

    public static bool TryRead(ref QuicReader reader, ulong frameType, out AckFrame frame, out QuicError error)
    {
        if (!reader.TryReadVarint(out ulong largest) || !reader.TryReadVarint(out ulong delay) ||
            !reader.TryReadVarint(out ulong count) || !reader.TryReadVarint(out ulong first))
            return FrameErrors.Truncated(frameType, out frame, out error);
        if (first > largest)
            return FrameErrors.Fail(QuicError.FrameEncoding(frameType, "first ACK range below packet number 0"), out frame, out error);
        // Each additional range takes at least two bytes: reject impossible counts before looping.
        if (count > (ulong)reader.Remaining / 2)
            return FrameErrors.Fail(QuicError.FrameEncoding(frameType, "more ACK ranges than the packet could carry"), out frame, out error);

        int rangesStart = reader.Position;
        var rangesMemory = reader.RemainingMemory;
        ulong smallest = largest - first;
        for (ulong i = 0; i < count; i++)
        {
            if (!reader.TryReadVarint(out ulong gap) || !reader.TryReadVarint(out ulong length))
                return FrameErrors.Truncated(frameType, out frame, out error);
            // largest_i = smallest_{i-1} - gap - 2, smallest_i = largest_i - length; both must stay >= 0.
            if (gap + 2 > smallest || length > smallest - gap - 2)
                return FrameErrors.Fail(QuicError.FrameEncoding(frameType, "ACK range below packet number 0"), out frame, out error);
            smallest = smallest - gap - 2 - length;
        }
        var encodedRanges = rangesMemory[..(reader.Position - rangesStart)];

        EcnCounts? ecn = null;
        if (frameType == FrameType.AckEcn)
        {
            if (!reader.TryReadVarint(out ulong ect0) || !reader.TryReadVarint(out ulong ect1) || !reader.TryReadVarint(out ulong ce))
                return FrameErrors.Truncated(frameType, out frame, out error);
            ecn = new EcnCounts(ect0, ect1, ce);
        }
        return FrameErrors.Ok(new AckFrame(largest, delay, first, count, encodedRanges, ecn), out frame, out error);
    }

    public int Write(Span<byte> destination)
    {
        var w = new QuicWriter(destination);
        w.WriteVarint(Type);
        w.WriteVarint(LargestAcknowledged);
        w.WriteVarint(AckDelay);
        w.WriteVarint(AdditionalRangeCount);
        w.WriteVarint(FirstAckRange);
        w.WriteBytes(EncodedRanges.Span);
        if (Ecn is { } e)
        {
            w.WriteVarint(e.Ect0);
            w.WriteVarint(e.Ect1);
            w.WriteVarint(e.EcnCe);
        }
        return w.Position;
    }

    /// <summary>
    /// Builds an ACK frame from ranges sorted largest first, non-overlapping and non-adjacent. Allocates the encoded
    /// ranges; senders on the hot path use <see cref="Write(Span{byte}, ReadOnlySpan{AckRange}, ulong, EcnCounts?)"/>.
    /// </summary>
    public static AckFrame Create(ReadOnlySpan<AckRange> rangesDescending, ulong ackDelay, EcnCounts? ecn = null)
    {
        Validate(rangesDescending);
        int length = 0;
        for (int i = 1; i < rangesDescending.Length; i++)
        {
            length += FrameErrors.VarintLength(rangesDescending[i - 1].Smallest - rangesDescending[i].Largest - 2);
            length += FrameErrors.VarintLength(rangesDescending[i].Largest - rangesDescending[i].Smallest);
        }
        var encoded = new byte[length];
        var w = new QuicWriter(encoded);
        WriteAdditionalRanges(ref w, rangesDescending);
        var first = rangesDescending[0];
        return new AckFrame(first.Largest, ackDelay, first.Largest - first.Smallest, (ulong)(rangesDescending.Length - 1), encoded, ecn);
    }

    /// <summary>Writes an ACK frame straight from ranges (largest first) without allocating; returns its length.</summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<AckRange> rangesDescending, ulong ackDelay, EcnCounts? ecn = null)
    {
        Validate(rangesDescending);
        var first = rangesDescending[0];
        var w = new QuicWriter(destination);
        w.WriteVarint(ecn is null ? FrameType.Ack : FrameType.AckEcn);
        w.WriteVarint(first.Largest);
        w.WriteVarint(ackDelay);
        w.WriteVarint((ulong)(rangesDescending.Length - 1));
        w.WriteVarint(first.Largest - first.Smallest);
        WriteAdditionalRanges(ref w, rangesDescending);
        if (ecn is { } e)
        {
            w.WriteVarint(e.Ect0);
            w.WriteVarint(e.Ect1);
            w.WriteVarint(e.EcnCe);
        }
        return w.Position;
    }

    private static void WriteAdditionalRanges(ref QuicWriter w, ReadOnlySpan<AckRange> ranges)
    {
        for (int i = 1; i < ranges.Length; i++)
        {
            w.WriteVarint(ranges[i - 1].Smallest - ranges[i].Largest - 2);
            w.WriteVarint(ranges[i].Largest - ranges[i].Smallest);
        }
    }

    private static void Validate(ReadOnlySpan<AckRange> ranges)
    {
        if (ranges.IsEmpty) throw new ArgumentException("an ACK frame needs at least one range");
        for (int i = 0; i < ranges.Length; i++)
        {
            if (ranges[i].Smallest > ranges[i].Largest || ranges[i].Largest > PacketNumber.MaxValue) throw new ArgumentException($"invalid range {ranges[i]}");
            if (i > 0 && ranges[i].Largest + 2 > ranges[i - 1].Smallest)
                throw new ArgumentException("ranges must be sorted largest first and separated by at least one missing packet");
        }
    }
}

/// <summary>Decodes an ACK frame's ranges, largest first (the frame was validated when read).</summary>
public struct AckRangeEnumerator
{
    private readonly AckFrame _frame;
    private int _offset;
    private ulong _index;
    private AckRange _current;

    internal AckRangeEnumerator(AckFrame frame)
    {
        _frame = frame;
        _offset = 0;
        _index = 0;
        _current = default;
    }

    public readonly AckRange Current => _current;

    public readonly AckRangeEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_index == 0)
        {
            _current = new AckRange(_frame.LargestAcknowledged - _frame.FirstAckRange, _frame.LargestAcknowledged);
            _index = 1;
            return true;
        }
        if (_index > _frame.AdditionalRangeCount) return false;
        var span = _frame.EncodedRanges.Span[_offset..];
        if (!QuicVarint.TryRead(span, out ulong gap, out int n1) || !QuicVarint.TryRead(span[n1..], out ulong length, out int n2))
            return false;
        _offset += n1 + n2;
        ulong largest = _current.Smallest - gap - 2;
        _current = new AckRange(largest - length, largest);
        _index++;
        return true;
    }
}
