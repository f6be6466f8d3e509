using Xunit;
using FastRelay.Bpf;
using FastRelay.Generated;

namespace FastRelay.Tests.Runtime;

[Collection(BpfCollection.Name)]
public sealed class BtfLayoutCheckTests(CompiledFixtures fixtures)
{
    [BpfFact]
    public void Btf_describes_the_padded_struct()
    {
        using var obj = BpfObject.Open(fixtures.Object(CompiledFixtures.Runtime));
        var s = obj.Btf.FindStruct("fx_record");

        Assert.NotNull(s);
        Assert.Equal(32, s.Size);
        Assert.Equal(
            [("kind", 0, 1), ("id", 4, 4), ("port", 8, 2), ("bytes", 16, 8), ("tag", 24, 6)],
            s.Members.Select(m => (m.Name, m.Offset, m.Size)));
        Assert.Null(obj.Btf.FindStruct("fx_missing"));
    }

    [BpfFact]
    public void Correct_layout_passes_on_an_opened_and_a_loaded_object()
    {
        using var obj = BpfObject.Open(fixtures.Object(CompiledFixtures.Runtime));
        BtfLayoutCheck.Verify(obj, [FixtureLayouts.Record]);
        obj.Load();
        Assert.Empty(BtfLayoutCheck.Compare(obj, [FixtureLayouts.Record]));
    }

    [BpfFact]
    public void Every_mismatch_is_reported_with_struct_and_member()
    {
        using var obj = BpfObject.Open(fixtures.Object(CompiledFixtures.Runtime));
        var wrong = new SharedStructLayout("fx_record", "FxRecord", 40,
        [
            new("kind", 0, 1),
            new("id", 2, 4),      // wrong offset
            new("port", 8, 2),
            new("bytes", 16, 8),
            new("tag", 24, 8),    // wrong size
            new("flags", 32, 4),  // not in C
        ]);
        var absent = new SharedStructLayout("fx_absent", "FxAbsent", 8, []);

        var e = Assert.Throws<LayoutMismatchException>(() => BtfLayoutCheck.Verify(obj, [wrong, absent]));

        Assert.Equal(
        [
            ("fx_record", null, "size", 40L, 32L),
            ("fx_record", "id", "offset", 2L, 4L),
            ("fx_record", "tag", "size", 8L, 6L),
            ("fx_record", "flags", "member missing from BTF", 32L, -1L),
            ("fx_absent", null, "struct missing from BTF", 8L, -1L),
        ], e.Mismatches.Select(m => (m.Struct, m.Member, m.Kind, m.Expected, m.Actual)));
        Assert.Contains("fx_record.id: offset expected 2, BTF has 4", e.Message);
        Assert.Contains("fx_record.tag: size expected 8, BTF has 6", e.Message);
    }

    [BpfFact]
    public void Member_only_in_c_is_reported()
    {
        using var obj = BpfObject.Open(fixtures.Object(CompiledFixtures.Runtime));
        var partial = FixtureLayouts.Record with { Fields = FixtureLayouts.Record.Fields.Where(f => f.CName != "port").ToArray() };

        var m = Assert.Single(BtfLayoutCheck.Compare(obj, [partial]));
        Assert.Equal("port", m.Member);
        Assert.Equal(8, m.Actual);
    }
}
