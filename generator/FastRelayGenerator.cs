using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using FastRelay.Generator.Diagnostics;
using FastRelay.Generator.Emit;
using FastRelay.Generator.Model;
using FastRelay.Generator.Parsing;
using Microsoft.CodeAnalysis;

namespace FastRelay.Generator;

/// <summary>
/// descriptor (attributed C# type) → <see cref="ParseResult"/> → <see cref="ProtocolModel"/> → C header + C# mirrors.
/// Step names are public so tests can assert that unrelated edits leave every step cached.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class FastRelayGenerator : IIncrementalGenerator
{
    public static class StepNames
    {
        public const string Descriptors = "FastRelay.Descriptors";
        public const string Models = "FastRelay.Models";
        public const string ProtocolNames = "FastRelay.ProtocolNames";
    }

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var parsed = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                DescriptorParser.ProtocolAttributeName,
                predicate: static (node, _) => node is Microsoft.CodeAnalysis.CSharp.Syntax.TypeDeclarationSyntax,
                transform: DescriptorParser.Parse)
            .WithTrackingName(StepNames.Descriptors);

        // Diagnostics are re-anchored to the compilation's own syntax trees when reported: a location that is not tied
        // to a tree cannot be suppressed with #pragma (dotnet/roslyn#68291). Only descriptors that have diagnostics
        // flow into this step, so valid descriptors never re-run it on unrelated edits.
        var diagnostics = parsed
            .Where(static r => r.Diagnostics.Count > 0)
            .Select(static (r, _) => r.Diagnostics)
            .Combine(context.CompilationProvider);
        context.RegisterSourceOutput(diagnostics, static (spc, pair) =>
        {
            foreach (var diagnostic in pair.Left)
                spc.ReportDiagnostic(diagnostic.ToDiagnostic(pair.Right));
        });

        var models = parsed
            .Where(static r => r.Spec is not null && !r.HasErrors)
            .Select(static (r, _) => ModelBuilder.Build(r.Spec!))
            .WithTrackingName(StepNames.Models);

        // The typed map accessors wrap the runtime's BpfObject: a protocol project that references only
        // FastRelay.Descriptors gets everything else, and gets them too once it references FastRelay.Runtime. A bool, so
        // the per-edit re-evaluation of the compilation leaves the models' output cached.
        var hasRuntime = context.CompilationProvider
            .Select(static (compilation, _) => compilation.GetTypeByMetadataName(CSharpEmitter.BpfObjectTypeName) is not null);
        context.RegisterSourceOutput(models.Combine(hasRuntime), static (spc, pair) =>
        {
            var (model, withMaps) = pair;
            var header = CHeaderEmitter.Emit(model);
            var hint = (model.Namespace.Length > 0 ? model.Namespace + "." : "") + model.GeneratedClassName + ".g.cs";
            spc.AddSource(hint, CSharpEmitter.Emit(model, header, withMaps));
        });

        // Two descriptors with one protocol name would write the same files; report the later ones.
        var names = parsed
            .Where(static r => r.Spec is not null)
            .Select(static (r, _) => new ProtocolNameUse(r.Spec!.ProtocolName, r.Spec.FullTypeName, r.Spec.Location))
            .Collect()
            .Select(static (uses, _) => FindDuplicateNames(uses))
            .WithTrackingName(StepNames.ProtocolNames);
        // Always an error, so it needs no #pragma support and no compilation (which would re-run it on every edit).
        context.RegisterSourceOutput(names, static (spc, duplicates) =>
        {
            foreach (var diagnostic in duplicates)
                spc.ReportDiagnostic(diagnostic.ToDiagnostic());
        });
    }

    private static EquatableArray<DiagnosticInfo> FindDuplicateNames(ImmutableArray<ProtocolNameUse> uses)
    {
        var seen = new Dictionary<string, ProtocolNameUse>();
        var result = new List<DiagnosticInfo>();
        foreach (var use in uses.OrderBy(u => u.TypeName, System.StringComparer.Ordinal))
        {
            if (seen.TryGetValue(use.Name, out var first))
                result.Add(DescriptorParser.Diagnostic(DescriptorDiagnostics.DuplicateProtocolName, use.Location, use.Name, first.TypeName));
            else
                seen[use.Name] = use;
        }
        return result.ToEquatableArray();
    }

    private sealed record ProtocolNameUse(string Name, string TypeName, LocationInfo? Location);
}
