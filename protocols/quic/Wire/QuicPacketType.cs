namespace FastRelay.Protocols.Quic.Wire;

/// <summary>
/// The packet kinds (RFC 9000 §17). The long-header ones keep their QUIC v1 2-bit wire type as value; other versions map
/// their own type bits onto these (<see cref="QuicVersion.ToPacketType"/>, RFC 9369 §3.2).
/// </summary>
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
