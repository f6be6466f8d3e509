using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Qlog;

/// <summary>The strings the qlog QUIC event definitions (draft-ietf-quic-qlog-quic-events) use for our enums.</summary>
internal static class QlogNames
{
    public static string PacketType(QuicPacketType type) => type switch
    {
        QuicPacketType.Initial => "initial",
        QuicPacketType.Handshake => "handshake",
        QuicPacketType.ZeroRtt => "0RTT",
        QuicPacketType.OneRtt => "1RTT",
        QuicPacketType.Retry => "retry",
        QuicPacketType.VersionNegotiation => "version_negotiation",
        _ => "unknown",
    };

    public static string KeyType(TracedKeyType type) => type switch
    {
        TracedKeyType.ServerInitialSecret => "server_initial_secret",
        TracedKeyType.ClientInitialSecret => "client_initial_secret",
        TracedKeyType.ServerHandshakeSecret => "server_handshake_secret",
        TracedKeyType.ClientHandshakeSecret => "client_handshake_secret",
        TracedKeyType.Server1RttSecret => "server_1rtt_secret",
        TracedKeyType.Client1RttSecret => "client_1rtt_secret",
        _ => "unknown",
    };

    public static string Trigger(KeyUpdateTrigger trigger) => trigger switch
    {
        KeyUpdateTrigger.LocalUpdate => "local_update",
        KeyUpdateTrigger.RemoteUpdate => "remote_update",
        _ => "tls",
    };

    /// <summary>Packet types without a packet number (and without frames).</summary>
    public static bool HasPacketNumber(QuicPacketType type) => type is not (QuicPacketType.Retry or QuicPacketType.VersionNegotiation);

    public static bool IsLongHeader(QuicPacketType type) => type != QuicPacketType.OneRtt;
}
