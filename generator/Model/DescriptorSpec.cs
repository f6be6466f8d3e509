namespace FastRelay.Generator.Model;

/// <summary>The role a descriptor field plays. Mirrors the attribute classes in FastRelay.Descriptors.</summary>
public enum FieldRole
{
    Match,
    PacketNumber,
    StreamId,
    ConnectionId,
    Priority,
    Channel,
    Payload,
    StreamOffset,
    FinFlag,
    MessageCount,
}

/// <summary>Wire encodings the generator knows how to read and write.</summary>
public enum FieldEncoding
{
    BigEndian,
    LittleEndian,
    QuicVarint,
    Bytes,
}

/// <summary>One attributed field as written by the user, before validation.</summary>
public sealed record FieldSpec(
    FieldRole Role,
    string MemberName,
    int Offset,
    int Width,
    FieldEncoding Encoding,
    bool Translate,
    ulong MatchValue,
    ulong MatchMask,
    bool ConnectionScope,
    int PriorityFirstBit,
    int PriorityBits,
    bool HigherIsMoreUrgent,
    bool ChannelKey,
    LocationInfo? Location)
{
    public int End => Offset + Width;

    public string RoleName => Role switch
    {
        FieldRole.Match => "Match",
        FieldRole.PacketNumber => "PacketNumber",
        FieldRole.StreamId => "StreamId",
        FieldRole.ConnectionId => "ConnectionId",
        FieldRole.Priority => "Priority",
        FieldRole.Channel => "Channel",
        FieldRole.StreamOffset => "StreamOffset",
        FieldRole.FinFlag => "FinFlag",
        FieldRole.MessageCount => "MessageCount",
        _ => "Payload",
    };

    /// <summary>Fields the kernel rewrites per subscriber; nothing else may share their bytes.</summary>
    public bool IsWritten => Role switch
    {
        FieldRole.ConnectionId => true,
        FieldRole.PacketNumber or FieldRole.StreamId => Translate,
        FieldRole.StreamOffset => true,
        _ => false,
    };
}

/// <summary>A descriptor as parsed from source: protocol settings plus its fields.</summary>
public sealed record DescriptorSpec(
    string ProtocolName,
    string Namespace,
    string TypeName,
    string FullTypeName,
    string SourceFile,
    int UdpPort,
    int MaxSubscribers,
    int MaxChannels,
    bool PriorityDrop,
    int KernelCachePackets,
    int ChannelLookupEntries,
    bool EncryptedSubscribers,
    EquatableArray<FieldSpec> Fields,
    LocationInfo? Location);

/// <summary>What the parse step yields per descriptor: the spec (null when it could not be read) and every
/// diagnostic found. The pipeline emits code only when no diagnostic is an error.</summary>
public sealed record ParseResult(DescriptorSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics, bool HasErrors);
