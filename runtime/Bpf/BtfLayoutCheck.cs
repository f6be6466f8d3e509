using FastRelay.Generated;

namespace FastRelay.Bpf;

/// <summary>
/// Checks the generator's idea of each shared struct against what clang actually compiled (the object's BTF)
/// before any map is touched: a disagreement means userspace would read or write the wrong bytes.
/// </summary>
public static class BtfLayoutCheck
{
    /// <summary>Every mismatch of struct presence/size and member presence/offset/size; empty when all agree.</summary>
    public static IReadOnlyList<LayoutMismatch> Compare(BpfObject obj, IReadOnlyList<SharedStructLayout> layouts)
    {
        var found = new List<LayoutMismatch>();
        foreach (var layout in layouts)
        {
            var btf = obj.Btf.FindStruct(layout.CName);
            if (btf is null)
            {
                found.Add(new LayoutMismatch(layout.CName, null, "struct missing from BTF", layout.Size, -1));
                continue;
            }
            if (btf.Size != layout.Size)
                found.Add(new LayoutMismatch(layout.CName, null, "size", layout.Size, btf.Size));

            var members = btf.Members.Where(m => m.Name.Length > 0).ToDictionary(m => m.Name);
            foreach (var field in layout.Fields)
            {
                if (!members.Remove(field.CName, out var member))
                {
                    found.Add(new LayoutMismatch(layout.CName, field.CName, "member missing from BTF", field.Offset, -1));
                    continue;
                }
                if (member.IsBitfield || member.BitOffset % 8 != 0)
                    found.Add(new LayoutMismatch(layout.CName, field.CName, "bitfield (not byte addressable)", field.Size * 8, member.BitfieldSize));
                if (member.Offset != field.Offset)
                    found.Add(new LayoutMismatch(layout.CName, field.CName, "offset", field.Offset, member.Offset));
                if (member.Size != field.Size)
                    found.Add(new LayoutMismatch(layout.CName, field.CName, "size", field.Size, member.Size));
            }
            // Members only C has would be bytes C# never writes.
            foreach (var extra in members.Values)
                found.Add(new LayoutMismatch(layout.CName, extra.Name, "member missing from generated layout (BTF offset)", -1, extra.Offset));
            foreach (var anon in btf.Members.Where(m => m.Name.Length == 0))
                found.Add(new LayoutMismatch(layout.CName, $"<anonymous@{anon.Offset}>", "anonymous member not supported (BTF offset)", -1, anon.Offset));
        }
        return found;
    }

    /// <summary>Throws <see cref="LayoutMismatchException"/> listing every mismatch.</summary>
    public static void Verify(BpfObject obj, IReadOnlyList<SharedStructLayout> layouts)
    {
        var mismatches = Compare(obj, layouts);
        if (mismatches.Count > 0) throw new LayoutMismatchException(mismatches);
    }
}
