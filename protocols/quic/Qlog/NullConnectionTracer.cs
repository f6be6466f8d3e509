using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Qlog;

/// <summary>Tracing off: every call returns at once. One shared instance (stateless).</summary>
public sealed class NullConnectionTracer : IConnectionTracer
{
    public static readonly NullConnectionTracer Instance = new();

    private NullConnectionTracer() { }

    public bool IsEnabled => false;
    public void AdvanceTime(long now) { }
    public void ConnectionStarted(in ConnectionId sourceConnectionId, in ConnectionId destinationConnectionId) { }
    public void ParametersSet(bool local, TransportParameters parameters) { }
    public void PacketSent(QuicPacketType type, ulong packetNumber, ReadOnlySpan<byte> destinationConnectionId, int length, ReadOnlySpan<byte> payload) { }
    public void PacketReceived(QuicPacketType type, ulong packetNumber, ReadOnlySpan<byte> destinationConnectionId, int length, ReadOnlySpan<byte> payload) { }
    public void PacketLost(QuicPacketType type, ulong packetNumber) { }
    public void MetricsUpdated(RttEstimator rtt, ICongestionController congestion) { }
    public void KeyUpdated(TracedKeyType keyType, ulong generation, KeyUpdateTrigger trigger) { }
    public void KeyDiscarded(TracedKeyType keyType, ulong generation) { }
    public void ConnectionClosed(in ConnectionCloseInfo info) { }
    public void Flush() { }
    public void Dispose() { }
}
