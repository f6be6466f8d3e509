namespace FastRelay.Protocols.Quic.Tls;

/// <summary>ExtensionType values this stack understands (RFC 8446 §4.2, RFC 7301 ALPN, RFC 9001 §8.2).</summary>
public enum TlsExtensionType : ushort
{
    ServerName = 0,
    SupportedGroups = 10,
    SignatureAlgorithms = 13,
    ApplicationLayerProtocolNegotiation = 16,
    PreSharedKey = 41,
    EarlyData = 42,
    SupportedVersions = 43,
    Cookie = 44,
    PskKeyExchangeModes = 45,
    KeyShare = 51,
    QuicTransportParameters = 0x39,
}
