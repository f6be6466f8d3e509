using System.Collections.Immutable;
using FastRelay.Generator;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace FastRelay.Tests.Generator;

/// <summary>A source file fed to the generator: its path (what diagnostics and <c>SourceFile</c> report) and text.</summary>
public sealed record TestSource(string Path, string Text);

/// <summary>What one generator run produced.</summary>
public sealed record GeneratorRun(
    GeneratorDriver Driver,
    CSharpCompilation InputCompilation,
    Compilation OutputCompilation,
    ImmutableArray<GeneratedSourceResult> GeneratedSources,
    ImmutableArray<Diagnostic> GeneratorDiagnostics,
    ImmutableArray<Diagnostic> CompilationDiagnostics)
{
    public GeneratorRunResult Result => Driver.GetRunResult().Results.Single();

    public IEnumerable<Diagnostic> CompilationErrors => CompilationDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error);

    /// <summary>The one generated file whose hint name ends with <paramref name="suffix"/>.</summary>
    public GeneratedSourceResult Source(string suffix)
    {
        var matches = GeneratedSources.Where(s => s.HintName.EndsWith(suffix, StringComparison.Ordinal)).ToList();
        Xunit.Assert.True(matches.Count == 1,
            $"expected one generated source ending with '{suffix}', found: [{string.Join(", ", GeneratedSources.Select(s => s.HintName))}]");
        return matches[0];
    }

    /// <summary>The generated <c>CHeader</c> constant of <paramref name="generatedClass"/> (metadata name), read through
    /// the compiler's constant evaluation, i.e. exactly the text the built assembly carries.</summary>
    public string CHeader(string generatedClass)
    {
        var type = OutputCompilation.GetTypeByMetadataName(generatedClass)
                   ?? throw new Xunit.Sdk.XunitException($"generated type {generatedClass} not found in the output compilation");
        var field = type.GetMembers("CHeader").OfType<IFieldSymbol>().Single();
        Xunit.Assert.True(field.HasConstantValue, "CHeader must be a constant");
        return (string)field.ConstantValue!;
    }

    /// <summary>Fails with every diagnostic listed when the output compilation (descriptor + generated code) has errors,
    /// or when generated code produces warnings.</summary>
    public GeneratorRun AssertCompilesCleanly()
    {
        var generatedTrees = OutputCompilation.SyntaxTrees.Except(InputCompilation.SyntaxTrees).ToHashSet();
        var bad = CompilationDiagnostics
            .Where(d => d.Severity == DiagnosticSeverity.Error
                        || (d.Severity == DiagnosticSeverity.Warning && d.Location.SourceTree is { } tree && generatedTrees.Contains(tree)))
            .ToList();
        Xunit.Assert.True(bad.Count == 0, "generated code does not compile cleanly:\n" + string.Join("\n", bad));
        return this;
    }
}

/// <summary>
/// Compiles test sources against the test process's framework plus FastRelay.Descriptors and FastRelay.Runtime, runs
/// <see cref="FastRelayGenerator"/> through a <see cref="CSharpGeneratorDriver"/> with step tracking on, and returns
/// the generated sources with both kinds of diagnostics.
/// </summary>
public static class GeneratorHarness
{
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    /// <summary>The SDK's implicit usings for a net10.0 library (the bundled protocol projects rely on them).</summary>
    public static readonly TestSource ImplicitUsings = new("ImplicitUsings.g.cs", """
        global using global::System;
        global using global::System.Collections.Generic;
        global using global::System.IO;
        global using global::System.Linq;
        global using global::System.Net.Http;
        global using global::System.Threading;
        global using global::System.Threading.Tasks;
        """);

    private static readonly Lazy<ImmutableArray<MetadataReference>> LazyReferences = new(LoadReferences);

    public static ImmutableArray<MetadataReference> References => LazyReferences.Value;

