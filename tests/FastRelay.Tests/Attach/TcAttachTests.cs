using FastRelay.Bpf;
using FastRelay.Tests.Runtime;
using Microsoft.Extensions.Logging;
using Xunit;

namespace FastRelay.Tests.Attach;

/// <summary>TC attach and detach on a veth in a private network namespace, in both modes, driven by real packets.</summary>
[Collection(BpfCollection.Name)]
public sealed class TcAttachTests(CompiledFixtures fixtures)
{
    internal const string Fixture = "attach_fixture";
    private const uint First = 0, Second = 1;

    private BpfObject LoadFixture() => BpfObject.Load(fixtures.Object(Fixture));

    private static ulong Seen(BpfObject obj, uint slot) => obj.Map("fx_seen").Lookup<uint, ulong>(slot);

    /// <summary>veth delivers through the backlog softirq: wait until the counter settles at the expected floor.</summary>
    private static void AssertSeenAtLeast(BpfObject obj, uint slot, ulong expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(2);
        while (Seen(obj, slot) < expected && DateTime.UtcNow < deadline) Thread.Sleep(10);
        Assert.True(Seen(obj, slot) >= expected, $"slot {slot}: saw {Seen(obj, slot)} packets, expected at least {expected}");
    }

    [BpfTheory]
    [InlineData(TcAttachMode.Tcx)]
    [InlineData(TcAttachMode.Clsact)]
    public void Attach_runs_the_program_and_dispose_detaches_it(TcAttachMode mode)
    {
        using var lab = new VethLab();
        using var obj = LoadFixture();
        var log = new ListLogger();

        var attachment = lab.B.Run(() => TcAttach.Attach(obj.Program("fr_fx_first"), lab.IfindexB, TcDirection.Ingress, mode, log));
        Assert.Equal(mode, attachment.Mode);
        Assert.True(attachment.IsAttached);
        Assert.Equal(obj.Program("fr_fx_first").GetInfo().Id, attachment.ProgramId);
        if (mode == TcAttachMode.Clsact)
        {
            Assert.Equal(TcAttach.ClsactHandle, attachment.ClsactHandle);
            Assert.Equal(TcAttach.FirstClsactPriority, (int)attachment.ClsactPriority!);
            var filters = lab.TcFilters(lab.NsB, lab.DevB, "ingress");
            Assert.Contains("handle 0xfa57", filters);
            Assert.Contains("name fr_fx_first", filters);
        }
        else
        {
            Assert.NotNull(attachment.LinkId);
            // bpftool 7.1 predates TCX and prints the link type number (BPF_LINK_TYPE_TCX = 11).
            var link = VethLab.Run("bpftool", "link", "show", "id", attachment.LinkId.ToString()!);
            Assert.Matches(@"type (tcx|11)\b", link);
            Assert.Contains($"prog {attachment.ProgramId}", link);
        }

        lab.SendAToB(5);
        AssertSeenAtLeast(obj, First, 5);

        // Dispose from this (root-namespace) thread, concurrently, as a Ctrl-C handler racing shutdown would.
        Parallel.For(0, 4, _ => attachment.Dispose());
        Assert.False(attachment.IsAttached);
        Assert.Single(log.Entries, e => e.Message.StartsWith("Detached fr_fx_first"));
        Assert.DoesNotContain(log.Entries, e => e.Level >= LogLevel.Warning);

        ulong before = Seen(obj, First);
        lab.SendAToB(5);
        Thread.Sleep(100);
        Assert.Equal(before, Seen(obj, First));
        if (mode == TcAttachMode.Clsact)
        {
            Assert.DoesNotContain("fr_fx_first", lab.TcFilters(lab.NsB, lab.DevB, "ingress"));
            Assert.Contains("clsact", lab.Tc(lab.NsB, "qdisc", "show", "dev", lab.DevB)); // the hook stays
        }
        attachment.Dispose();
    }

    [BpfFact]
    public void Auto_mode_uses_tcx_on_this_kernel()
    {
        using var lab = new VethLab();
        using var obj = LoadFixture();
        using var attachment = lab.B.Run(() => TcAttach.Attach(obj.Program("fr_fx_first"), lab.DevB, TcDirection.Egress));
        Assert.Equal(TcAttachMode.Tcx, attachment.Mode);
        lab.SendBToA(3);
        AssertSeenAtLeast(obj, First, 3);
    }

    [BpfTheory]
    [InlineData(TcAttachMode.Tcx)]
    [InlineData(TcAttachMode.Clsact)]
    public void Two_programs_on_one_hook_both_see_every_packet(TcAttachMode mode)
    {
        using var lab = new VethLab();
        using var obj = LoadFixture();

        var (a, b) = lab.B.Run(() => (
            TcAttach.Attach(obj.Program("fr_fx_first"), lab.IfindexB, TcDirection.Ingress, mode),
            TcAttach.Attach(obj.Program("fr_fx_second"), lab.IfindexB, TcDirection.Ingress, mode)));
        using (b)
        {
            using (a)
            {
                if (mode == TcAttachMode.Clsact)
                    Assert.Equal(a.ClsactPriority + 1, b.ClsactPriority);
                lab.SendAToB(10);
                AssertSeenAtLeast(obj, First, 10);
                AssertSeenAtLeast(obj, Second, 10);
            }

            // Detaching the first leaves the second running.
            ulong first = Seen(obj, First), second = Seen(obj, Second);
            lab.SendAToB(10);
            AssertSeenAtLeast(obj, Second, second + 10);
            Assert.Equal(first, Seen(obj, First));
        }
    }

    [BpfFact]
    public void Tcx_and_clsact_programs_coexist_on_one_hook()
    {
        using var lab = new VethLab();
        using var obj = LoadFixture();
        using var tcx = lab.B.Run(() => TcAttach.Attach(obj.Program("fr_fx_first"), lab.IfindexB, TcDirection.Ingress, TcAttachMode.Tcx));
        using var cls = lab.B.Run(() => TcAttach.Attach(obj.Program("fr_fx_second"), lab.IfindexB, TcDirection.Ingress, TcAttachMode.Clsact));
        lab.SendAToB(4);
        AssertSeenAtLeast(obj, First, 4);
        AssertSeenAtLeast(obj, Second, 4);
    }

    [BpfTheory]
    [InlineData(TcAttachMode.Tcx)]
    [InlineData(TcAttachMode.Clsact)]
    public void Attach_to_a_missing_device_throws_a_bpf_exception(TcAttachMode mode)
    {
        using var lab = new VethLab();
        using var obj = LoadFixture();
        var e = Assert.Throws<BpfException>(() =>
            lab.B.Run(() => TcAttach.Attach(obj.Program("fr_fx_first"), 99999, TcDirection.Ingress, mode)));
        Assert.Contains("ifindex 99999", e.Message);
        Assert.Equal(19 /* ENODEV */, e.Errno);
        Assert.Throws<ArgumentException>(() => lab.B.Run(() => TcAttach.Attach(obj.Program("fr_fx_first"), "nosuchdev0", TcDirection.Ingress, mode)));
    }
}
