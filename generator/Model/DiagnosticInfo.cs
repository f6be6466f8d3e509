using Microsoft.CodeAnalysis;

namespace FastRelay.Generator.Model;

/// <summary>A diagnostic as plain, equatable data (descriptor id plus message arguments).</summary>
public sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Arguments)
{
    public Diagnostic ToDiagnostic()
    {
        var descriptor = Diagnostics.DescriptorDiagnostics.ById(Id);
        return Diagnostic.Create(descriptor, Location?.ToLocation(), Arguments.ToArray<object>());
    }
}

internal static class EnumerableExtensions
{
    public static TOut[] ToArray<TOut>(this EquatableArray<string> items)
    {
        var result = new TOut[items.Count];
        for (var i = 0; i < items.Count; i++)
            result[i] = (TOut)(object)items[i];
        return result;
    }
}
