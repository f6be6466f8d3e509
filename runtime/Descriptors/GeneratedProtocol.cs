namespace FastRelay.Generated;

/// <summary>
/// Everything the generator derived from one descriptor that tools need at run time: the C header text that
/// <c>fastrelay gen</c> writes to disk, and the layouts of every struct shared with the kernel so that the runtime
/// can check them against the compiled object's BTF before it touches a map.
/// </summary>
public sealed record GeneratedProtocol(
    string Name,
    string DescriptorType,
    string SourceFile,
    int UdpPort,
    int MaxSubscribers,
    int MaxChannels,
    string HeaderFileName,
    string CHeader,
    IReadOnlyList<SharedStructLayout> Structs,
    IReadOnlyList<MapLayout> Maps,
    IReadOnlyList<string> Programs)
{
    /// <summary>File name of the compiled object, <c>&lt;name&gt;.bpf.o</c>.</summary>
    public string ObjectFileName => Name + ".bpf.o";
}

/// <summary>A C struct shared between kernel and userspace, as the generator laid it out.</summary>
public sealed record SharedStructLayout(string CName, string ClrName, int Size, IReadOnlyList<SharedFieldLayout> Fields);

/// <summary>One member of a <see cref="SharedStructLayout"/>; <see cref="Size"/> is the whole member (array included).</summary>
public sealed record SharedFieldLayout(string CName, int Offset, int Size);

/// <summary>A BPF map the generated header defines. Key and value name a <see cref="SharedStructLayout"/> or a C scalar.</summary>
public sealed record MapLayout(string Name, string Type, string KeyType, int KeySize, string ValueType, int ValueSize, int MaxEntries);

/// <summary>Marks a generated class holding a static <c>Protocol</c> property of type <see cref="GeneratedProtocol"/>;
/// <c>fastrelay gen --assembly</c> finds descriptors through it.</summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
public sealed class GeneratedFastRelayProtocolAttribute(Type holder) : Attribute
{
    public Type Holder { get; } = holder;
}
