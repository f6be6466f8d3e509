namespace FastRelay.Generator.Model;

/// <summary>Scalar kinds a shared struct member can have; each has one C and one C# spelling.</summary>
public enum ScalarKind
{
    U8,
    U16,
    U32,
    U64,
    S64,
    Be16,
    Struct,
}

/// <summary>One member of a struct shared between kernel and userspace. <see cref="Count"/> &gt; 1 makes it an array;
/// <see cref="StructName"/> names the nested struct when <see cref="Kind"/> is Struct.</summary>
public sealed record SharedMember(
    string CName,
    string ClrName,
    ScalarKind Kind,
    int Count,
    int Offset,
    int Size,
    string? StructName,
    string Comment)
{
    public bool IsPadding => CName.StartsWith("_pad");
}

/// <summary>A struct laid out once by <see cref="LayoutBuilder"/> and emitted identically to C and C#.</summary>
public sealed record SharedStruct(string CName, string ClrName, string Comment, int Size, int Alignment, EquatableArray<SharedMember> Members);

/// <summary>A BPF map the generated header defines.</summary>
public sealed record SharedMap(
    string CName,
    string ClrName,
    string MapType,
    string KeyCType,
    int KeySize,
    string? KeyClrType,
    string ValueCType,
    int ValueSize,
    string? ValueClrType,
    string MaxEntriesExpression,
    int MaxEntries,
    string Comment,
    string MapFlags = "0");
