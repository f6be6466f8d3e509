using System.Linq;
using Microsoft.CodeAnalysis;

namespace FastRelay.Generator.Model;

/// <summary>A diagnostic as plain, equatable data (descriptor id plus message arguments).</summary>
public sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Arguments)
{
    /// <summary>Creates the diagnostic, anchored in <paramref name="compilation"/>'s syntax tree for the file when it
    /// has one (so #pragma warning disable applies).</summary>
    public Diagnostic ToDiagnostic(Compilation? compilation = null)
    {
        var descriptor = Diagnostics.DescriptorDiagnostics.ById(Id);
        return Diagnostic.Create(descriptor, Location?.ToLocation(compilation), Arguments.Select(a => (object)a).ToArray());
    }
}
