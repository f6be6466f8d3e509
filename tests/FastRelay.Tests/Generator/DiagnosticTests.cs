using FastRelay.Generator.Diagnostics;
using Microsoft.CodeAnalysis;
using Xunit;

namespace FastRelay.Tests.Generator;

/// <summary>
/// One minimal descriptor per diagnostic FR0001..FR0017 and FR0020..FR0022 (FR0018 and FR0019: KernelCacheSizeDiagnosticTests). The span marked <c>{| |}</c> is the attribute the diagnostic
/// must point at. A descriptor with an error must not generate code; a warning still generates.
/// </summary>
public sealed class DiagnosticTests
{
    private const string Path = "/src/Probe.cs";

    private const string Protocol = """FastRelayProtocol("probe", UdpPort = 9000)""";
    private const string MatchKind = """    [Match(0, Value = 0x01)] public byte Kind { get; init; }""";
    private const string Sequence = """    [PacketNumber(1)] public uint Sequence { get; init; }""";
    private const string Stream = """    [StreamId(5, Width = 2)] public ushort Stream { get; init; }""";
    private const string Offset = """    [StreamOffset(7, Width = 8)] public ulong Offset { get; init; }""";
    private const string Data = """    [Payload(15)] public ReadOnlyMemory<byte> Data { get; init; }""";

    /// <summary>A descriptor record: the protocol attribute (without brackets, may be marked) and member lines.</summary>
    public static string Descriptor(string protocolAttribute, params string[] members) =>
        "using System;\n"
        + "using FastRelay.Descriptors;\n"
        + "\n"
        + "namespace Probes;\n"
        + "\n"
        + "[" + protocolAttribute + "]\n"
        + "public sealed partial record Probe\n"
        + "{\n"
        + string.Join("\n", members) + "\n"
        + "}\n";

    private static string Marked(string attribute) => "{|" + attribute + "|}";

