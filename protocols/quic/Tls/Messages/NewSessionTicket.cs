namespace FastRelay.Protocols.Quic.Tls.Messages;

/// <summary>
/// NewSessionTicket (RFC 8446 §4.6.1). ticket_lifetime above
/// 604800 s (7 days) → illegal_parameter. Unknown extensions are ignored; early_data gives max_early_data_size (QUIC
/// requires 0xffffffff for 0-RTT, RFC 9001 §4.6.1 — checking it is the resumption logic's job).
/// </summary>
public sealed class NewSessionTicket
{
    public const uint MaxLifetimeSeconds = 604800;

    public uint LifetimeSeconds { get; set; }
    public uint AgeAdd { get; set; }
    public ReadOnlyMemory<byte> Nonce { get; set; }
    public ReadOnlyMemory<byte> Ticket { get; set; }
    public TlsExtensions Extensions { get; set; } = new();

    public static bool TryRead(ReadOnlyMemory<byte> body, out NewSessionTicket message, out TlsAlert alert)
    {
        message = new NewSessionTicket();
        alert = TlsAlert.DecodeError;
        var r = new TlsReader(body);
        if (!r.TryReadUInt32(out uint lifetime) || !r.TryReadUInt32(out uint ageAdd)
            || !r.TryReadVector(1, 0, 255, out var nonce) || !r.TryReadVector(2, 1, 0xFFFF, out var ticket))
            return false;
        if (!TlsExtensions.TryRead(ref r, TlsExtensionContext.NewSessionTicket, out var extensions, out alert)) return false;
        if (!r.IsEnd) { alert = TlsAlert.DecodeError; return false; }
        if (lifetime > MaxLifetimeSeconds) { alert = TlsAlert.IllegalParameter; return false; }
        message.LifetimeSeconds = lifetime;
        message.AgeAdd = ageAdd;
        message.Nonce = nonce;
        message.Ticket = ticket;
        message.Extensions = extensions;
        alert = TlsAlert.None;
        return true;
    }

    /// <summary>Writes the complete handshake message (header included); returns its length.</summary>
    public int Write(Span<byte> destination)
    {
        var w = new TlsWriter(destination);
        int m = HandshakeMessage.Begin(ref w, TlsHandshakeType.NewSessionTicket);
        w.WriteUInt32(LifetimeSeconds);
        w.WriteUInt32(AgeAdd);
        w.WriteVector(1, Nonce.Span);
        w.WriteVector(2, Ticket.Span);
        Extensions.Write(ref w, TlsExtensionContext.NewSessionTicket);
        HandshakeMessage.End(ref w, m);
        return w.Position;
    }
}
