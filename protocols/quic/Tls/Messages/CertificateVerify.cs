namespace FastRelay.Protocols.Quic.Tls.Messages;

/// <summary>CertificateVerify (RFC 8446 §4.4.3): algorithm + signature; the signature is checked by the handshake.</summary>
public sealed class CertificateVerify
{
    public SignatureScheme Algorithm { get; set; }
    public ReadOnlyMemory<byte> Signature { get; set; }

    public static bool TryRead(ReadOnlyMemory<byte> body, out CertificateVerify message, out TlsAlert alert)
    {
        message = new CertificateVerify();
        alert = TlsAlert.DecodeError;
        var r = new TlsReader(body);
        if (!r.TryReadUInt16(out ushort algorithm) || !r.TryReadVector(2, 0, 0xFFFF, out var signature) || !r.IsEnd) return false;
        message.Algorithm = (SignatureScheme)algorithm;
        message.Signature = signature;
        alert = TlsAlert.None;
        return true;
    }

    public int Write(Span<byte> destination)
    {
        var w = new TlsWriter(destination);
        int m = HandshakeMessage.Begin(ref w, TlsHandshakeType.CertificateVerify);
        w.WriteUInt16((ushort)Algorithm);
        w.WriteVector(2, Signature.Span);
        HandshakeMessage.End(ref w, m);
        return w.Position;
    }

    /// <summary>
    /// The content that is signed (§4.4.3): 64 spaces, the context string ("TLS 1.3, server CertificateVerify" or
    /// "TLS 1.3, client CertificateVerify"), a zero byte, then the transcript hash.
    /// </summary>
    public static byte[] BuildSignedContent(bool server, ReadOnlySpan<byte> transcriptHash)
    {
        var label = server ? "TLS 1.3, server CertificateVerify"u8 : "TLS 1.3, client CertificateVerify"u8;
        var content = new byte[64 + label.Length + 1 + transcriptHash.Length];
        content.AsSpan(0, 64).Fill(0x20);
        label.CopyTo(content.AsSpan(64));
        content[64 + label.Length] = 0;
        transcriptHash.CopyTo(content.AsSpan(64 + label.Length + 1));
        return content;
    }
}
