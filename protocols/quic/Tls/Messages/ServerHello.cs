using FastRelay.Protocols.Quic.Crypto;

namespace FastRelay.Protocols.Quic.Tls.Messages;

/// <summary>
/// ServerHello and HelloRetryRequest (RFC 8446 §4.1.3/§4.1.4): same structure, an HRR is recognized by its special
/// Random (SHA-256 of "HelloRetryRequest"), and its extensions are decoded with the HRR rules (key_share = selected_group).
/// legacy_compression_method ≠ 0 → illegal_parameter.
/// </summary>
public sealed class ServerHello
{
    /// <summary>The Random of a HelloRetryRequest (RFC 8446 §4.1.3).</summary>
    public static ReadOnlySpan<byte> HelloRetryRequestRandom =>
    [
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
        0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
    ];

    public ushort Version { get; set; } = ClientHello.LegacyVersion;
    public ReadOnlyMemory<byte> Random { get; set; }
    public ReadOnlyMemory<byte> LegacySessionIdEcho { get; set; }
    public CipherSuite CipherSuite { get; set; }
    public TlsExtensions Extensions { get; set; } = new();

    public bool IsHelloRetryRequest => Random.Span.SequenceEqual(HelloRetryRequestRandom);

    /// <summary>Makes this a HelloRetryRequest (sets the special Random).</summary>
    public void SetHelloRetryRequest() => Random = HelloRetryRequestRandom.ToArray();

    public static bool TryRead(ReadOnlyMemory<byte> body, out ServerHello hello, out TlsAlert alert)
    {
        hello = new ServerHello();
        alert = TlsAlert.DecodeError;
        var r = new TlsReader(body);
        if (!r.TryReadUInt16(out ushort version) || !r.TryReadBytes(32, out var random)
            || !r.TryReadVector(1, 0, 32, out var sessionId)
            || !r.TryReadUInt16(out ushort suite) || !r.TryReadUInt8(out byte compression))
            return false;
        if (compression != 0) { alert = TlsAlert.IllegalParameter; return false; }
        hello.Version = version;
        hello.Random = random;
        hello.LegacySessionIdEcho = sessionId;
        hello.CipherSuite = (CipherSuite)suite;
        var context = hello.IsHelloRetryRequest ? TlsExtensionContext.HelloRetryRequest : TlsExtensionContext.ServerHello;
        if (!TlsExtensions.TryRead(ref r, context, out var extensions, out alert)) return false;
        hello.Extensions = extensions;
        if (!r.IsEnd) { alert = TlsAlert.DecodeError; return false; }
        alert = TlsAlert.None;
        return true;
    }

    public int Write(Span<byte> destination)
    {
        if (Random.Length != 32) throw new ArgumentException("random must be 32 bytes");
        if (LegacySessionIdEcho.Length > 32) throw new ArgumentException("legacy_session_id_echo too long");
        var w = new TlsWriter(destination);
        int m = HandshakeMessage.Begin(ref w, TlsHandshakeType.ServerHello);
        w.WriteUInt16(Version);
        w.WriteBytes(Random.Span);
        w.WriteVector(1, LegacySessionIdEcho.Span);
        w.WriteUInt16((ushort)CipherSuite);
        w.WriteUInt8(0);
        Extensions.Write(ref w, IsHelloRetryRequest ? TlsExtensionContext.HelloRetryRequest : TlsExtensionContext.ServerHello);
        HandshakeMessage.End(ref w, m);
        return w.Position;
    }
}
