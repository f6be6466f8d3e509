using System.Runtime.InteropServices;
using FastRelay.Bpf.Native;

namespace FastRelay.Bpf.Crypto;

/// <summary>
/// Restores the <c>kptr</c> BTF type tag that clang 14 (this machine's, and Debian 12's) drops: it accepts
/// <c>struct bpf_crypto_ctx __kptr *ctx;</c> but emits the pointer without its TYPE_TAG, and the kernel then refuses
/// <c>bpf_kptr_xchg</c> on the field ("R1 has no valid kptr"). Before <see cref="BpfObject.Load"/>, every struct member
/// that points to <c>struct <paramref name="structName"/></c> is re-pointed to a new PTR -> TYPE_TAG("kptr") -> STRUCT
/// chain added to the object's BTF through libbpf (which then loads that BTF into the kernel). Only struct members are
/// changed: function prototypes (the kfunc declarations) keep their untagged pointer, as the kernel expects. With a
/// clang that emits the tag, the members already point to a tagged type and nothing changes.
/// </summary>
public static unsafe partial class KptrTypeTags
{
    private const int KindPtr = 2, KindStruct = 4, KindTypedef = 8, KindVolatile = 9, KindConst = 10, KindRestrict = 11;

    /// <summary>Tags the members; returns how many were re-pointed. Call after <see cref="BpfObject.Open"/>, before Load.</summary>
    /// <exception cref="InvalidOperationException">The object is loaded, has no BTF, or libbpf refused the new types.</exception>
    public static int TagMembersPointingTo(BpfObject obj, string structName)
    {
        if (obj.IsLoaded) throw new InvalidOperationException("kptr tags must be added before the object is loaded");
        using var _ = new Lease(obj.Handle);
        nint btf = LibBpf.bpf_object__btf(obj.Ptr);
        if (btf == 0) throw new InvalidOperationException($"BPF object '{obj.Name}' has no BTF (compile with -g)");
        int target = LibBpf.btf__find_by_name_kind(btf, structName, KindStruct);
        if (target < 0) return 0; // the object does not use the struct as a complete type: nothing to tag
        uint count = btf__type_cnt(btf);

        if (MembersToTag(btf, count, (uint)target, patch: 0) == 0) return 0;

        int tag = btf__add_type_tag(btf, "kptr", target);
        if (tag < 0) throw new InvalidOperationException($"libbpf refused a kptr type tag for {structName}: {tag}");
        int ptr = btf__add_ptr(btf, tag);
        if (ptr < 0) throw new InvalidOperationException($"libbpf refused a pointer to the kptr tag: {ptr}");

        // Adding types may move libbpf's type storage: walk again and patch through fresh pointers.
        return MembersToTag(btf, count, (uint)target, patch: (uint)ptr);
    }

    /// <summary>Counts the struct members among types [1, count) pointing untagged to the target; re-points them to
    /// <paramref name="patch"/> unless it is 0.</summary>
    private static int MembersToTag(nint btf, uint count, uint target, uint patch)
    {
        int found = 0;
        for (uint id = 1; id < count; id++)
        {
            var t = LibBpf.btf__type_by_id(btf, id);
            if (t->Kind != KindStruct) continue;
            var m = (BtfMemberRaw*)(t + 1);
            for (int i = 0; i < t->Vlen; i++)
            {
                if (!PointsUntaggedTo(btf, m[i].Type, target)) continue;
                if (patch != 0) m[i].Type = patch;
                found++;
            }
        }
        return found;
    }

    /// <summary>A PTR whose pointee, through const/volatile/typedef (no type tag), is the target struct.</summary>
    private static bool PointsUntaggedTo(nint btf, uint typeId, uint target)
    {
        var t = LibBpf.btf__type_by_id(btf, typeId);
        if (t == null || t->Kind != KindPtr) return false;
        uint id = t->SizeOrType;
        for (int depth = 0; depth < 8; depth++)
        {
            if (id == target) return true;
            var p = LibBpf.btf__type_by_id(btf, id);
            if (p == null || p->Kind is not (KindConst or KindVolatile or KindRestrict or KindTypedef)) return false;
            id = p->SizeOrType;
        }
        return false;
    }

    [LibraryImport("libbpf.so.1")] private static partial uint btf__type_cnt(nint btf);
    [LibraryImport("libbpf.so.1", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int btf__add_type_tag(nint btf, string value, int refTypeId);
    [LibraryImport("libbpf.so.1")] private static partial int btf__add_ptr(nint btf, int refTypeId);
}
