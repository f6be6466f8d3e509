using System.Text;

namespace FastRelay.Protocols.Moq.Relay.Model;

/// <summary>Printable form of opaque name bytes for logs and the status file.</summary>
internal static class FieldText
{
    public static string Escape(byte[] field) => Escape((ReadOnlySpan<byte>)field);

    public static string Escape(ReadOnlySpan<byte> field)
    {
        var text = new StringBuilder(field.Length);
        foreach (byte b in field)
        {
            if (b is >= 0x21 and <= 0x7e && b != (byte)'%' && b != (byte)'/')
                text.Append((char)b);
            else
                text.Append('%').Append(b.ToString("X2"));
        }
        return text.ToString();
    }
}