    /// <summary>id, markup, a fragment the message must contain, other diagnostic ids the case also produces.</summary>
    public static TheoryData<string, string, string, string[]> Cases => new()
    {
        { "FR0001", Descriptor(Marked("""FastRelayProtocol("1bad", UdpPort = 9000)"""), MatchKind, Sequence), "'1bad'", [] },
        { "FR0001", Descriptor(Marked("""FastRelayProtocol("has-dash", UdpPort = 9000)"""), MatchKind, Sequence), "'has-dash'", [] },
        { "FR0001", Descriptor(Marked("""FastRelayProtocol("p23456789012345678901234567890123", UdpPort = 9000)"""), MatchKind, Sequence), "at most 32", [] },
        { "FR0002", Descriptor(Marked("""FastRelayProtocol("probe")"""), MatchKind, Sequence), "UdpPort = 0", [] },
        { "FR0002", Descriptor(Marked("""FastRelayProtocol("probe", UdpPort = 9000, MaxSubscribers = 257)"""), MatchKind, Sequence), "MaxSubscribers = 257", [] },
        { "FR0002", Descriptor(Marked("""FastRelayProtocol("probe", UdpPort = 9000, MaxChannels = 0)"""), MatchKind, Sequence), "MaxChannels = 0", [] },
        { "FR0002", Descriptor(Marked("""FastRelayProtocol("probe", UdpPort = 9000, KernelCachePackets = 1000)"""), MatchKind, Sequence), "KernelCachePackets = 1000", [] },
        { "FR0002", Descriptor(Marked("""FastRelayProtocol("probe", UdpPort = 9000, KernelCachePackets = 131072)"""), MatchKind, Sequence), "power of two up to 65536", [] },
        { "FR0003", Descriptor(Protocol, MatchKind, $"    [{Marked("PacketNumber(1, Width = 3)")}] public uint Sequence {{ get; init; }}"), "width 3", [] },
        { "FR0003", Descriptor(Protocol, MatchKind, Sequence, $"    [{Marked("ConnectionId(5, 21)")}] public byte[] Cid {{ get; init; }} = [];"), "width 21", [] },
        { "FR0003", Descriptor(Protocol, MatchKind, Sequence, $"    [{Marked("ConnectionId(5, 0)")}] public ReadOnlyMemory<byte> Cid {{ get; init; }}"), "width 0", [] },
        { "FR0004", Descriptor(Protocol, MatchKind, $"    [{Marked("PacketNumber(1, Width = 8)")}] public uint Sequence {{ get; init; }}"), "type 'uint' holds only 4", [] },
        { "FR0005", Descriptor(Protocol, MatchKind, $"    [{Marked("PacketNumber(61)")}] public uint Sequence {{ get; init; }}"), "reaches byte 65 of the UDP payload", [] },
        { "FR0005", Descriptor(Protocol, MatchKind, Sequence, $"    [{Marked("Payload(65)")}] public ReadOnlyMemory<byte> Payload {{ get; init; }}"), "first 64 bytes", [] },
        { "FR0006", Descriptor(Protocol, MatchKind, Sequence, $"    [{Marked("StreamId(3)")}] public ushort Stream {{ get; init; }}"), "'Stream' (bytes 3..4) overlaps PacketNumber field 'Sequence' (bytes 1..4)", [] },
        { "FR0006", Descriptor(Protocol, MatchKind, Sequence, "    [ConnectionId(5, 4)] public byte[] Cid { get; init; } = [];", $"    [{Marked("Match(6, Value = 1)")}] public byte Flag {{ get; init; }}"), "rewrites ConnectionId", [] },
        { "FR0007", Descriptor(Protocol, MatchKind, Sequence, $"    [{Marked("PacketNumber(5)")}] public uint Again {{ get; init; }}"), "'Again' repeats it (first on 'Sequence')", [] },
        { "FR0008", Descriptor(Marked("""FastRelayProtocol("probe", UdpPort = 9000, MaxChannels = 4)"""), MatchKind, Sequence), "MaxChannels = 4 needs a [Channel] field", [] },
        { "FR0008", Descriptor(Marked("""FastRelayProtocol("probe", UdpPort = 9000, PriorityDrop = true)"""), MatchKind, Sequence), "PriorityDrop needs a [Priority] field", [] },
        { "FR0008", Descriptor(Marked("""FastRelayProtocol("probe", UdpPort = 9000, KernelCachePackets = 64)"""), MatchKind), "KernelCachePackets = 64 needs a [PacketNumber] field", [] },
        { "FR0008", Descriptor(Marked("""FastRelayProtocol("probe", UdpPort = 9000, EncryptedSubscribers = true)"""), MatchKind,
            "    [PacketNumber(1, Translate = false)] public uint Sequence { get; init; }"),
            "EncryptedSubscribers needs a [PacketNumber(Translate = true)] field", [] },
        { "FR0009", Descriptor(Protocol, MatchKind, Sequence, $"    [{Marked("Priority(5, FirstBit = 6, Bits = 3)")}] public byte Urgency {{ get; init; }}"), "bits 6..8", [] },
        { "FR0009", Descriptor(Protocol, MatchKind, Sequence, $"    [{Marked("Priority(5, Bits = 0)")}] public byte Urgency {{ get; init; }}"), "'Urgency'", [] },
        { "FR0010", Descriptor(Protocol, $"    [{Marked("Match(0, Mask = 0xF0, Value = 0x0F)")}] public byte Kind {{ get; init; }}", Sequence), "value 0xF", [] },
        { "FR0010", Descriptor(Protocol, $"    [{Marked("Match(0, Value = 0x100)")}] public byte Kind {{ get; init; }}", Sequence), "field's 1 bytes", [] },
        { "FR0011", Descriptor(Protocol, MatchKind, $"    [{Marked("PacketNumber(1)")}] public uint Sequence {{ get; init; }}", "    [Payload(3)] public ReadOnlyMemory<byte> Payload { get; init; }"), "ends at byte 5, after the payload start 3", [] },
        { "FR0012", Descriptor(Marked(Protocol), Sequence), "port 9000", [] },
        { "FR0013", Descriptor(Protocol, MatchKind, $"    [{Marked("PacketNumber(1)")}] public string Sequence {{ get; init; }} = \"\";"), "type 'string'", [] },
        { "FR0013", Descriptor(Protocol, MatchKind, Sequence, $"    [{Marked("ConnectionId(5, 4)")}] public ulong Cid {{ get; init; }}"), "byte[] or ReadOnlyMemory<byte>", [] },
        { "FR0013", Descriptor(Protocol, MatchKind, Sequence, $"    [{Marked("Priority(5)")}] public string Urgency {{ get; init; }} = \"\";"), "'Urgency'", [] },
        { "FR0014", Descriptor(Protocol, MatchKind, $"    [{Marked("PacketNumber(-1)")}] public uint Sequence {{ get; init; }}"), "offset -1", [] },
        { "FR0016", "using FastRelay.Descriptors;\nnamespace Probes;\npublic static class Outer\n{\n    [" + Marked("""FastRelayProtocol("probe", UdpPort = 9000)""") + "]\n    public sealed record Probe { [Match(0, Value = 1)] public byte Kind { get; init; } }\n}\n", "nested in 'Probes.Outer'", [] },
        { "FR0017", Descriptor(Protocol, MatchKind, Sequence, $"    [{Marked("ConnectionId(5, 4, Width = 8)")}] public byte[] Cid {{ get; init; }} = [];"), "second argument", [] },
        { "FR0017", Descriptor(Protocol, MatchKind, Sequence, $"    [{Marked("Priority(5, Width = 2)")}] public ushort Urgency {{ get; init; }}"), "Width must be 1", [] },
        // Stream data flow control, FIN and channel lookup (the QUIC/MoQ fast path's descriptor features).
        { "FR0002", Descriptor(Marked("""FastRelayProtocol("probe", UdpPort = 9000, ChannelLookupEntries = 0)"""), MatchKind, Sequence,
            "    [StreamId(5, Width = 2, ChannelKey = true)] public ushort Stream { get; init; }"), "ChannelLookupEntries = 0", [] },
        { "FR0002", Descriptor(Protocol, MatchKind, Sequence, Stream, Offset, Data, $"    [{Marked("FinFlag(0, Mask = 0)")}] public byte Final {{ get; init; }}"),
            "FinFlag Mask = 0", [] },
        { "FR0008", Descriptor(Protocol, MatchKind, Sequence, Stream, $"    [{Marked("StreamOffset(7, Width = 8)")}] public ulong Offset {{ get; init; }}"),
            "StreamOffset 'Offset' needs a [Payload] field", [] },
        { "FR0008", Descriptor(Protocol, MatchKind, Sequence, "    [StreamId(5, Width = 2, Translate = false)] public ushort Stream { get; init; }",
            $"    [{Marked("StreamOffset(7, Width = 8)")}] public ulong Offset {{ get; init; }}", Data), "needs a [StreamId(Translate = true)] field", [] },
        { "FR0008", Descriptor(Protocol, MatchKind, Sequence, Stream, $"    [{Marked("FinFlag(0)")}] public byte Final {{ get; init; }}"),
            "FinFlag 'Final' needs a [StreamOffset] field", [] },
        { "FR0017", Descriptor(Protocol, MatchKind, $"    [{Marked("PacketNumber(1, ChannelKey = true)")}] public uint Sequence {{ get; init; }}"),
            "ChannelKey applies only to ConnectionId and StreamId", [] },
        { "FR0017", Descriptor(Protocol, MatchKind, Sequence, Stream, Offset, Data, $"    [{Marked("FinFlag(0, Width = 2)")}] public ushort Final {{ get; init; }}"),
            "Width must be 1: the flag bits", [] },
        { "FR0020", Descriptor(Protocol, MatchKind, Sequence, "    [Channel(15)] public byte Channel { get; init; }",
            $"    [{Marked("StreamId(5, Width = 2, ChannelKey = true)")}] public ushort Stream {{ get; init; }}"), "'Channel' and channel key field 'Stream'", [] },
        // A sequence that advances by a message count (MoldUDP64): renumbering it per datagram, or caching it by number mod N, is refused.
        { "FR0021", Descriptor(Protocol, MatchKind, $"    [{Marked("PacketNumber(1)")}] public uint Sequence {{ get; init; }}", "    [MessageCount(5)] public ushort Count { get; init; }"),
            "advances by MessageCount 'Count' per datagram", [] },
        { "FR0022", Descriptor(Marked("""FastRelayProtocol("probe", UdpPort = 9000, KernelCachePackets = 64)"""), MatchKind,
            "    [PacketNumber(1, Translate = false)] public uint Sequence { get; init; }", "    [MessageCount(5)] public ushort Count { get; init; }"),
            "slot (packet number mod 64)", [] },
        { "FR0008", Descriptor(Protocol, MatchKind, $"    [{Marked("MessageCount(5)")}] public ushort Count {{ get; init; }}"), "MessageCount 'Count' needs a [PacketNumber] field", [] },
    };

