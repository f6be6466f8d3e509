using FastRelay.Bpf;
using FastRelay.Tests.Runtime;
using Microsoft.Extensions.Logging;
using Xunit;

namespace FastRelay.Tests.Attach;

/// <summary>
/// Stale clsact cleanup. "Killed process" filters are made two ways: by this process (attach, never detach, close
/// the object so no fd holds the program) and by the tc command (its program fds die with it). Foreign filters are
/// tc-loaded too: one at a foreign handle/priority running an fr_ program, one at FastRelay's handle and priority
/// running a program without the fr_ prefix.
/// </summary>
[Collection(BpfCollection.Name)]
public sealed class StaleAttachmentsTests(CompiledFixtures fixtures)
{
    private string FixturePath => fixtures.Object(TcAttachTests.Fixture);

    private void TcAdd(VethLab lab, uint priority, uint handle, string program) =>
        lab.Tc(lab.NsB, "filter", "add", "dev", lab.DevB, "ingress", "prio", priority.ToString(), "handle", $"0x{handle:x}",
            "bpf", "da", "obj", FixturePath, "program", program);

    [BpfFact]
    public void Remove_takes_only_filters_of_dead_fastrelay_processes()
    {
        using var lab = new VethLab();
        var log = new ListLogger();
        const uint Foreign = 7, ForeignHandle = 1;
        uint ourForeignProg = TcAttach.FirstClsactPriority + 10;  // our handle, foreign program name
        uint tcKilled = TcAttach.FirstClsactPriority + 11;        // our handle, fr_ program, tc exited

        // A live relay (object open) and a killed one (attachment dropped, object closed).
        using var live = BpfObject.Load(FixturePath);
        var liveAttachment = lab.B.Run(() => TcAttach.Attach(live.Program("fr_fx_first"), lab.IfindexB, TcDirection.Ingress, TcAttachMode.Clsact));
        TcAttachment leaked;
        using (var killed = BpfObject.Load(FixturePath))
            leaked = lab.B.Run(() => TcAttach.Attach(killed.Program("fr_fx_second"), lab.IfindexB, TcDirection.Ingress, TcAttachMode.Clsact));
        TcAdd(lab, Foreign, ForeignHandle, "fr_fx_first");
        TcAdd(lab, ourForeignProg, TcAttach.ClsactHandle, "fx_foreign");
        TcAdd(lab, tcKilled, TcAttach.ClsactHandle, "fr_fx_second");

        var found = lab.B.Run(() => StaleAttachments.Find(lab.IfindexB));
        Assert.Equal(
            [(liveAttachment.ClsactPriority!.Value, "fr_fx_first", true), (leaked.ClsactPriority!.Value, "fr_fx_second", false),
             (ourForeignProg, "fx_foreign", false), (tcKilled, "fr_fx_second", false)],
            found.Select(f => (f.Priority, f.ProgramName, f.InUse)));

        var removed = lab.B.Run(() => StaleAttachments.Remove(lab.IfindexB, log));

        Assert.Equal([leaked.ClsactPriority!.Value, tcKilled], removed.Select(f => f.Priority));
        Assert.True(log.Has(LogLevel.Warning, "foreign program 'fx_foreign'"));
        Assert.True(log.Has(LogLevel.Warning, "Removed stale clsact filter fr_fx_second"));
        var filters = lab.TcFilters(lab.NsB, lab.DevB, "ingress");
        Assert.Contains($"pref {Foreign} bpf chain 0 handle 0x1", filters);
        Assert.Contains($"pref {ourForeignProg} bpf chain 0 handle 0xfa57", filters);
        Assert.Contains($"pref {liveAttachment.ClsactPriority} bpf chain 0 handle 0xfa57", filters);
        Assert.DoesNotContain($"pref {tcKilled} ", filters);
        Assert.DoesNotContain($"pref {leaked.ClsactPriority} ", filters);

        // Our own detach removes exactly our filter; the dropped handle finds its filter already gone.
        liveAttachment.Dispose();
        leaked.Dispose();
        filters = lab.TcFilters(lab.NsB, lab.DevB, "ingress");
        Assert.Contains($"pref {Foreign} bpf chain 0 handle 0x1", filters);
        Assert.Contains($"pref {ourForeignProg} bpf chain 0 handle 0xfa57", filters);
        Assert.DoesNotContain("fr_fx_first", filters.Split('\n').Where(l => l.Contains("0xfa57")).Aggregate("", string.Concat));

        // includeInUse is for operators who know nothing runs; the foreign program still stays.
        Assert.Empty(lab.B.Run(() => StaleAttachments.Remove(lab.IfindexB, includeInUse: true)));
    }

    [BpfFact]
    public void A_filter_replaced_by_someone_else_is_not_detached()
    {
        using var lab = new VethLab();
        using var obj = BpfObject.Load(FixturePath);
        var log = new ListLogger();
        var a = lab.B.Run(() => TcAttach.Attach(obj.Program("fr_fx_first"), lab.IfindexB, TcDirection.Ingress, TcAttachMode.Clsact, log));
        lab.Tc(lab.NsB, "filter", "replace", "dev", lab.DevB, "ingress", "prio", a.ClsactPriority.ToString()!, "handle", "0xfa57",
            "bpf", "da", "obj", FixturePath, "program", "fx_foreign");

        a.Dispose();

        Assert.True(log.Has(LogLevel.Warning, "left alone"));
        Assert.Contains("fx_foreign", lab.TcFilters(lab.NsB, lab.DevB, "ingress"));
    }

    [BpfFact]
    public void Find_on_a_device_without_clsact_is_empty()
    {
        using var lab = new VethLab();
        Assert.Empty(lab.B.Run(() => StaleAttachments.Find(lab.IfindexB)));
        Assert.Empty(lab.B.Run(() => StaleAttachments.Remove(lab.IfindexB)));
    }
}
