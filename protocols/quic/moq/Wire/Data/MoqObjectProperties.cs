namespace FastRelay.Protocols.Moq.Wire.Data;

/// <summary>Object Properties on the wire: Properties Length (varint) then Key-Value-Pairs (§"Object Properties").</summary>
public static class MoqObjectProperties
{
    /// <summary>Property types 0x4000..0x7FFF are Mandatory Track Properties; as an Object Property they make the track malformed.</summary>
    public static bool IsMandatoryTrackProperty(ulong type) => type is >= 0x4000 and <= 0x7FFF;

    public static void Write(MoqWriter writer, IReadOnlyList<MoqKeyValuePair> properties)
    {
        var body = new MoqWriter(64);
        MoqKeyValueList.Write(body, properties);
        writer.WriteLengthPrefixed(body.WrittenSpan);
    }

    /// <summary>
    /// Reads a length and then the pairs, from bytes that may be incomplete. NeedMoreData if the length or the pairs
    /// have not all arrived; TooLarge when the length is over the limit (nothing is waited for or allocated then).
    /// </summary>
    internal static MoqParseStatus TryRead(ReadOnlyMemory<byte> source, ref int position, MoqDataLimits limits,
        out List<MoqKeyValuePair> properties, out MoqError error)
    {
        properties = new List<MoqKeyValuePair>();
        error = MoqError.None;
        if (!MoqVarint.TryRead(source.Span[position..], out ulong length, out int n)) return MoqParseStatus.NeedMoreData;
        if (length > (ulong)limits.MaxPropertiesLength) { error = MoqError.Protocol("object properties over the local limit"); return MoqParseStatus.TooLarge; }
        if ((ulong)(source.Length - position - n) < length) return MoqParseStatus.NeedMoreData;
        position += n;
        var bytes = source.Slice(position, (int)length);
        position += (int)length;
        return MoqKeyValueList.TryParse(bytes, properties, out error) ? MoqParseStatus.Complete : MoqParseStatus.Malformed;
    }
}
