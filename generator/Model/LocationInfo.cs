using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace FastRelay.Generator.Model;

/// <summary>A source location as plain data: a Roslyn <see cref="Location"/> keeps the syntax tree alive and
/// is not value-equal across compilations, so models carry this instead.</summary>
public sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation(Compilation? compilation = null)
    {
        if (compilation is not null)
            foreach (var tree in compilation.SyntaxTrees)
                if (tree.FilePath == FilePath && tree.Length >= Span.End)
                    return Location.Create(tree, Span);
        return Location.Create(FilePath, Span, LineSpan);
    }

    public static LocationInfo? From(Location? location)
    {
        if (location is null || location.SourceTree is null)
            return null;
        return new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
    }

    public static LocationInfo? From(SyntaxReference? reference) =>
        reference is null ? null : From(reference.GetSyntax().GetLocation());
}
