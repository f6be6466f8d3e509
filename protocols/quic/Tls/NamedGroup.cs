namespace FastRelay.Protocols.Quic.Tls;

/// <summary>NamedGroup (RFC 8446 §4.2.7); only the ECDHE groups this stack intends to offer are named.</summary>
public enum NamedGroup : ushort
{
    Secp256r1 = 0x0017,
    Secp384r1 = 0x0018,
    X25519 = 0x001D,
}

public static class NamedGroupInfo
{
    /// <summary>
    /// The key_exchange length a group requires (RFC 8446 §4.2.8.2: uncompressed points for NIST curves, 32 bytes for
    /// X25519), or 0 when the group is unknown (any non-empty value is then accepted, unknown groups are ignored).
    /// </summary>
    public static int KeyExchangeLength(this NamedGroup group) => group switch
    {
        NamedGroup.Secp256r1 => 65,
        NamedGroup.Secp384r1 => 97,
        NamedGroup.X25519 => 32,
        _ => 0,
    };
}
