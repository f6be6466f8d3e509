namespace FastRelay.Protocols.Quic.Wire;

/// <summary>
/// QUIC version numbers and what differs between the versions we speak on the wire. QUIC v2 (RFC 9369) is v1 with
/// another version number, other long-header type bits, another initial salt, other HKDF labels and other Retry keys;
/// the crypto half of those differences lives in Crypto/QuicVersionSecrets.
/// </summary>
public static class QuicVersion
{
    public const uint Negotiation = 0x00000000;
    public const uint V1 = 0x00000001;
    /// <summary>RFC 9369.</summary>
    public const uint V2 = 0x6b3343cf;
    /// <summary>
    /// draft-ietf-quic-v2 before the final numbers (drafts up to -07): the v2 wire and labels with version 0x709a50c4,
    /// its own salt and Retry keys. Debian's ngtcp2 0.12 ("v2draft") and quic-go 0.29 speak it, so it is kept for interop;
    /// nothing offers it unless asked to.
    /// </summary>
    public const uint V2Draft = 0x709a50c4;

    /// <summary>Versions of the form 0x?a?a?a?a are reserved to exercise negotiation (RFC 9000 §15).</summary>
    public static bool IsReserved(uint version) => (version & 0x0f0f0f0f) == 0x0a0a0a0a;

    public static bool IsSupported(uint version) => version is V1 or V2 or V2Draft;

    /// <summary>
    /// Whether a first flight of <paramref name="from"/> converts into <paramref name="to"/> (RFC 9368 §2.2). v1 and v2
    /// are compatible both ways (RFC 9369 §4); the v2 draft is v2 with other constants, so the same holds for it.
    /// </summary>
    public static bool AreCompatible(uint from, uint to) => IsSupported(from) && IsSupported(to);

    /// <summary>v2 and its draft renumbered the long-header types (RFC 9369 §3.2).</summary>
    private static bool HasV2PacketTypes(uint version) => version is V2 or V2Draft;

    /// <summary>The 2 type bits (byte 0, bits 4-5) of a long-header packet in <paramref name="version"/>.</summary>
    public static byte ToTypeBits(QuicPacketType type, uint version)
    {
        if (type > QuicPacketType.Retry) throw new ArgumentOutOfRangeException(nameof(type), type, "not a long header type");
        // v1: Initial 0, 0-RTT 1, Handshake 2, Retry 3. v2: Initial 1, 0-RTT 2, Handshake 3, Retry 0 (one step up, mod 4).
        return HasV2PacketTypes(version) ? (byte)(((byte)type + 1) & 0x03) : (byte)type;
    }

    /// <summary>The packet type of long-header type bits in <paramref name="version"/>.</summary>
    public static QuicPacketType ToPacketType(int typeBits, uint version) =>
        (QuicPacketType)(HasV2PacketTypes(version) ? (typeBits + 3) & 0x03 : typeBits & 0x03);

    /// <summary>A name for logs, qlog and the command line: "v1", "v2", "v2draft" or hex.</summary>
    public static string Name(uint version) => version switch
    {
        V1 => "v1",
        V2 => "v2",
        V2Draft => "v2draft",
        _ => $"0x{version:x8}",
    };

    /// <summary>Reads "v1", "v2", "v2draft", "1", "2" or a hex number ("0x6b3343cf").</summary>
    public static bool TryParse(string text, out uint version)
    {
        version = 0;
        switch (text.Trim().ToLowerInvariant())
        {
            case "v1" or "1": version = V1; return true;
            case "v2" or "2": version = V2; return true;
            case "v2draft" or "v2-draft": version = V2Draft; return true;
        }
        string hex = text.Trim();
        if (hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) hex = hex[2..];
        return uint.TryParse(hex, System.Globalization.NumberStyles.HexNumber, null, out version) && version != Negotiation;
    }
}
