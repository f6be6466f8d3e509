namespace FastRelay.Protocols.Quic.Tls;

/// <summary>
/// Handshake message framing (RFC 8446 §4): <c>HandshakeType msg_type; uint24 length; body</c>. In QUIC these messages
/// travel in CRYPTO frames without TLS records (RFC 9001 §4), possibly split or coalesced.
/// </summary>
public static class HandshakeMessage
{
    public const int HeaderLength = 4;

    /// <summary>Default cap on a message body; longer lengths are refused before any buffering (a certificate chain fits easily).</summary>
    public const int DefaultMaxBodyLength = 1 << 16;

    /// <summary>
    /// Splits the next complete message off <paramref name="data"/>. Returns false with <see cref="TlsAlert.None"/> when
    /// more bytes are needed, false with an alert when the length exceeds <paramref name="maxBodyLength"/>.
    /// </summary>
    public static bool TryRead(ReadOnlyMemory<byte> data, out TlsHandshakeType type, out ReadOnlyMemory<byte> body,
        out int consumed, out TlsAlert alert, int maxBodyLength = DefaultMaxBodyLength)
    {
        type = default;
        body = default;
        consumed = 0;
        alert = TlsAlert.None;
        var reader = new TlsReader(data);
        if (!reader.TryReadUInt8(out byte t) || !reader.TryReadUInt24(out int length)) return false;
        type = (TlsHandshakeType)t;
        if (length > maxBodyLength) { alert = TlsAlert.RecordOverflow; return false; }
        if (!reader.TryReadBytes(length, out body)) return false;
        consumed = HeaderLength + length;
        return true;
    }

    /// <summary>Starts a message: writes the type and reserves the uint24 length; finish with <see cref="End"/>.</summary>
    public static int Begin(ref TlsWriter writer, TlsHandshakeType type)
    {
        writer.WriteUInt8((byte)type);
        return writer.BeginVector(3);
    }

    public static void End(ref TlsWriter writer, int mark) => writer.EndVector(mark, 3);
}
