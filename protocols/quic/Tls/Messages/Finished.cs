namespace FastRelay.Protocols.Quic.Tls.Messages;

/// <summary>Finished (RFC 8446 §4.4.4): verify_data of exactly Hash.length bytes (other lengths → decode_error).</summary>
public sealed class Finished
{
    public ReadOnlyMemory<byte> VerifyData { get; set; }

    public static bool TryRead(ReadOnlyMemory<byte> body, int hashLength, out Finished message, out TlsAlert alert)
    {
        message = new Finished();
        if (body.Length != hashLength) { alert = TlsAlert.DecodeError; return false; }
        message.VerifyData = body;
        alert = TlsAlert.None;
        return true;
    }

    public int Write(Span<byte> destination)
    {
        var w = new TlsWriter(destination);
        int m = HandshakeMessage.Begin(ref w, TlsHandshakeType.Finished);
        w.WriteBytes(VerifyData.Span);
        HandshakeMessage.End(ref w, m);
        return w.Position;
    }
}
