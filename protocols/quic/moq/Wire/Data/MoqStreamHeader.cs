namespace FastRelay.Protocols.Moq.Wire.Data;

/// <summary>What a unidirectional stream carries, from its first varint (§"Unidirectional Stream Types").</summary>
public enum MoqStreamKind
{
    /// <summary>A peer's control stream; it starts with SETUP (type 0x2F00 is both stream and message type).</summary>
    Control,
    Subgroup,
    Fetch,
    Padding,
}

/// <summary>
/// Classifies a unidirectional stream from its first bytes and parses the data stream header. For a control stream
/// nothing is consumed: the SETUP message begins at the type, so the control message reader starts at offset 0.
/// </summary>
public static class MoqStreamHeader
{
    public const ulong FetchHeaderType = 0x05;
    public const ulong SetupType = 0x2F00;
    public const ulong PaddingType = 0x132B3E28;

    /// <summary>
    /// On Complete: <paramref name="kind"/>, the subgroup header or the fetch Request ID, and <paramref name="consumed"/>
    /// (0 for Control; the type only for Padding). Unknown types are Malformed (the session must close).
    /// </summary>
    public static MoqParseStatus TryParse(ReadOnlySpan<byte> source, out MoqStreamKind kind, out MoqSubgroupHeader? subgroup,
        out ulong fetchRequestId, out int consumed, out MoqError error)
    {
        kind = default; subgroup = null; fetchRequestId = 0; consumed = 0; error = MoqError.None;
        if (!MoqVarint.TryRead(source, out ulong type, out int n)) return MoqParseStatus.NeedMoreData;
        switch (type)
        {
            case SetupType:
                kind = MoqStreamKind.Control;
                return MoqParseStatus.Complete;
            case PaddingType:
                kind = MoqStreamKind.Padding;
                consumed = n;
                return MoqParseStatus.Complete;
            case FetchHeaderType:
                kind = MoqStreamKind.Fetch;
                if (!MoqVarint.TryRead(source[n..], out fetchRequestId, out int m)) return MoqParseStatus.NeedMoreData;
                consumed = n + m;
                return MoqParseStatus.Complete;
        }
        if (!MoqSubgroupHeader.IsSubgroupType(type)) { error = MoqError.Protocol("unknown unidirectional stream type"); return MoqParseStatus.Malformed; }
        kind = MoqStreamKind.Subgroup;
        var status = MoqSubgroupHeader.TryParseAfterType(type, source[n..], out var header, out int used, out error);
        if (status != MoqParseStatus.Complete) return status;
        subgroup = header;
        consumed = n + used;
        return MoqParseStatus.Complete;
    }

    /// <summary>Writes the type of a padding stream; what follows must be zero bytes.</summary>
    public static void WritePaddingHeader(MoqWriter writer) => writer.WriteVarint(PaddingType);
}
