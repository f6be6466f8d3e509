using Xunit;
using FastRelay.Bpf;

namespace FastRelay.Tests.Runtime;

[Collection(BpfCollection.Name)]
public sealed class VerifierTests(CompiledFixtures fixtures)
{
    [BpfFact]
    public void Rejected_program_throws_with_its_name_and_the_verifier_log()
    {
        using var obj = BpfObject.Open(fixtures.Object(CompiledFixtures.Rejected));

        var e = Assert.Throws<BpfLoadException>(() => obj.Load());

        Assert.Equal("fx_out_of_bounds", e.ProgramName);
        Assert.Contains("invalid access to packet", e.VerifierLog);
        Assert.Contains("invalid access to packet", e.Message);
        Assert.Equal(13, e.Errno); // EACCES: the verifier's verdict
        Assert.Contains(e.LibBpfWarnings, w => w.Contains("fx_out_of_bounds"));
        Assert.False(obj.IsLoaded);
    }

    [BpfFact]
    public void Program_verifier_gives_each_program_its_own_verdict()
    {
        var verdicts = ProgramVerifier.VerifyObject(fixtures.Object(CompiledFixtures.Rejected));

        Assert.Equal(["fx_accepted", "fx_out_of_bounds"], verdicts.Select(v => v.Name));
        var ok = verdicts[0];
        Assert.True(ok.Accepted);
        Assert.Equal("tc", ok.SectionName);
        Assert.True(ok.Instructions > 0);
        Assert.True(ok.VerifiedInstructions > 0);
        Assert.Null(ok.Error);

        var bad = verdicts[1];
        Assert.False(bad.Accepted);
        Assert.Null(bad.Instructions);
        Assert.Contains("invalid access to packet", bad.VerifierLog);
        Assert.Contains("fx_out_of_bounds", bad.Error);
    }

    [BpfFact]
    public void Program_verifier_accepts_the_runtime_fixture()
    {
        var verdict = Assert.Single(ProgramVerifier.VerifyObject(fixtures.Object(CompiledFixtures.Runtime)));
        Assert.Equal("fx_classify", verdict.Name);
        Assert.True(verdict.Accepted, verdict.Error);
    }

    [BpfFact]
    public void Log_level_keeps_the_log_of_accepted_programs()
    {
        using var obj = BpfObject.Open(fixtures.Object(CompiledFixtures.Runtime), new BpfObjectOptions { VerifierLogLevel = 1 });
        obj.Load();
        Assert.Contains("processed", obj.Program("fx_classify").VerifierLog);
    }
}
