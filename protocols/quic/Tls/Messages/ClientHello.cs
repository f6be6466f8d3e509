using FastRelay.Protocols.Quic.Crypto;

namespace FastRelay.Protocols.Quic.Tls.Messages;

/// <summary>
/// ClientHello (RFC 8446 §4.1.2). Decoding checks structure only (TLS 1.3 form: legacy_compression_methods must be the
/// single null method → illegal_parameter); version and suite negotiation belong to the handshake.
/// </summary>
public sealed class ClientHello
{
    public const ushort LegacyVersion = 0x0303;

    public ushort Version { get; set; } = LegacyVersion;
    /// <summary>32 bytes.</summary>
    public ReadOnlyMemory<byte> Random { get; set; }
    /// <summary>0..32 bytes; QUIC clients send an empty one (RFC 9001 §8.4).</summary>
    public ReadOnlyMemory<byte> LegacySessionId { get; set; }
    /// <summary>Offered suites as raw code points (unknown ones are kept, the server ignores them).</summary>
    public ushort[] CipherSuites { get; set; } = [];
    public TlsExtensions Extensions { get; set; } = new();

    public static bool TryRead(ReadOnlyMemory<byte> body, out ClientHello hello, out TlsAlert alert)
    {
        hello = new ClientHello();
        alert = TlsAlert.DecodeError;
        var r = new TlsReader(body);
        if (!r.TryReadUInt16(out ushort version) || !r.TryReadBytes(32, out var random)
            || !r.TryReadVector(1, 0, 32, out var sessionId)
            || !r.TryReadVector(2, 2, 0xFFFE, out var suites) || (suites.Length & 1) != 0
            || !r.TryReadVector(1, 1, 255, out var compression))
            return false;
        if (compression.Length != 1 || compression.Span[0] != 0) { alert = TlsAlert.IllegalParameter; return false; }
        hello.Version = version;
        hello.Random = random;
        hello.LegacySessionId = sessionId;
        var list = new ushort[suites.Length / 2];
        var sr = new TlsReader(suites);
        for (int i = 0; i < list.Length; i++) sr.TryReadUInt16(out list[i]);
        hello.CipherSuites = list;
        if (!TlsExtensions.TryRead(ref r, TlsExtensionContext.ClientHello, out var extensions, out alert)) return false;
        hello.Extensions = extensions;
        if (!r.IsEnd) { alert = TlsAlert.DecodeError; return false; }
        alert = TlsAlert.None;
        return true;
    }

    public bool Offers(CipherSuite suite) => Array.IndexOf(CipherSuites, (ushort)suite) >= 0;

    /// <summary>Writes the complete handshake message (header included); returns its length.</summary>
    public int Write(Span<byte> destination)
    {
        if (Random.Length != 32) throw new ArgumentException("random must be 32 bytes");
        if (LegacySessionId.Length > 32) throw new ArgumentException("legacy_session_id too long");
        var w = new TlsWriter(destination);
        int m = HandshakeMessage.Begin(ref w, TlsHandshakeType.ClientHello);
        w.WriteUInt16(Version);
        w.WriteBytes(Random.Span);
        w.WriteVector(1, LegacySessionId.Span);
        int s = w.BeginVector(2);
        foreach (var suite in CipherSuites) w.WriteUInt16(suite);
        w.EndVector(s, 2);
        w.WriteUInt8(1);
        w.WriteUInt8(0);
        Extensions.Write(ref w, TlsExtensionContext.ClientHello);
        HandshakeMessage.End(ref w, m);
        return w.Position;
    }
}
