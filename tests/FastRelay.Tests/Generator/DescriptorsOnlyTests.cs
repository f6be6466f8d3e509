using Microsoft.CodeAnalysis;
using Xunit;

namespace FastRelay.Tests.Generator;

/// <summary>
/// A protocol project may reference only FastRelay.Descriptors (the small package): the generated code then has the
/// constants, the C header, the protocol record `fastrelay gen` reads, the struct mirrors and the event reader, and
/// compiles; the typed map accessors wrap the runtime's BpfObject, so they appear exactly when FastRelay.Runtime is
/// referenced too.
/// </summary>
public sealed class DescriptorsOnlyTests
{
    private static readonly TestSource Descriptor = new("ProbeHeader.cs", """
        using FastRelay.Descriptors;

        namespace Probes;

        [FastRelayProtocol("descriptors_only", UdpPort = 9400, MaxSubscribers = 4, MaxChannels = 2)]
        public sealed record ProbeHeader
        {
            [Match(0, Value = 0x5A)]
            public byte Magic { get; init; }

            [Channel(1)]
            public byte Channel { get; init; }

            [PacketNumber(2)]
            public uint Sequence { get; init; }
        }
        """);

    private const string Holder = "Probes.ProbeHeaderFastPath";

    [Fact]
    public void Without_the_runtime_the_generated_code_compiles_and_only_the_map_accessors_are_left_out()
    {
        var full = GeneratorHarness.CreateCompilation(GeneratorHarness.ImplicitUsings, Descriptor);
        var runtime = full.References.Single(r => Path.GetFileName(r.Display) == "FastRelay.Runtime.dll");
        var compilation = full.RemoveReferences(runtime);
        Assert.Null(compilation.GetTypeByMetadataName("FastRelay.Bpf.BpfObject"));

        var run = GeneratorHarness.Run(compilation).AssertCompilesCleanly();

        Assert.Null(run.OutputCompilation.GetTypeByMetadataName(Holder + "+Maps"));
        Assert.NotNull(run.OutputCompilation.GetTypeByMetadataName(Holder + "+Event"));
        Assert.NotNull(run.OutputCompilation.GetTypeByMetadataName(Holder + "+EventReader"));
        GeneratedAssemblies.WithLoaded(run, Holder, holder =>
        {
            var protocol = GeneratedAssemblies.Protocol(holder);
            Assert.Equal("descriptors_only", protocol.Name);
            Assert.Contains("#define", protocol.CHeader);
            Assert.Contains(protocol.Maps, m => m.Name == "fr_subscribers");
        });
    }

    [Fact]
    public void With_the_runtime_the_typed_map_accessors_are_generated()
    {
        var run = GeneratorHarness.Run(GeneratorHarness.ImplicitUsings, Descriptor).AssertCompilesCleanly();

        var maps = run.OutputCompilation.GetTypeByMetadataName(Holder + "+Maps");
        Assert.NotNull(maps);
        var constructor = Assert.Single(maps.InstanceConstructors);
        Assert.Equal("FastRelay.Bpf.BpfObject", constructor.Parameters.Single().Type.ToDisplayString());
    }
}
