namespace FastRelay.Protocols.Quic.Tls.Messages;

/// <summary>
/// KeyUpdate (RFC 8446 §4.6.3): request_update ∈ {0, 1}, anything else → illegal_parameter. Note: QUIC forbids the TLS
/// KeyUpdate message (RFC 9001 §6: receipt is error 0x010a, unexpected_message); the codec exists for completeness.
/// </summary>
public readonly record struct KeyUpdate(bool UpdateRequested)
{
    public static bool TryRead(ReadOnlySpan<byte> body, out KeyUpdate message, out TlsAlert alert)
    {
        message = default;
        if (body.Length != 1) { alert = TlsAlert.DecodeError; return false; }
        if (body[0] > 1) { alert = TlsAlert.IllegalParameter; return false; }
        message = new KeyUpdate(body[0] == 1);
        alert = TlsAlert.None;
        return true;
    }

    public int Write(Span<byte> destination)
    {
        var w = new TlsWriter(destination);
        int m = HandshakeMessage.Begin(ref w, TlsHandshakeType.KeyUpdate);
        w.WriteUInt8(UpdateRequested ? (byte)1 : (byte)0);
        HandshakeMessage.End(ref w, m);
        return w.Position;
    }
}
