using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Qlog;

/// <summary>
/// What a <see cref="QuicConnectionCore"/> reports about itself for tracing (qlog). The core knows only this interface;
/// <see cref="NullConnectionTracer"/> is the default and <see cref="QlogTracer"/> writes a .sqlog file.
/// <para>Time: events carry no timestamp of their own; each is stamped with the latest time given to
/// <see cref="AdvanceTime"/> (the core calls it at every entry point: datagram in, datagram out, timer, close). Several
/// events (lost packets, discarded keys) happen where the core has no clock at hand, and this keeps them in order.</para>
/// <para>Arguments are spans and values so a disabled tracer costs a call and nothing else: no allocation, no strings.
/// Implementations must not throw into the core and must ignore calls after <see cref="IDisposable.Dispose"/>.</para>
/// </summary>
public interface IConnectionTracer : IDisposable
{
    /// <summary>False for the null tracer: callers skip work whose only purpose is to feed the tracer.</summary>
    bool IsEnabled { get; }

    /// <summary>Core time in microseconds (any monotonic origin, the same one the core uses).</summary>
    void AdvanceTime(long now);

    /// <summary>connectivity:connection_started — our first connection id and the peer's (as first used).</summary>
    void ConnectionStarted(in ConnectionId sourceConnectionId, in ConnectionId destinationConnectionId);

    /// <summary>transport:parameters_set — ours (<paramref name="local"/>) as sent in TLS, or the peer's once received.</summary>
    void ParametersSet(bool local, TransportParameters parameters);

    /// <summary>
    /// transport:packet_sent. <paramref name="payload"/> is the plaintext frame bytes (padding included);
    /// <paramref name="length"/> the packet's size on the wire (header + payload + AEAD tag).
    /// </summary>
    void PacketSent(QuicPacketType type, ulong packetNumber, ReadOnlySpan<byte> destinationConnectionId, int length, ReadOnlySpan<byte> payload);

    /// <summary>transport:packet_received, after decryption and duplicate detection, before its frames take effect.
    /// Retry and Version Negotiation have no packet number and an empty payload.</summary>
    void PacketReceived(QuicPacketType type, ulong packetNumber, ReadOnlySpan<byte> destinationConnectionId, int length, ReadOnlySpan<byte> payload);

    /// <summary>recovery:packet_lost.</summary>
    void PacketLost(QuicPacketType type, ulong packetNumber);

    /// <summary>recovery:metrics_updated, called after each ACK is processed; only values that changed are written.</summary>
    void MetricsUpdated(RttEstimator rtt, ICongestionController congestion);

    /// <summary>security:key_updated — keys installed by TLS, or a 1-RTT key update.</summary>
    void KeyUpdated(TracedKeyType keyType, ulong generation, KeyUpdateTrigger trigger);

    /// <summary>security:key_discarded.</summary>
    void KeyDiscarded(TracedKeyType keyType, ulong generation);

    /// <summary>connectivity:connection_closed — once, when the connection starts closing/draining or times out.</summary>
    void ConnectionClosed(in ConnectionCloseInfo info);

    /// <summary>Pushes buffered records to the underlying storage (the connection keeps going).</summary>
    void Flush();
}
