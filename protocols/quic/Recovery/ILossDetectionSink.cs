using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Recovery;

/// <summary>
/// What loss detection asks of the connection. Called synchronously from <see cref="LossDetection"/>; the packet
/// objects are returned to the pool right after the call, so implementations copy what they need (the frames'
/// information) and keep no reference. Implementations may send from <see cref="SendProbes"/> (renting packets and
/// calling <see cref="LossDetection.OnPacketSent"/>), but should only queue work from the other two callbacks.
/// </summary>
public interface ILossDetectionSink
{
    /// <summary>Newly acknowledged: confirm the frames (and, if <see cref="SentPacket.LargestAcknowledgedInAck"/> is set,
    /// prune the space's <see cref="ReceivedPacketTracker"/>).</summary>
    void OnPacketAcked(SentPacket packet);

    /// <summary>Declared lost: requeue the information its frames carried (RFC 9000 §13.3).</summary>
    void OnPacketLost(SentPacket packet);

    /// <summary>The PTO fired: send <paramref name="count"/> (1 or 2) ack-eliciting packets in <paramref name="space"/>
    /// (new data, else retransmitted data, else PING; an anti-deadlock client Initial is padded to 1200 bytes).</summary>
    void SendProbes(PacketNumberSpace space, int count);
}
