using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Recovery;

/// <summary>
/// One sent packet as loss detection remembers it (RFC 9002 Appendix A.1.1). Instances are pooled by
/// <see cref="LossDetection"/>: rent with <see cref="LossDetection.RentPacket"/>, fill <see cref="Frames"/> while the
/// packet is built, hand it over with <see cref="LossDetection.OnPacketSent"/>. After the sink has been told that the
/// packet was acknowledged or lost (or its space was discarded) the object goes back to the pool and is reused, so
/// nobody may keep a reference to it past that callback.
/// </summary>
public sealed class SentPacket
{
    public ulong PacketNumber;
    public PacketNumberSpace Space;
    /// <summary>Absolute send time in microseconds (set by <see cref="LossDetection.OnPacketSent"/>).</summary>
    public long TimeSent;
    /// <summary>Bytes of the QUIC packet (header + payload + AEAD tag), no UDP/IP overhead.</summary>
    public int Size;
    public bool AckEliciting;
    /// <summary>Counts toward bytes in flight: ack-eliciting or carrying PADDING (RFC 9002 §2).</summary>
    public bool InFlight;
    /// <summary>What to redo if lost / confirm if acked. Keeps its capacity across reuse: no per-packet allocation.</summary>
    public readonly List<SentFrame> Frames = new(8);
    /// <summary>
    /// If the packet carried an ACK frame: that frame's Largest Acknowledged. When this packet is acknowledged the
    /// connection passes it to <see cref="ReceivedPacketTracker.OnAckOfAckReceived"/> (RFC 9000 §13.2.4).
    /// </summary>
    public ulong? LargestAcknowledgedInAck;
    /// <summary>A DPLPMTUD probe (PING + PADDING): its loss says the path is too small, not that it is congested (RFC 9000 §14.4).</summary>
    public bool IsPathMtuProbe;
    /// <summary>Sent with ECT(0) in its IP header (RFC 9000 §13.4.2): its acknowledgment must show in the peer's ECN counts.</summary>
    public bool EcnMarked;

    /// <summary>Set while the object sits in the pool: catches a double return or use after release.</summary>
    internal bool Pooled;

    internal void Clear()
    {
        PacketNumber = 0;
        Space = PacketNumberSpace.Initial;
        TimeSent = 0;
        Size = 0;
        IsPathMtuProbe = false;
        EcnMarked = false;
        AckEliciting = false;
        InFlight = false;
        Frames.Clear();
        LargestAcknowledgedInAck = null;
    }
}
