using FastRelay.Generator;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace FastRelay.Tests.Generator;

/// <summary>
/// Run reasons of the tracked steps across edits (the Mapperly style of incremental test): unrelated edits must
/// leave every step and output Cached or Unchanged; a descriptor edit must reach the model.
/// </summary>
public sealed class IncrementalTests
{
    private static readonly string[] TrackedSteps =
    {
        FastRelayGenerator.StepNames.Descriptors,
        FastRelayGenerator.StepNames.Models,
        FastRelayGenerator.StepNames.ProtocolNames,
    };

    private const string DescriptorPath = "/src/Probe.cs";
    private const string OtherPath = "/src/Other.cs";

    private static string ProbeDescriptor(int sequenceOffset = 1, string leading = "") =>
        leading + DiagnosticTests.Descriptor(
            """FastRelayProtocol("probe", UdpPort = 9000, MaxChannels = 4)""",
            "    [Match(0, Value = 0x01)] public byte Kind { get; init; }",
            $"    [PacketNumber({sequenceOffset})] public uint Sequence {{ get; init; }}",
            "    [Channel(12)] public ushort Channel { get; init; }");

    private const string Other = """
        namespace Probes;

        public static class Unrelated
        {
            public static int Answer() => 42;
        }
        """;

    private static (GeneratorRun First, CSharpCompilation Compilation) FirstRun()
    {
        var compilation = GeneratorHarness.CreateCompilation(
            new TestSource(DescriptorPath, ProbeDescriptor()), new TestSource(OtherPath, Other));
        var first = GeneratorHarness.Run(compilation).AssertCompilesCleanly();
        Assert.Single(first.GeneratedSources);
        foreach (var name in TrackedSteps)
            Assert.All(Outputs(first.Result, name), o => Assert.Equal(IncrementalStepRunReason.New, o.Reason));
        return (first, compilation);
    }

    private static SyntaxTree Tree(CSharpCompilation compilation, string path) => compilation.SyntaxTrees.Single(t => t.FilePath == path);

    private static SyntaxTree Parse(string path, string text) => CSharpSyntaxTree.ParseText(text, GeneratorHarness.ParseOptions, path);

    [Fact]
    public void Adding_an_unrelated_file_leaves_every_step_cached()
    {
        var (first, compilation) = FirstRun();
        var second = GeneratorHarness.Run(
            compilation.AddSyntaxTrees(Parse("/src/New.cs", "namespace Probes; public sealed class Added { }")), first.Driver);

        AssertNothingRecomputed(second.Result);
        Assert.Equal(first.GeneratedSources.Single().SourceText.ToString(), second.GeneratedSources.Single().SourceText.ToString());
    }

    [Fact]
    public void Editing_an_unrelated_file_leaves_every_step_cached()
    {
        var (first, compilation) = FirstRun();
        var edited = compilation.ReplaceSyntaxTree(Tree(compilation, OtherPath), Parse(OtherPath, Other.Replace("42", "43") + "\n// edited\n"));
        var second = GeneratorHarness.Run(edited, first.Driver);

        AssertNothingRecomputed(second.Result);

        // And a third run on the same compilation: everything straight from the cache.
        var third = GeneratorHarness.Run(edited, second.Driver);
        AssertNothingRecomputed(third.Result);
    }

    [Fact]
    public void Changing_an_offset_in_the_descriptor_modifies_the_model_and_the_output()
    {
        var (first, compilation) = FirstRun();
        var edited = compilation.ReplaceSyntaxTree(Tree(compilation, DescriptorPath), Parse(DescriptorPath, ProbeDescriptor(sequenceOffset: 2)));
        var second = GeneratorHarness.Run(edited, first.Driver).AssertCompilesCleanly();

        Assert.Contains(Outputs(second.Result, FastRelayGenerator.StepNames.Descriptors), o => o.Reason == IncrementalStepRunReason.Modified);
        var model = Assert.Single(Outputs(second.Result, FastRelayGenerator.StepNames.Models));
        Assert.Equal(IncrementalStepRunReason.Modified, model.Reason);
        Assert.Contains(second.Result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs),
            o => o.Reason == IncrementalStepRunReason.Modified);

        var header = second.CHeader("Probes.ProbeFastPath");
        Assert.Contains("/* Sequence: bytes 2..5, big-endian, translated per subscriber. */", header);
        Assert.NotEqual(first.GeneratedSources.Single().SourceText.ToString(), second.GeneratedSources.Single().SourceText.ToString());
    }

    [Fact]
    public void Moving_the_descriptor_down_a_line_does_not_regenerate()
    {
        // The parse result carries the attribute locations (for diagnostics), the model does not: a trivia edit
        // that moves the descriptor is Modified in the Descriptors step and stops there.
        var (first, compilation) = FirstRun();
        var moved = compilation.ReplaceSyntaxTree(Tree(compilation, DescriptorPath),
            Parse(DescriptorPath, ProbeDescriptor(leading: "// a new first line\n")));
        var second = GeneratorHarness.Run(moved, first.Driver);

        Assert.Contains(Outputs(second.Result, FastRelayGenerator.StepNames.Descriptors), o => o.Reason == IncrementalStepRunReason.Modified);
        Assert.All(Outputs(second.Result, FastRelayGenerator.StepNames.Models), o => AssertReused(o.Reason, "model"));
        Assert.All(second.Result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs), o => AssertReused(o.Reason, "output"));
    }

    private static IEnumerable<(object Value, IncrementalStepRunReason Reason)> Outputs(GeneratorRunResult result, string step)
    {
        Assert.True(result.TrackedSteps.ContainsKey(step),
            $"step {step} was not tracked; tracked: {string.Join(", ", result.TrackedSteps.Keys)}");
        return result.TrackedSteps[step].SelectMany(s => s.Outputs);
    }

    private static void AssertNothingRecomputed(GeneratorRunResult result)
    {
        foreach (var name in TrackedSteps)
        {
            var outputs = Outputs(result, name).ToList();
            Assert.NotEmpty(outputs);
            Assert.All(outputs, o => AssertReused(o.Reason, name));
        }
        Assert.NotEmpty(result.TrackedOutputSteps);
        foreach (var (name, steps) in result.TrackedOutputSteps)
            Assert.All(steps.SelectMany(s => s.Outputs), o => AssertReused(o.Reason, name));
    }

    private static void AssertReused(IncrementalStepRunReason reason, string step) =>
        Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged,
            $"{step}: expected Cached or Unchanged, was {reason}");
}