    public static CSharpCompilation CreateCompilation(params TestSource[] sources) =>
        CSharpCompilation.Create(
            "FastRelay.GeneratorTests.Input",
            sources.Select(s => CSharpSyntaxTree.ParseText(SourceText.From(s.Text, System.Text.Encoding.UTF8), ParseOptions, s.Path)),
            References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary,
                allowUnsafe: true,
                nullableContextOptions: NullableContextOptions.Enable,
                deterministic: true));

    public static GeneratorDriver CreateDriver() =>
        CSharpGeneratorDriver.Create(
            new ISourceGenerator[] { new FastRelayGenerator().AsSourceGenerator() },
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    public static GeneratorRun Run(params TestSource[] sources) => Run(CreateCompilation(sources));

    public static GeneratorRun Run(CSharpCompilation compilation, GeneratorDriver? driver = null)
    {
        driver = (driver ?? CreateDriver()).RunGeneratorsAndUpdateCompilation(compilation, out var output, out var generatorDiagnostics);
        var result = driver.GetRunResult().Results.Single();
        Xunit.Assert.True(result.Exception is null, "the generator threw: " + result.Exception);
        return new GeneratorRun(driver, compilation, output, result.GeneratedSources, generatorDiagnostics, output.GetDiagnostics());
    }

    /// <summary>The test process's trusted platform assemblies plus FastRelay.Descriptors and FastRelay.Runtime (as a
    /// relay's protocol project references them: the generated code includes the typed maps). The test process also loads the
    /// bundled protocol assemblies (through the CLI reference), whose generated <c>*FastPath</c> classes would clash
    /// with the ones under test (CS0436), so every other FastRelay.* assembly is left out.</summary>
    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        var fastRelay = new[] { typeof(FastRelay.Descriptors.FastRelayProtocolAttribute).Assembly.Location, typeof(FastRelay.Bpf.BpfObject).Assembly.Location };
        var paths = ((string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(p => p != typeof(GeneratorHarness).Assembly.Location)
            .Where(p => !Path.GetFileName(p).StartsWith("FastRelay.", StringComparison.OrdinalIgnoreCase)
                        && !Path.GetFileName(p).Equals("fastrelay.dll", StringComparison.OrdinalIgnoreCase))
            .Concat(fastRelay)
            .Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .GroupBy(p => Path.GetFileName(p), StringComparer.OrdinalIgnoreCase) // one per simple name
            .Select(g => g.First());
        return paths.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToImmutableArray();
    }
}

/// <summary>Source text with one marked span, <c>{|</c> … <c>|}</c>: the span a diagnostic must point at.</summary>
public sealed record MarkedSource(string Text, TextSpan Span, LinePositionSpan LineSpan)
{
    public static MarkedSource Parse(string markup)
    {
        var start = markup.IndexOf("{|", StringComparison.Ordinal);
        var end = markup.IndexOf("|}", StringComparison.Ordinal);
        if (start < 0 || end < start || markup.IndexOf("{|", start + 2, StringComparison.Ordinal) >= 0)
            throw new ArgumentException("markup needs exactly one {| ... |} span", nameof(markup));
        var text = markup.Remove(end, 2).Remove(start, 2);
        var span = TextSpan.FromBounds(start, end - 2);
        var lineSpan = SourceText.From(text).Lines.GetLinePositionSpan(span);
        return new MarkedSource(text, span, lineSpan);
    }
}

/// <summary>The repository checkout the tests run from.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    /// <summary>The directory holding Toolkit.sln, found by walking up from the test binaries.</summary>
    public static string Root => LazyRoot.Value;

    public static string Combine(params string[] parts) => Path.Combine(new[] { Root }.Concat(parts).ToArray());

    private static string FindRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.GetEnvironmentVariable("FASTRELAY_REPO_ROOT") })
        {
            for (var dir = start is null ? null : new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Toolkit.sln")))
                    return dir.FullName;
        }
        throw new InvalidOperationException($"no Toolkit.sln above {AppContext.BaseDirectory}; set FASTRELAY_REPO_ROOT");
    }
}
