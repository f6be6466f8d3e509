namespace FastRelay.Protocols.Quic.Tls.Messages;

/// <summary>EncryptedExtensions (RFC 8446 §4.3.1): an extension block; in QUIC it carries the server's transport parameters and ALPN.</summary>
public sealed class EncryptedExtensions
{
    public TlsExtensions Extensions { get; set; } = new();

    public static bool TryRead(ReadOnlyMemory<byte> body, out EncryptedExtensions message, out TlsAlert alert)
    {
        message = new EncryptedExtensions();
        var r = new TlsReader(body);
        if (!TlsExtensions.TryRead(ref r, TlsExtensionContext.EncryptedExtensions, out var extensions, out alert)) return false;
        if (!r.IsEnd) { alert = TlsAlert.DecodeError; return false; }
        message.Extensions = extensions;
        return true;
    }

    public int Write(Span<byte> destination)
    {
        var w = new TlsWriter(destination);
        int m = HandshakeMessage.Begin(ref w, TlsHandshakeType.EncryptedExtensions);
        Extensions.Write(ref w, TlsExtensionContext.EncryptedExtensions);
        HandshakeMessage.End(ref w, m);
        return w.Position;
    }
}
