using System.Reflection;
using FastRelay.Generator;
using FastRelay.Generator.Model;
using Microsoft.CodeAnalysis;
using Xunit;

namespace FastRelay.Tests.Generator;

/// <summary>
/// Whatever the incremental pipeline caches must be plain data: a symbol, syntax node, compilation, location or
/// semantic model in a cached value keeps a whole compilation alive and defeats equality (the System.Text.Json
/// generator has the same test). Walks both the values the tracked steps produced and the declared types.
/// </summary>
public sealed class ModelGraphTests
{
    private static readonly Type[] Forbidden =
    {
        typeof(ISymbol), typeof(SyntaxNode), typeof(SyntaxTree), typeof(SyntaxToken), typeof(SyntaxReference),
        typeof(Compilation), typeof(Location), typeof(SemanticModel), typeof(AttributeData), typeof(TypedConstant),
    };

    private static bool IsForbidden(Type type) => Forbidden.Any(f => f.IsAssignableFrom(type));

    private static IEnumerable<object> TrackedValues(GeneratorRun run, string step) =>
        run.Result.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Value);

    private static GeneratorRun RunBundled() =>
        GeneratorHarness.Run(
            BundledDescriptorTests.ReadDescriptor("protocols/custom-udp/CustomUdpHeader.cs"),
            BundledDescriptorTests.ReadDescriptor("protocols/quic/QuicMoqHeader.cs"),
            new TestSource("/src/Third.cs", ThirdDescriptorTests.Source),
            GeneratorHarness.ImplicitUsings).AssertCompilesCleanly();

    [Fact]
    public void Models_reach_no_symbols_syntax_or_locations()
    {
        var run = RunBundled();
        var models = TrackedValues(run, FastRelayGenerator.StepNames.Models).ToList();
        Assert.Equal(3, models.Count);
        Assert.All(models, m => Assert.IsType<ProtocolModel>(m));
        foreach (var model in models)
            AssertPlainData(model, $"ProtocolModel({((ProtocolModel)model).Name})");
    }

    [Fact]
    public void Every_tracked_step_output_is_plain_data()
    {
        var run = RunBundled();
        foreach (var step in new[] { FastRelayGenerator.StepNames.Descriptors, FastRelayGenerator.StepNames.Models, FastRelayGenerator.StepNames.ProtocolNames })
        {
            var values = TrackedValues(run, step).ToList();
            Assert.NotEmpty(values);
            foreach (var value in values)
                AssertPlainData(value, step);
        }
    }

    [Fact]
    public void Diagnostics_carried_by_the_parse_step_are_plain_data()
    {
        // A descriptor with errors: its ParseResult carries DiagnosticInfo values (id, LocationInfo, arguments).
        var run = GeneratorHarness.Run(new TestSource("/src/Probe.cs", DiagnosticTests.Descriptor(
            """FastRelayProtocol("probe", UdpPort = 0, PriorityDrop = true)""",
            "    [Match(0, Value = 0x100)] public byte Kind { get; init; }",
            "    [PacketNumber(-1)] public uint Sequence { get; init; }")));
        var result = Assert.IsType<ParseResult>(Assert.Single(TrackedValues(run, FastRelayGenerator.StepNames.Descriptors)));
        Assert.True(result.HasErrors);
        Assert.True(result.Diagnostics.Count >= 4);
        AssertPlainData(result, "ParseResult");
    }

    [Fact]
    public void Declared_model_types_cannot_hold_symbols()
    {
        // Static check over declared field types, so a nullable member that happens to be null in the samples above
        // (or an object-typed member) is caught too.
        var seen = new HashSet<Type>();
        foreach (var root in new[] { typeof(ProtocolModel), typeof(ParseResult), typeof(EquatableArray<DiagnosticInfo>) })
            CheckType(root, root.Name, seen);
        Assert.Contains(typeof(FieldSpec), seen);
        Assert.Contains(typeof(SharedStruct), seen);
        Assert.Contains(typeof(SharedMember), seen);
        Assert.Contains(typeof(LocationInfo), seen);
    }

    [Fact]
    public void The_walker_finds_a_symbol_when_there_is_one()
    {
        var compilation = GeneratorHarness.CreateCompilation(new TestSource("/src/X.cs", "class X { }"));
        var holder = new { Items = new List<object> { 1, new[] { (object)compilation.GetTypeByMetadataName("X")! } } };
        var error = Assert.ThrowsAny<Exception>(() => AssertPlainData(holder, "holder"));
        Assert.Contains("holder.Items", error.Message);
        Assert.Contains("ISymbol", error.Message);
    }

    /// <summary>Walks every instance field (public or not) of every reachable object, entering arrays and
    /// collections; fails with the path to the first forbidden object.</summary>
    private static void AssertPlainData(object root, string rootName)
    {
        var visited = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<(object Value, string Path)>();
        pending.Push((root, rootName));
        while (pending.Count > 0)
        {
            var (value, path) = pending.Pop();
            var type = value.GetType();
            if (IsForbidden(type))
                throw new Xunit.Sdk.XunitException(
                    $"{path} is a {type.FullName} ({string.Join(", ", Forbidden.Where(f => f.IsAssignableFrom(type)).Select(f => f.Name))}): models must be plain data");
            if (type.IsPrimitive || type.IsEnum || value is string or decimal)
                continue;
            if (!type.IsValueType && !visited.Add(value))
                continue;
            if (value is Array items) // other collections are walked through their fields (a default ImmutableArray cannot be enumerated)
            {
                var index = 0;
                foreach (var item in items)
                {
                    if (item is not null)
                        pending.Push((item, $"{path}[{index}]"));
                    index++;
                }
            }
            for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
            foreach (var field in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                if (field.GetValue(value) is { } child)
                    pending.Push((child, $"{path}.{MemberName(field)}"));
            }
        }
    }

    private static string MemberName(FieldInfo field) =>
        field.Name.StartsWith('<') && field.Name.IndexOf('>') > 1 ? field.Name[1..field.Name.IndexOf('>')] : field.Name;

    private static void CheckType(Type type, string path, HashSet<Type> seen)
    {
        if (IsForbidden(type))
            throw new Xunit.Sdk.XunitException($"{path} is declared as {type.FullName}");
        if (type.IsPrimitive || type.IsEnum || type == typeof(string) || !seen.Add(type))
            return;
        Assert.False(type == typeof(object), $"{path} is declared as object: it could hold anything");
        if (type.IsArray)
        {
            CheckType(type.GetElementType()!, path + "[]", seen);
            return;
        }
        foreach (var argument in type.IsGenericType ? type.GetGenericArguments() : Type.EmptyTypes)
            CheckType(argument, $"{path}<{argument.Name}>", seen);
        // Framework and Roslyn value types (ImmutableArray, TextSpan, LinePositionSpan...) are entered through their
        // generic arguments only; the generator's own types are checked field by field.
        if (type.Assembly != typeof(FastRelayGenerator).Assembly)
            return;
        foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
            CheckType(field.FieldType, $"{path}.{MemberName(field)}", seen);
    }
}
