using Xunit;
using FastRelay.Bpf;

namespace FastRelay.Tests.Runtime;

[Collection(BpfCollection.Name)]
public sealed class BpfObjectTests(CompiledFixtures fixtures)
{
    [BpfFact]
    public void Load_exposes_programs_and_maps_with_kernel_properties()
    {
        using var obj = BpfObject.Load(fixtures.Object(CompiledFixtures.Runtime));

        Assert.True(obj.IsLoaded);
        var prog = obj.Program("fx_classify");
        Assert.Equal("tc", prog.SectionName);
        Assert.Equal(BpfProgramType.SchedCls, prog.Type);
        Assert.True(prog.IsLoaded);
        Assert.True(prog.Fd > 0);
        Assert.True(prog.GetInfo().Instructions > 10);

        AssertMap(obj.Map("fx_records"), BpfMapType.Hash, 4, 32, 64);
        AssertMap(obj.Map("fx_verdicts"), BpfMapType.Array, 4, 4, 4);
        AssertMap(obj.Map("fx_packets"), BpfMapType.PercpuArray, 4, 8, 1);
        AssertMap(obj.Map("fx_events"), BpfMapType.Ringbuf, 0, 0, 64 * 1024);
        Assert.True(obj.Map("fx_packets").IsPerCpu);

        var missing = Assert.Throws<KeyNotFoundException>(() => obj.Map("nope"));
        Assert.Contains("fx_records", missing.Message);
        Assert.Throws<KeyNotFoundException>(() => obj.Program("nope"));
    }

    private static void AssertMap(BpfMap map, BpfMapType type, int key, int value, int max)
    {
        Assert.Equal(type, map.Type);
        Assert.Equal(key, map.KeySize);
        Assert.Equal(value, map.ValueSize);
        Assert.Equal(max, map.MaxEntries);
        Assert.True(map.Fd > 0);
    }

    [BpfFact]
    public void Dispose_closes_the_object_and_later_use_throws()
    {
        var obj = BpfObject.Load(fixtures.Object(CompiledFixtures.Runtime));
        var prog = obj.Program("fx_classify");
        var map = obj.Map("fx_verdicts");
        obj.Dispose();

        Assert.Throws<ObjectDisposedException>(() => prog.Fd);
        Assert.Throws<ObjectDisposedException>(() => map.Lookup<uint, uint>(0));
        obj.Dispose(); // idempotent
    }

    [BpfFact]
    public void Duplicated_program_fd_is_owned_by_the_caller_and_outlives_the_object()
    {
        BpfFdHandle dup;
        using (var obj = BpfObject.Load(fixtures.Object(CompiledFixtures.Runtime)))
            dup = obj.Program("fx_classify").DuplicateFd();

        var fdinfo = $"/proc/self/fdinfo/{dup.Fd}";
        Assert.Contains("prog_id", File.ReadAllText(fdinfo));
        dup.Dispose();
        Assert.False(File.Exists(fdinfo) && File.ReadAllText(fdinfo).Contains("prog_id"));
    }

    [BpfFact]
    public void Open_reports_missing_and_malformed_files()
    {
        Assert.Throws<FileNotFoundException>(() => BpfObject.Open("/nonexistent/x.bpf.o"));

        // A path longer than the print hook's stack buffer exercises its va_list copy + second format pass.
        var root = Directory.CreateTempSubdirectory("fastrelay-junk-").FullName;
        var dir = Path.Combine([root, .. Enumerable.Repeat(new string('d', 200), 8)]);
        Directory.CreateDirectory(dir);
        var junk = Path.Combine(dir, "junk.bpf.o");
        try
        {
            File.WriteAllText(junk, "not an ELF file");
            var e = Assert.Throws<BpfException>(() => BpfObject.Open(junk));
            Assert.True(e.Errno > 0);
            Assert.Contains(e.LibBpfWarnings, w => w.Contains(junk));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [BpfFact]
    public void Autoload_false_leaves_a_program_unloaded()
    {
        using var obj = BpfObject.Open(fixtures.Object(CompiledFixtures.Rejected));
        obj.Program("fx_out_of_bounds").Autoload = false;
        obj.Load();

        Assert.True(obj.Program("fx_accepted").IsLoaded);
        Assert.False(obj.Program("fx_out_of_bounds").IsLoaded);
        Assert.Throws<InvalidOperationException>(() => obj.Program("fx_out_of_bounds").Fd);
        Assert.Throws<InvalidOperationException>(() => obj.Load());
    }
}
