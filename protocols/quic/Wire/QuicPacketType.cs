namespace FastRelay.Protocols.Quic.Wire;

/// <summary>The packet kinds of QUIC v1 (RFC 9000 §17). The long-header ones keep their 2-bit wire type as value.</summary>
public enum QuicPacketType : byte
{
    Initial = 0,
    ZeroRtt = 1,
    Handshake = 2,
    Retry = 3,
    VersionNegotiation = 4,
    /// <summary>Short header (1-RTT).</summary>
    OneRtt = 5,
    /// <summary>A long header with a version this endpoint does not speak (answer with Version Negotiation).</summary>
    UnsupportedVersion = 6,
}

/// <summary>Packet number spaces (RFC 9000 §12.3).</summary>
public enum PacketNumberSpace : byte
{
    Initial = 0,
    Handshake = 1,
    ApplicationData = 2,
}

public static class QuicVersion
{
    public const uint Negotiation = 0x00000000;
    public const uint V1 = 0x00000001;

    /// <summary>Versions of the form 0x?a?a?a?a are reserved to exercise negotiation (RFC 9000 §15).</summary>
    public static bool IsReserved(uint version) => (version & 0x0f0f0f0f) == 0x0a0a0a0a;

    public static bool IsSupported(uint version) => version == V1;
}

public static class QuicPacketTypeExtensions
{
    public static PacketNumberSpace GetSpace(this QuicPacketType type) => type switch
    {
        QuicPacketType.Initial => PacketNumberSpace.Initial,
        QuicPacketType.Handshake => PacketNumberSpace.Handshake,
        QuicPacketType.ZeroRtt or QuicPacketType.OneRtt => PacketNumberSpace.ApplicationData,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "packet type has no packet number"),
    };

    public static bool HasPacketNumber(this QuicPacketType type) =>
        type is QuicPacketType.Initial or QuicPacketType.ZeroRtt or QuicPacketType.Handshake or QuicPacketType.OneRtt;
}
