using System.Text;

namespace FastRelay.Protocols.Moq.Wire;

/// <summary>
/// The serialized name format (draft-19 §"Representing Namespace and Track Names"): fields joined by '-', the track
/// name after '--'; a-z A-Z 0-9 _ literal, every other byte as '.' + two lowercase hex digits. Parsing is strict
/// (lowercase hex only, no hex for literal bytes, no empty namespace fields), so the mapping is bijective.
/// </summary>
public static class MoqNameFormat
{
    public static string FormatNamespace(MoqTrackNamespace ns)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < ns.Count; i++)
        {
            if (i > 0) sb.Append('-');
            AppendEscaped(sb, ns[i]);
        }
        return sb.ToString();
    }

    public static string Format(MoqFullTrackName name)
    {
        var sb = new StringBuilder(FormatNamespace(name.Namespace));
        sb.Append("--");
        AppendEscaped(sb, name.Name.Span);
        return sb.ToString();
    }

    /// <summary>Parses a serialized namespace (no track name part).</summary>
    public static bool TryParseNamespace(string text, out MoqTrackNamespace ns)
    {
        ns = MoqTrackNamespace.Empty;
        if (text.Length == 0) return true;
        var fields = new List<byte[]>();
        foreach (string part in text.Split('-'))
        {
            if (part.Length == 0 || !TryUnescape(part, out byte[] bytes)) return false;
            fields.Add(bytes);
        }
        if (fields.Count > MoqTrackNamespace.MaxFields || fields.Sum(f => f.Length) > MoqTrackNamespace.MaxTotalLength) return false;
        ns = new MoqTrackNamespace(fields);
        return true;
    }

    /// <summary>Parses a serialized full track name (<c>ns-ns--name</c>).</summary>
    public static bool TryParse(string text, out MoqFullTrackName name)
    {
        name = null!;
        int split = text.IndexOf("--", StringComparison.Ordinal);
        if (split < 0) return false;
        string nameText = text[(split + 2)..];
        if (nameText.Contains('-')) return false; // '-' is never literal, so a name cannot contain it
        if (!TryParseNamespace(text[..split], out var ns) || !TryUnescape(nameText, out byte[] bytes)) return false;
        if (ns.ByteLength + bytes.Length > MoqFullTrackName.MaxTotalLength) return false;
        name = new MoqFullTrackName(ns, bytes);
        return true;
    }

    private static bool IsLiteral(int b) => b is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '_';

    private static void AppendEscaped(StringBuilder sb, ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
        {
            if (IsLiteral(b)) sb.Append((char)b);
            else sb.Append('.').Append(b.ToString("x2"));
        }
    }

    private static bool TryUnescape(string text, out byte[] bytes)
    {
        bytes = Array.Empty<byte>();
        var result = new List<byte>(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '.')
            {
                if (i + 2 >= text.Length) return false; // a trailing '.' or fewer than two hex digits
                int hi = HexValue(text[i + 1]), lo = HexValue(text[i + 2]);
                if (hi < 0 || lo < 0) return false;
                int value = hi << 4 | lo;
                if (IsLiteral(value)) return false; // redundant encoding of a literal byte
                result.Add((byte)value);
                i += 2;
            }
            else if (c < 128 && IsLiteral(c)) result.Add((byte)c);
            else return false;
        }
        bytes = result.ToArray();
        return true;
    }

    /// <summary>Lowercase hex only (uppercase must fail, §"Parsing Serialized Names").</summary>
    private static int HexValue(char c) => c is >= '0' and <= '9' ? c - '0' : c is >= 'a' and <= 'f' ? c - 'a' + 10 : -1;
}
