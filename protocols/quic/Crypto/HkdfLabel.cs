using System.Security.Cryptography;

namespace FastRelay.Protocols.Quic.Crypto;

/// <summary>
/// HKDF-Expand-Label (RFC 8446 §7.1, used by RFC 9001 §5.1):
/// <code>
/// HkdfLabel { uint16 length; opaque label&lt;7..255&gt; = "tls13 " + Label; opaque context&lt;0..255&gt;; }
/// HKDF-Expand-Label(Secret, Label, Context, Length) = HKDF-Expand(Secret, HkdfLabel, Length)
/// </code>
/// Allocation-free: the HkdfLabel is built on the stack.
/// </summary>
public static class HkdfLabel
{
    private static ReadOnlySpan<byte> Prefix => "tls13 "u8;

    public static void ExpandLabel(HashAlgorithmName hash, ReadOnlySpan<byte> secret, ReadOnlySpan<byte> label,
        ReadOnlySpan<byte> context, Span<byte> output)
    {
        if (Prefix.Length + label.Length > 255) throw new ArgumentException("label too long");
        if (context.Length > 255) throw new ArgumentException("context too long");
        if (output.Length > ushort.MaxValue) throw new ArgumentException("output too long");
        Span<byte> info = stackalloc byte[2 + 1 + 255 + 1 + 255];
        int n = BuildInfo(info, label, context, output.Length);
        HKDF.Expand(hash, secret, output, info[..n]);
    }

    /// <summary>The HkdfLabel structure (the HKDF "info"); RFC 9001 Appendix A lists some of them.</summary>
    public static int BuildInfo(Span<byte> destination, ReadOnlySpan<byte> label, ReadOnlySpan<byte> context, int length)
    {
        int n = 0;
        destination[n++] = (byte)(length >> 8);
        destination[n++] = (byte)length;
        destination[n++] = (byte)(Prefix.Length + label.Length);
        Prefix.CopyTo(destination[n..]);
        n += Prefix.Length;
        label.CopyTo(destination[n..]);
        n += label.Length;
        destination[n++] = (byte)context.Length;
        context.CopyTo(destination[n..]);
        return n + context.Length;
    }

    public static byte[] ExpandLabel(HashAlgorithmName hash, ReadOnlySpan<byte> secret, string label, ReadOnlySpan<byte> context, int length)
    {
        var output = new byte[length];
        Span<byte> labelBytes = stackalloc byte[label.Length];
        for (int i = 0; i < label.Length; i++) labelBytes[i] = checked((byte)label[i]);
        ExpandLabel(hash, secret, labelBytes, context, output);
        return output;
    }
}
