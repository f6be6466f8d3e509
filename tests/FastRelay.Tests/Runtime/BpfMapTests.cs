using Xunit;
using FastRelay.Bpf;

namespace FastRelay.Tests.Runtime;

[Collection(BpfCollection.Name)]
public sealed class BpfMapTests(CompiledFixtures fixtures)
{
    private static readonly byte[] TagA = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01];

    [BpfFact]
    public void Hash_map_update_lookup_delete_and_keys()
    {
        using var obj = BpfObject.Load(fixtures.Object(CompiledFixtures.Runtime));
        var map = obj.Map("fx_records");

        Assert.False(map.TryLookup(7u, out FxRecord _));
        Assert.Empty(map.GetKeys<uint>());

        map.Update(7u, FxRecord.Create(1, 70, 4433, TagA));
        map.Update(8u, FxRecord.Create(2, 80, 4434, TagA));
        map.Update(9u, FxRecord.Create(3, 90, 4435, TagA));

        var r = map.Lookup<uint, FxRecord>(8u);
        Assert.Equal((byte)2, r.Kind);
        Assert.Equal(80u, r.Id);
        Assert.Equal((ushort)4434, r.Port);
        Assert.Equal(TagA, r.TagBytes());
        Assert.Equal([7u, 8u, 9u], map.GetKeys<uint>().Order());

        Assert.True(map.Delete(8u));
        Assert.False(map.Delete(8u));
        Assert.Throws<KeyNotFoundException>(() => map.Lookup<uint, FxRecord>(8u));
        Assert.Equal([7u, 9u], map.GetKeys<uint>().Order());
    }

    [BpfFact]
    public void Update_flags_are_enforced_by_the_kernel()
    {
        using var obj = BpfObject.Load(fixtures.Object(CompiledFixtures.Runtime));
        var map = obj.Map("fx_records");
        map.Update(1u, FxRecord.Create(1, 1, 1, TagA), BpfUpdateFlags.NoExist);

        var exists = Assert.Throws<BpfException>(() => map.Update(1u, FxRecord.Create(1, 1, 1, TagA), BpfUpdateFlags.NoExist));
        Assert.Equal(17, exists.Errno); // EEXIST
        Assert.Contains("File exists", exists.Message);

        var absent = Assert.Throws<BpfException>(() => map.Update(2u, FxRecord.Create(1, 1, 1, TagA), BpfUpdateFlags.Exist));
        Assert.Equal(2, absent.Errno); // ENOENT
    }

    [BpfFact]
    public void Array_map_has_every_index_as_a_key_and_wrong_sizes_are_rejected()
    {
        using var obj = BpfObject.Load(fixtures.Object(CompiledFixtures.Runtime));
        var map = obj.Map("fx_verdicts");

        Assert.Equal([0u, 1u, 2u, 3u], map.GetKeys<uint>());
        map.Update(3u, 42u);
        Assert.Equal(42u, map.Lookup<uint, uint>(3u));
        Assert.False(map.TryLookup(4u, out uint _)); // past max_entries

        var wrong = Assert.Throws<ArgumentException>(() => map.Update(0u, 1UL));
        Assert.Contains("fx_verdicts", wrong.Message);
        Assert.Throws<InvalidOperationException>(() => obj.Map("fx_packets").Lookup<uint, ulong>(0u));
    }

    [BpfFact]
    public void Batch_update_and_lookup_move_many_elements_per_call()
    {
        using var obj = BpfObject.Load(fixtures.Object(CompiledFixtures.Runtime));
        var map = obj.Map("fx_verdicts");

        map.UpdateBatch<uint, uint>([1u, 3u], [11u, 33u]);
        Assert.Equal(11u, map.Lookup<uint, uint>(1u));
        Assert.Equal(33u, map.Lookup<uint, uint>(3u));

        var keys = new uint[8];
        var values = new uint[8];
        var n = map.LookupBatch<uint, uint>(keys, values);
        Assert.Equal(4, n); // every index of the 4-entry array, then the end of the map
        Assert.Equal([0u, 1u, 2u, 3u], keys[..n]);
        Assert.Equal([0u, 11u, 0u, 33u], values[..n]);
        Assert.Throws<ArgumentException>(() => map.UpdateBatch<uint, uint>([1u], []));
    }

    [BpfFact]
    public void Batch_delete_removes_every_key_and_skips_the_absent_ones()
    {
        using var obj = BpfObject.Load(fixtures.Object(CompiledFixtures.Runtime));
        var map = obj.Map("fx_records");
        for (var k = 1u; k <= 6; k++)
            map.Update(k, FxRecord.Create(1, k, 1, TagA));

        // All present: every one goes (the others stay).
        Assert.Equal(2, map.DeleteBatch<uint>([2u, 4u]));
        Assert.Equal([1u, 3u, 5u, 6u], map.GetKeys<uint>().Order());

        // The kernel stops a batch at an absent key (ENOENT); the keys after it must still be deleted, the absent ones
        // not counted: 4 (gone already) and 9 (never there) sit between keys that are there.
        Assert.Equal(3, map.DeleteBatch<uint>([1u, 4u, 3u, 9u, 6u]));
        Assert.Equal([5u], map.GetKeys<uint>());
        Assert.Equal(0, map.DeleteBatch<uint>([7u]));
        Assert.Equal(0, map.DeleteBatch<uint>([]));

        // An array map's elements cannot be deleted: that is the batch's refusal, not an absent key.
        Assert.Throws<BpfException>(() => obj.Map("fx_verdicts").DeleteBatch<uint>([0u]));
    }

    [BpfFact]
    public void Try_update_batch_writes_until_the_kernel_refuses_an_element_and_says_which()
    {
        using var obj = BpfObject.Load(fixtures.Object(CompiledFixtures.Runtime));
        var map = obj.Map("fx_records");
        var max = (uint)map.MaxEntries;
        // One entry short of full.
        for (var k = 0u; k < max - 1; k++)
            map.Update(k, FxRecord.Create(1, k, 1, TagA));

        // An existing key (room not needed), a new one (the last room), a new one (full: E2BIG), another existing one.
        ReadOnlySpan<uint> keys = [0u, 1000u, 1001u, 1u];
        ReadOnlySpan<FxRecord> values = [FxRecord.Create(2, 10, 1, TagA), FxRecord.Create(2, 11, 1, TagA), FxRecord.Create(2, 12, 1, TagA), FxRecord.Create(2, 13, 1, TagA)];
        var written = map.TryUpdateBatch(keys, values, out var errno);
        Assert.Equal(2, written);
        Assert.Equal(7, errno); // E2BIG
        Assert.Equal(10u, map.Lookup<uint, FxRecord>(0u).Id);
        Assert.Equal(11u, map.Lookup<uint, FxRecord>(1000u).Id);
        Assert.False(map.TryLookup(1001u, out FxRecord _));
        Assert.Equal(1u, map.Lookup<uint, FxRecord>(1u).Id); // after the refused one: not attempted

        // The rest after the refused element, on its own: an update of an existing key needs no room.
        Assert.Equal(1, map.TryUpdateBatch(keys[3..], values[3..], out errno));
        Assert.Equal(0, errno);
        Assert.Equal(13u, map.Lookup<uint, FxRecord>(1u).Id);
    }

    [BpfFact]
    public void Typed_wrapper_checks_sizes_at_construction()
    {
        using var obj = BpfObject.Load(fixtures.Object(CompiledFixtures.Runtime));

        var e = Assert.Throws<BpfMapLayoutException>(() => obj.Map<uint, ulong>("fx_records"));
        Assert.Contains("fx_records", e.Message);
        Assert.Contains("32-byte values", e.Message);
        Assert.Contains("UInt64 is 8 bytes", e.Message);
        Assert.Throws<BpfMapLayoutException>(() => new BpfMap<ulong, FxRecord>(obj.Map("fx_records")));

        var typed = obj.Map<uint, FxRecord>("fx_records");
        typed.Update(5u, FxRecord.Create(9, 99, 1, TagA));
        Assert.True(typed.TryLookup(5u, out var r));
        Assert.Equal(99u, r.Id);
        Assert.Equal([5u], typed.GetKeys());
        Assert.True(typed.Delete(5u));
    }

    [BpfFact]
    public void Per_cpu_values_round_trip_one_per_possible_cpu()
    {
        using var obj = BpfObject.Load(fixtures.Object(CompiledFixtures.Runtime));
        var map = obj.Map("fx_packets");
        int cpus = BpfMap.PossibleCpuCount;
        Assert.True(cpus >= 1);

        var values = Enumerable.Range(0, cpus).Select(i => (ulong)(i * 10 + 1)).ToArray();
        map.UpdatePerCpu(0u, values.AsSpan());
        Assert.Equal(values, map.LookupPerCpu<uint, ulong>(0u));
        Assert.Equal(values, obj.Map<uint, ulong>("fx_packets").LookupPerCpu(0u));
        Assert.Throws<ArgumentException>(() => map.UpdatePerCpu(0u, new ulong[cpus + 1].AsSpan()));
    }
}
