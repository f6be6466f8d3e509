namespace FastRelay.Protocols.Quic.Tls;

/// <summary>
/// TLS alert descriptions (RFC 8446 §6.2) returned by the decoders. <see cref="None"/> (0, close_notify's code, never
/// produced by a parser) means success. In QUIC an alert becomes the CRYPTO_ERROR 0x0100 + alert (RFC 9001 §4.8).
/// </summary>
public enum TlsAlert : byte
{
    None = 0,
    UnexpectedMessage = 10,
    BadRecordMac = 20,
    RecordOverflow = 22,
    HandshakeFailure = 40,
    BadCertificate = 42,
    UnsupportedCertificate = 43,
    CertificateRevoked = 44,
    CertificateExpired = 45,
    CertificateUnknown = 46,
    IllegalParameter = 47,
    UnknownCa = 48,
    AccessDenied = 49,
    DecodeError = 50,
    DecryptError = 51,
    ProtocolVersion = 70,
    InsufficientSecurity = 71,
    InternalError = 80,
    InappropriateFallback = 86,
    UserCanceled = 90,
    MissingExtension = 109,
    UnsupportedExtension = 110,
    UnrecognizedName = 112,
    BadCertificateStatusResponse = 113,
    UnknownPskIdentity = 115,
    CertificateRequired = 116,
    NoApplicationProtocol = 120,
}

public static class TlsAlertExtensions
{
    /// <summary>The QUIC transport error code carrying this alert (RFC 9001 §4.8).</summary>
    public static ulong ToQuicCryptoError(this TlsAlert alert) => 0x0100UL + (byte)alert;
}
