namespace FastRelay.Protocols.Moq.Wire;

/// <summary>
/// One Key-Value-Pair (draft-19 §"Key-Value-Pair Structure"): an even type carries a varint, an odd type a byte string
/// of at most 65535 bytes. Used for Setup Options and for Track/Object Properties.
/// </summary>
public readonly record struct MoqKeyValuePair
{
    public const int MaxValueLength = ushort.MaxValue;

    public ulong Type { get; }
    /// <summary>The value of an even type (0 for odd types).</summary>
    public ulong IntValue { get; }
    /// <summary>The value of an odd type (empty for even types).</summary>
    public ReadOnlyMemory<byte> BytesValue { get; }

    public bool IsBytes => (Type & 1) == 1;

    private MoqKeyValuePair(ulong type, ulong intValue, ReadOnlyMemory<byte> bytes)
    {
        Type = type;
        IntValue = intValue;
        BytesValue = bytes;
    }

    public static MoqKeyValuePair FromInt(ulong type, ulong value)
    {
        if ((type & 1) != 0) throw new ArgumentException("an integer value needs an even type", nameof(type));
        return new MoqKeyValuePair(type, value, default);
    }

    public static MoqKeyValuePair FromBytes(ulong type, ReadOnlyMemory<byte> value)
    {
        if ((type & 1) != 1) throw new ArgumentException("a byte value needs an odd type", nameof(type));
        if (value.Length > MaxValueLength) throw new ArgumentException("value longer than 65535 bytes", nameof(value));
        return new MoqKeyValuePair(type, 0, value);
    }

    public bool Equals(MoqKeyValuePair other) =>
        Type == other.Type && IntValue == other.IntValue && BytesValue.Span.SequenceEqual(other.BytesValue.Span);

    public override int GetHashCode() => HashCode.Combine(Type, IntValue, BytesValue.Length);

    public override string ToString() => IsBytes ? $"0x{Type:x}=[{BytesValue.Length} bytes]" : $"0x{Type:x}={IntValue}";
}

/// <summary>
/// A list of Key-Value-Pairs with delta-encoded types, always parsed with a known byte length (the rest of a message,
/// or an explicit Properties Length). Pairs are written in ascending type order, as delta encoding requires.
/// </summary>
public static class MoqKeyValueList
{
    /// <summary>
    /// Parses pairs until <paramref name="reader"/> ends. A delta that overflows 2^64-1 or a byte value longer than
    /// 65535 is PROTOCOL_VIOLATION; a truncated pair is KEY_VALUE_FORMATTING_ERROR. Values are slices of the source.
    /// </summary>
    public static bool TryParse(ref MoqReader reader, List<MoqKeyValuePair> into, out MoqError error)
    {
        ulong previous = 0;
        while (!reader.IsEnd)
        {
            if (!reader.TryReadVarint(out ulong delta)) { error = MoqError.KeyValueFormat("truncated key-value type"); return false; }
            if (delta > ulong.MaxValue - previous) { error = MoqError.Protocol("key-value type delta overflows"); return false; }
            ulong type = previous + delta;
            previous = type;
            if ((type & 1) == 0)
            {
                if (!reader.TryReadVarint(out ulong value)) { error = MoqError.KeyValueFormat("truncated key-value varint"); return false; }
                into.Add(MoqKeyValuePair.FromInt(type, value));
            }
            else
            {
                if (!reader.TryReadVarint(out ulong length)) { error = MoqError.KeyValueFormat("truncated key-value length"); return false; }
                if (length > MoqKeyValuePair.MaxValueLength) { error = MoqError.Protocol("key-value length over 65535"); return false; }
                if (!reader.TryReadBytes(length, out var bytes)) { error = MoqError.KeyValueFormat("truncated key-value bytes"); return false; }
                into.Add(MoqKeyValuePair.FromBytes(type, bytes));
            }
        }
        error = MoqError.None;
        return true;
    }

    /// <summary>Parses an exact byte range (e.g. Object Properties after their length).</summary>
    public static bool TryParse(ReadOnlyMemory<byte> bytes, List<MoqKeyValuePair> into, out MoqError error)
    {
        var reader = new MoqReader(bytes);
        return TryParse(ref reader, into, out error);
    }

    /// <summary>Writes pairs sorted by type (stable for equal types, which some types allow).</summary>
    public static void Write(MoqWriter writer, IReadOnlyList<MoqKeyValuePair> pairs)
    {
        IEnumerable<MoqKeyValuePair> ordered = IsSorted(pairs) ? pairs : pairs.OrderBy(p => p.Type);
        ulong previous = 0;
        foreach (var pair in ordered)
        {
            writer.WriteVarint(pair.Type - previous);
            previous = pair.Type;
            if (pair.IsBytes) writer.WriteLengthPrefixed(pair.BytesValue.Span);
            else writer.WriteVarint(pair.IntValue);
        }
    }

    /// <summary>Encoded size in bytes of <paramref name="pairs"/>.</summary>
    public static int GetLength(IReadOnlyList<MoqKeyValuePair> pairs)
    {
        var w = new MoqWriter(64);
        Write(w, pairs);
        return w.Length;
    }

    private static bool IsSorted(IReadOnlyList<MoqKeyValuePair> pairs)
    {
        for (int i = 1; i < pairs.Count; i++) if (pairs[i].Type < pairs[i - 1].Type) return false;
        return true;
    }
}
