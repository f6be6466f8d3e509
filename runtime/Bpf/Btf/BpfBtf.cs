using FastRelay.Bpf.Native;

namespace FastRelay.Bpf;

/// <summary>
/// Read access to a <see cref="BpfObject"/>'s BTF. Struct records are parsed here from libbpf's raw
/// <c>btf_type</c> + <c>btf_member</c> arrays; member sizes go through btf__resolve_size so typedefs, arrays and
/// const/volatile resolve to the bytes the member really occupies.
/// </summary>
public sealed unsafe class BpfBtf
{
    private const uint KindStruct = 4; // BTF_KIND_STRUCT
    private const uint KindUnion = 5;  // BTF_KIND_UNION
    private readonly BpfObject _owner;
    private readonly nint _btf;

    internal BpfBtf(BpfObject owner, nint btf)
    {
        _owner = owner;
        _btf = btf;
    }

    /// <summary>False when the object was compiled without -g (no .BTF section).</summary>
    public bool IsAvailable => _btf != 0;

    /// <summary>The struct named <paramref name="name"/> (or union, with <paramref name="union"/>); null when absent.</summary>
    public BtfStruct? FindStruct(string name, bool union = false)
    {
        if (!IsAvailable) throw new InvalidOperationException($"BPF object '{_owner.Name}' has no BTF (compile with -g)");
        using var _ = new Lease(_owner.Handle);
        int id = LibBpf.btf__find_by_name_kind(_btf, name, union ? KindUnion : KindStruct);
        return id <= 0 ? null : ReadComposite((uint)id);
    }

    private BtfStruct ReadComposite(uint id)
    {
        BtfType* t = LibBpf.btf__type_by_id(_btf, id);
        if (t == null) throw new BpfException($"read BTF type {id}", LibC.ENOENT);
        var raw = (BtfMemberRaw*)(t + 1); // btf_member entries follow the btf_type header
        var members = new BtfMember[t->Vlen];
        for (int i = 0; i < members.Length; i++)
        {
            var m = raw[i];
            // With kind_flag, offset packs the bitfield size in its top 8 bits.
            int bitOffset = t->KindFlag ? (int)(m.Offset & 0xffffff) : (int)m.Offset;
            int bitfieldSize = t->KindFlag ? (int)(m.Offset >> 24) : 0;
            long size = LibBpf.btf__resolve_size(_btf, m.Type);
            var name = LibBpf.Str(LibBpf.btf__name_by_offset(_btf, m.NameOff));
            members[i] = new BtfMember(name, m.Type, bitOffset, bitfieldSize,
                bitfieldSize > 0 ? (bitfieldSize + 7) / 8 : size < 0 ? -1 : (int)size);
        }
        return new BtfStruct(LibBpf.Str(LibBpf.btf__name_by_offset(_btf, t->NameOff)), id, (int)t->SizeOrType, members);
    }
}

/// <summary>A struct (or union) as BTF records it.</summary>
public sealed record BtfStruct(string Name, uint TypeId, int Size, IReadOnlyList<BtfMember> Members);

/// <param name="Name">Empty for an anonymous nested struct/union.</param>
/// <param name="BitfieldSize">Bits, 0 for an ordinary member.</param>
/// <param name="Size">Resolved bytes (whole array, typedefs followed); for a bitfield, its bits rounded up to bytes.</param>
public sealed record BtfMember(string Name, uint TypeId, int BitOffset, int BitfieldSize, int Size)
{
    public int Offset => BitOffset / 8;
    public bool IsBitfield => BitfieldSize > 0;
}
