using Xunit;
using FastRelay.Bpf;

namespace FastRelay.Tests.Runtime;

[Collection(BpfCollection.Name)]
public sealed class TestRunTests(CompiledFixtures fixtures)
{
    private static readonly byte[] Tag = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
    private const int TcActOk = 0, TcActShot = 2, TcActUnspec = -1;

    [BpfFact]
    public void Matched_packet_is_rewritten_marked_and_returns_the_configured_verdict()
    {
        using var obj = BpfObject.Load(fixtures.Object(CompiledFixtures.Runtime));
        obj.Map("fx_records").Update(0x01020304u, FxRecord.Create(1, 4242, 443, Tag));
        obj.Map("fx_verdicts").Update(0u, 7u);

        var packet = FixtureLayouts.Packet(0x01020304);
        var result = obj.Program("fx_classify").TestRun(packet, new SkbContext { Mark = 5 });

        Assert.Equal(7, result.ReturnValue);
        var expected = (byte[])packet.Clone();
        Tag.CopyTo(expected, 0);
        Assert.Equal(expected, result.Output);
        Assert.Equal(4242u, result.Context.Mark);
        Assert.Equal((ulong)packet.Length, obj.Map("fx_records").Lookup<uint, FxRecord>(0x01020304u).Bytes);
    }

    [BpfFact]
    public void Unknown_and_short_packets_take_the_other_return_codes_unchanged()
    {
        using var obj = BpfObject.Load(fixtures.Object(CompiledFixtures.Runtime));
        var prog = obj.Program("fx_classify");

        var unknown = FixtureLayouts.Packet(99);
        var r1 = prog.TestRun(unknown);
        Assert.Equal(TcActUnspec, r1.ReturnValue);
        Assert.Equal(unknown, r1.Output);

        var r2 = prog.TestRun(FixtureLayouts.Packet(99).AsSpan(0, 16));
        Assert.Equal(TcActShot, r2.ReturnValue);
        Assert.Equal(16, r2.Output.Length);
    }

    [BpfFact]
    public void Repeat_and_per_cpu_counter_count_every_run()
    {
        using var obj = BpfObject.Load(fixtures.Object(CompiledFixtures.Runtime));
        obj.Map("fx_records").Update(1u, FxRecord.Create(1, 1, 1, Tag));
        var prog = obj.Program("fx_classify");

        prog.TestRun(FixtureLayouts.Packet(1));
        var r = prog.TestRun(FixtureLayouts.Packet(2), repeat: 10);
        Assert.Equal(TcActUnspec, r.ReturnValue);
        Assert.True(r.DurationNanoseconds > 0);

        var perCpu = obj.Map("fx_packets").LookupPerCpu<uint, ulong>(0u);
        Assert.Equal(BpfMap.PossibleCpuCount, perCpu.Length);
        Assert.Equal(11UL, perCpu.Aggregate(0UL, (a, b) => a + b));
        Assert.Equal(TcActOk, obj.Map("fx_verdicts").Lookup<uint, int>(0u)); // default verdict slot
    }
}
