using FastRelay.Cli.Commands;
using FastRelay.Cli.Gen;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Cli;

/// <summary>`fastrelay verify`: every program's verdict, the layout check, and the full log on a rejection.</summary>
[Collection(BpfCollection.Name)]
public sealed class VerifyCommandTests(CompiledFixtures fixtures) : IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("fastrelay-verifycli-").FullName;

    [BpfFact]
    public async Task A_gen_directory_verifies_with_every_program_accepted_and_layouts_matching()
    {
        var pipeline = new GenPipeline(await ClangToolchain.FindAsync(BpfCapabilities.FindClang(), default), RepoPaths.BpfTemplates, TextWriter.Null);
        var manifest = Manifest.Load(_out).With(await pipeline.BuildAsync(ProtocolCatalog.Profile("custom-udp"), _out, default));
        manifest.Save(_out);
        var output = new StringWriter();

        var exit = VerifyCommand.Run(_out, printAcceptedLogs: false, output);

        Assert.Equal(0, exit);
        var text = output.ToString();
        foreach (var program in new[] { "fr_upstream_ingress", "fr_subscriber_ingress", "fr_subscriber_egress" })
            Assert.Matches($@"{program}\s+accepted\s+\d+ insns", text);
        Assert.Contains("shared structs match the C# mirrors", text);
        Assert.Contains("all programs accepted by the kernel", text);
    }

    [BpfFact]
    public void A_rejected_program_fails_with_the_verifier_log()
    {
        File.Copy(fixtures.Object(CompiledFixtures.Rejected), Path.Combine(_out, "rejected.bpf.o"));
        var output = new StringWriter();

        var exit = VerifyCommand.Run(_out, printAcceptedLogs: false, output);

        Assert.Equal(2, exit);
        var text = output.ToString();
        Assert.Contains("REJECTED", text);
        Assert.Contains("accepted", text); // the fixture's other program still gets its own verdict
        Assert.Contains("    | ", text);   // the verifier log, indented under the program
    }

    public void Dispose() => Directory.Delete(_out, recursive: true);
}
