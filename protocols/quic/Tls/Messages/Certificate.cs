namespace FastRelay.Protocols.Quic.Tls.Messages;

/// <summary>CertificateEntry (X.509 form): DER certificate and the raw per-entry extensions (OCSP/SCT, not interpreted).</summary>
public readonly record struct CertificateEntry(ReadOnlyMemory<byte> Data, ReadOnlyMemory<byte> Extensions);

/// <summary>
/// Certificate (RFC 8446 §4.4.2), X.509 certificate type only (RawPublicKey is not negotiated). Structure is decoded,
/// chains are validated elsewhere. An empty list is structurally valid (a client without a certificate).
/// </summary>
public sealed class Certificate
{
    public ReadOnlyMemory<byte> RequestContext { get; set; }
    public CertificateEntry[] Entries { get; set; } = [];

    public static bool TryRead(ReadOnlyMemory<byte> body, out Certificate message, out TlsAlert alert)
    {
        message = new Certificate();
        alert = TlsAlert.DecodeError;
        var r = new TlsReader(body);
        if (!r.TryReadVector(1, 0, 255, out var context) || !r.TryReadVector(3, 0, 0xFFFFFF, out var list) || !r.IsEnd) return false;
        var lr = new TlsReader(list);
        var entries = new List<CertificateEntry>();
        while (!lr.IsEnd)
        {
            if (!lr.TryReadVector(3, 1, 0xFFFFFF, out var data) || !lr.TryReadVector(2, 0, 0xFFFF, out var extensions)) return false;
            entries.Add(new CertificateEntry(data, extensions));
        }
        message.RequestContext = context;
        message.Entries = entries.ToArray();
        alert = TlsAlert.None;
        return true;
    }

    public int Write(Span<byte> destination)
    {
        var w = new TlsWriter(destination);
        int m = HandshakeMessage.Begin(ref w, TlsHandshakeType.Certificate);
        w.WriteVector(1, RequestContext.Span);
        int list = w.BeginVector(3);
        foreach (var entry in Entries)
        {
            if (entry.Data.IsEmpty) throw new ArgumentException("empty certificate");
            w.WriteVector(3, entry.Data.Span);
            w.WriteVector(2, entry.Extensions.Span);
        }
        w.EndVector(list, 3);
        HandshakeMessage.End(ref w, m);
        return w.Position;
    }
}
