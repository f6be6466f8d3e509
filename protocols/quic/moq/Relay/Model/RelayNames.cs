using System.Text;
using FastRelay.Protocols.Moq.Wire;

namespace FastRelay.Protocols.Moq.Relay.Model;

/// <summary>
/// Names as operators write them (the CLI, the auth file, the status view): namespace fields separated by '/', each
/// field's UTF-8 bytes (<c>live/cam1</c> → ("live", "cam1")); "" is the empty namespace, which every namespace starts
/// with. Printed with bytes that are not printable ASCII, '/' or '%' as %XX, so a status line stays one line.
/// </summary>
public static class RelayNames
{
    public static MoqTrackNamespace Namespace(string slashText) =>
        slashText.Length == 0 ? MoqTrackNamespace.Empty : MoqTrackNamespace.FromStrings(slashText.Split('/'));

    public static MoqFullTrackName Track(string slashNamespace, string name) => new(Namespace(slashNamespace), name);

    /// <summary>One prefix is a prefix of the other (SUBSCRIBE_NAMESPACE's PREFIX_OVERLAP).</summary>
    public static bool Overlap(MoqTrackNamespace a, MoqTrackNamespace b) => a.StartsWith(b) || b.StartsWith(a);

    public static string Format(MoqTrackNamespace ns)
    {
        var text = new StringBuilder();
        for (int i = 0; i < ns.Count; i++)
        {
            if (i > 0) text.Append('/');
            Escape(text, ns[i]);
        }
        return text.ToString();
    }

    public static string Format(MoqFullTrackName track)
    {
        var text = new StringBuilder(Format(track.Namespace)).Append(':');
        Escape(text, track.Name.Span);
        return text.ToString();
    }

    private static void Escape(StringBuilder text, ReadOnlySpan<byte> field)
    {
        foreach (byte b in field)
        {
            if (b is >= 0x21 and <= 0x7e && b != (byte)'%' && b != (byte)'/')
                text.Append((char)b);
            else
                text.Append('%').Append(b.ToString("X2"));
        }
    }
}