    public static readonly IReadOnlyDictionary<string, DiagnosticSeverity> ExpectedSeverity =
        DescriptorDiagnostics.All.ToDictionary(d => d.Id, d => d.Id is "FR0012" or "FR0019" ? DiagnosticSeverity.Warning : DiagnosticSeverity.Error);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Diagnostic_points_at_the_offending_attribute(string id, string markup, string messageFragment, string[] alsoExpected)
    {
        var source = MarkedSource.Parse(markup);
        var run = GeneratorHarness.Run(new TestSource(Path, source.Text));

        // The test descriptor itself is valid C#: every problem is the generator's to report.
        Assert.Empty(run.InputCompilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        Assert.Empty(run.CompilationErrors);

        Assert.Equal(new[] { id }.Concat(alsoExpected).Order(), run.GeneratorDiagnostics.Select(d => d.Id).Order());
        var diagnostic = run.GeneratorDiagnostics.Single(d => d.Id == id);
        Assert.Equal(ExpectedSeverity[id], diagnostic.Severity);
        Assert.Same(DescriptorDiagnostics.ById(id), diagnostic.Descriptor);

        var where = diagnostic.Location.GetLineSpan();
        Assert.Equal(Path, where.Path);
        Assert.Equal(source.Span, diagnostic.Location.SourceSpan);
        Assert.Equal(source.LineSpan.Start, where.StartLinePosition); // line/column of the attribute
        Assert.Equal(source.LineSpan.End, where.EndLinePosition);

        var message = diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains(messageFragment, message);
        Assert.DoesNotContain("{", message);

        if (diagnostic.Severity == DiagnosticSeverity.Error)
            Assert.Empty(run.GeneratedSources);
        else
            run.AssertCompilesCleanly().Source(".ProbeFastPath.g.cs");
    }

    [Fact]
    public void Duplicate_protocol_name_is_reported_on_the_later_descriptor()
    {
        var source = MarkedSource.Parse("""
            using FastRelay.Descriptors;

            namespace Probes;

            [FastRelayProtocol("same", UdpPort = 9000)]
            public sealed partial record Alpha
            {
                [Match(0, Value = 1)] public byte Kind { get; init; }
            }

            [{|FastRelayProtocol("same", UdpPort = 9001)|}]
            public sealed partial record Beta
            {
                [Match(0, Value = 2)] public byte Kind { get; init; }
            }
            """);
        var run = GeneratorHarness.Run(new TestSource(Path, source.Text));

        var diagnostic = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("FR0015", diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Equal(source.Span, diagnostic.Location.SourceSpan);
        Assert.Equal(source.LineSpan, diagnostic.Location.GetLineSpan().Span);
        Assert.Equal("Protocol name 'same' is already used by 'Probes.Alpha'; generated files would overwrite each other",
            diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        // The first user of the name keeps its code. The duplicate currently generates code too (the Models step does
        // not look at names; the build fails on the FR0015 error anyway), so only the first is asserted here.
        Assert.Contains("Probes.AlphaFastPath.g.cs", run.GeneratedSources.Select(s => s.HintName));
    }

    [Fact]
    public void Valid_descriptor_produces_no_diagnostics_and_compiling_code()
    {
        var run = GeneratorHarness.Run(new TestSource(Path, Descriptor(Protocol, MatchKind, Sequence)));

        Assert.Empty(run.GeneratorDiagnostics);
        run.AssertCompilesCleanly();
        Assert.Empty(run.CompilationDiagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning));
        Assert.Equal("Probes.ProbeFastPath.g.cs", Assert.Single(run.GeneratedSources).HintName);
    }

    [Fact]
    public void A_broken_descriptor_does_not_stop_a_valid_one_in_the_same_compilation()
    {
        var broken = Descriptor("""FastRelayProtocol("broken", UdpPort = 9000)""", MatchKind, "    [PacketNumber(-4)] public uint Sequence { get; init; }")
            .Replace("record Probe", "record Broken");
        var run = GeneratorHarness.Run(
            new TestSource("/src/Broken.cs", broken),
            new TestSource(Path, Descriptor(Protocol, MatchKind, Sequence)));

        Assert.Equal("FR0014", Assert.Single(run.GeneratorDiagnostics).Id);
        Assert.Equal("Probes.ProbeFastPath.g.cs", Assert.Single(run.GeneratedSources).HintName);
    }

    [Fact]
    public void Nested_descriptors_are_refused_without_crashing_the_generator()
    {
        var run = GeneratorHarness.Run(new TestSource(Path, """
            using FastRelay.Descriptors;

            namespace Probes;

            public static partial class A
            {
                [FastRelayProtocol("a", UdpPort = 9000)]
                public sealed partial record Header { [Match(0, Value = 1)] public byte Kind { get; init; } }
            }

            public static partial class B
            {
                [FastRelayProtocol("b", UdpPort = 9001)]
                public sealed partial record Header { [Match(0, Value = 1)] public byte Kind { get; init; } }
            }
            """));
        // Both get FR0016 (the generated class would sit beside them in the namespace, where the names collide);
        // nothing is emitted, and in particular the generator does not throw (which would drop all its output).
        Assert.Equal(new[] { "FR0016", "FR0016" }, run.GeneratorDiagnostics.Select(d => d.Id));
        Assert.Empty(run.GeneratedSources);
    }

    [Fact]
    public void Diagnostics_are_anchored_in_the_compilation_so_pragma_can_suppress_them()
    {
        var source = "#pragma warning disable FR0012\n" + Descriptor(Protocol, Sequence);
        var run = GeneratorHarness.Run(new TestSource(Path, source));

        var diagnostic = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("FR0012", diagnostic.Id);
        // The compiler applies #pragma only to diagnostics located in one of the compilation's own syntax trees
        // (dotnet/roslyn#68291); a location built from a file path alone is never suppressed.
        Assert.True(diagnostic.Location.IsInSource, "the diagnostic must be anchored in the compilation's syntax tree");
        Assert.Same(run.InputCompilation.SyntaxTrees.Single(t => t.FilePath == Path), diagnostic.Location.SourceTree);
    }

    [Fact]
    public void Every_diagnostic_has_a_test_case()
    {
        // FR0015 and the kernel cache size (FR0018, FR0019) have tests of their own (KernelCacheSizeDiagnosticTests).
        var covered = Cases.Select(row => (string)row[0]).Concat(["FR0015", "FR0018", "FR0019"]).ToHashSet();
        var all = DescriptorDiagnostics.All.Select(d => d.Id).ToList();
        Assert.Equal(Enumerable.Range(1, 22).Select(i => $"FR{i:0000}"), all);
        Assert.Empty(all.Except(covered));
        foreach (var descriptor in DescriptorDiagnostics.All)
        {
            Assert.Equal(ExpectedSeverity[descriptor.Id], descriptor.DefaultSeverity);
            Assert.True(descriptor.IsEnabledByDefault);
        }
    }
}
