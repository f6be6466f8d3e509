using System.Text;

namespace FastRelay.Protocols.Moq.Clients;

/// <summary>
/// The command line's way of writing a track namespace tuple: fields separated by '/', each field's UTF-8 bytes as
/// the tuple element (<c>live/cam1</c> → ("live", "cam1")). Empty fields are refused (they are almost always a typo such
/// as a doubled or trailing slash). Track names are taken whole as UTF-8.
/// </summary>
public static class TrackNamespaceText
{
    /// <summary>The draft allows 32 fields; more is refused here with the same bound.</summary>
    public const int MaxFields = 32;

    /// <exception cref="FormatException">Empty, an empty field, or more than <see cref="MaxFields"/> fields.</exception>
    public static IReadOnlyList<byte[]> Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new FormatException("the namespace is empty");
        var fields = text.Split('/');
        if (fields.Any(f => f.Length == 0)) throw new FormatException($"'{text}': empty namespace field (write fields as a/b/c)");
        if (fields.Length > MaxFields) throw new FormatException($"'{text}': more than {MaxFields} namespace fields");
        if (fields[0].StartsWith('.')) throw new FormatException($"'{text}': namespaces whose first field starts with '.' are reserved by the draft");
        return fields.Select(Encoding.UTF8.GetBytes).ToList();
    }

    public static string Format(IEnumerable<byte[]> fields) => string.Join('/', fields.Select(f => Encoding.UTF8.GetString(f)));
}
