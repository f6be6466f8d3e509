namespace FastRelay.Generator.Model;

/// <summary>The validated, derived description of one protocol that both emitters print. Plain data only: no
/// symbols, no syntax, no locations (an edit that only moves the descriptor does not re-emit).</summary>
public sealed record ProtocolModel(
    string Name,
    string Namespace,
    string DescriptorTypeName,
    string DescriptorFullTypeName,
    string GeneratedClassName,
    string SourceFile,
    int UdpPort,
    int MaxSubscribers,
    int MaxChannels,
    bool PriorityDrop,
    int KernelCachePackets,
    int HeaderLength,
    int HeaderBufferLength,
    EquatableArray<FieldSpec> Matches,
    FieldSpec? PacketNumber,
    FieldSpec? StreamId,
    FieldSpec? ConnectionId,
    FieldSpec? Priority,
    FieldSpec? Channel,
    FieldSpec? Payload,
    FieldSpec? StreamOffset,
    FieldSpec? FinFlag,
    FieldSpec? MessageCount,
    EquatableArray<FieldSpec> ChannelKeys,
    int ChannelLookupEntries,
    bool EncryptedSubscribers,
    int ConnectionHeaderLength,
    EquatableArray<SharedStruct> Structs,
    EquatableArray<SharedMap> Maps,
    EquatableArray<ProgramSpec> Programs)
{
    public string HeaderFileName => Name + ".fastrelay.h";

    /// <summary>Urgency levels: from the priority bits, or a whole byte when the urgency comes from the stream mapping.</summary>
    public int PriorityLevels => Priority is not null ? 1 << Priority.PriorityBits : UrgencyFromStream ? 256 : 1;

    /// <summary>Priority drop without a priority field: userspace decides a stream's urgency when it maps the stream.</summary>
    public bool UrgencyFromStream => PriorityDrop && Priority is null && StreamOffset is not null;

    /// <summary>The channel is found in fr_channel_lookup by header values, not read from a fixed place.</summary>
    public bool ChannelLookup => ChannelKeys.Count > 0;

    public bool PacketNumberTranslated => PacketNumber is { Translate: true };

    public bool StreamIdTranslated => StreamId is { Translate: true };
}

/// <summary>A TC program the templates define: C function name, the CLR constant naming it, where it attaches.</summary>
public sealed record ProgramSpec(string CName, string ClrName, string AttachPoint, string Comment);
