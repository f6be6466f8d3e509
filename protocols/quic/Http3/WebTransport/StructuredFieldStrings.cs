using System.Text;

namespace FastRelay.Protocols.Quic.Http3.WebTransport;

/// <summary>
/// The slice of Structured Field Values (RFC 9651) the WebTransport protocol negotiation needs:
/// <c>WT-Available-Protocols</c> is a List of Strings, <c>WT-Protocol</c> an Item that is a String (draft §3.3).
/// Parameters are parsed and ignored. Any member that is not a String, or any syntax error, makes the whole field
/// invalid (the caller then ignores it, as RFC 9651 recommends). Bounded: at most <see cref="MaxMembers"/> members and
/// <see cref="MaxFieldLength"/> characters.
/// </summary>
public static class StructuredFieldStrings
{
    public const int MaxMembers = 64;
    public const int MaxFieldLength = 4096;

    public static bool TryParseList(string field, out List<string> strings)
    {
        strings = [];
        if (field.Length > MaxFieldLength) return false;
        int i = SkipSpaces(field, 0);
        if (i == field.Length) return true; // an empty list
        while (true)
        {
            if (strings.Count == MaxMembers) return false;
            if (!TryParseString(field, ref i, out var value) || !TrySkipParameters(field, ref i)) return false;
            strings.Add(value);
            i = SkipOws(field, i);
            if (i == field.Length) return true;
            if (field[i] != ',') return false;
            i = SkipOws(field, i + 1);
            if (i == field.Length) return false; // trailing comma
        }
    }

    public static bool TryParseItem(string field, out string value)
    {
        value = "";
        if (field.Length > MaxFieldLength) return false;
        int i = SkipSpaces(field, 0);
        if (!TryParseString(field, ref i, out value) || !TrySkipParameters(field, ref i)) return false;
        return SkipSpaces(field, i) == field.Length;
    }

    /// <summary>sf-string: printable ASCII in quotes, only \" and \\ escaped. Throws for values it cannot carry.</summary>
    public static string SerializeString(string value)
    {
        var text = new StringBuilder(value.Length + 2).Append('"');
        foreach (char c in value)
        {
            if (c < 0x20 || c > 0x7e) throw new ArgumentException("structured field strings carry printable ASCII only", nameof(value));
            if (c is '"' or '\\') text.Append('\\');
            text.Append(c);
        }
        return text.Append('"').ToString();
    }

    public static string SerializeList(IEnumerable<string> values) => string.Join(", ", values.Select(SerializeString));

    private static bool TryParseString(string s, ref int i, out string value)
    {
        value = "";
        if (i >= s.Length || s[i] != '"') return false;
        var text = new StringBuilder();
        i++;
        while (i < s.Length)
        {
            char c = s[i++];
            if (c == '\\')
            {
                if (i >= s.Length || s[i] is not ('"' or '\\')) return false;
                text.Append(s[i++]);
            }
            else if (c == '"')
            {
                value = text.ToString();
                return true;
            }
            else if (c < 0x20 || c > 0x7e) return false;
            else text.Append(c);
        }
        return false; // no closing quote
    }

    /// <summary>*( ";" *SP key [ "=" bare-item ] ): checked for shape, values ignored.</summary>
    private static bool TrySkipParameters(string s, ref int i)
    {
        while (i < s.Length && s[i] == ';')
        {
            i = SkipSpaces(s, i + 1);
            int start = i;
            if (i >= s.Length || !(s[i] is >= 'a' and <= 'z' || s[i] == '*')) return false;
            while (i < s.Length && (s[i] is >= 'a' and <= 'z' or >= '0' and <= '9' or '_' or '-' or '.' or '*')) i++;
            if (i == start) return false;
            if (i < s.Length && s[i] == '=')
            {
                i++;
                if (i < s.Length && s[i] == '"')
                {
                    if (!TryParseString(s, ref i, out _)) return false;
                }
                else
                {
                    int bare = i;
                    while (i < s.Length && s[i] is not (',' or ';' or ' ' or '\t')) i++;
                    if (i == bare) return false;
                }
            }
        }
        return true;
    }

    private static int SkipSpaces(string s, int i)
    {
        while (i < s.Length && s[i] == ' ') i++;
        return i;
    }

    private static int SkipOws(string s, int i)
    {
        while (i < s.Length && s[i] is ' ' or '\t') i++;
        return i;
    }
}
