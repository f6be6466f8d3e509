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
    EquatableArray<SharedStruct> Structs,
    EquatableArray<SharedMap> Maps,
    EquatableArray<ProgramSpec> Programs)
{
    public string HeaderFileName => Name + ".fastrelay.h";

    public int PriorityLevels => Priority is null ? 1 : 1 << Priority.PriorityBits;

    public bool PacketNumberTranslated => PacketNumber is { Translate: true };

    public bool StreamIdTranslated => StreamId is { Translate: true };
}

/// <summary>A TC program the templates define: C function name, the CLR constant naming it, where it attaches.</summary>
public sealed record ProgramSpec(string CName, string ClrName, string AttachPoint, string Comment);
