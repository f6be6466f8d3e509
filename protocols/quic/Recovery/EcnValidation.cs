using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;

namespace FastRelay.Protocols.Quic.Recovery;

public enum EcnState : byte
{
    /// <summary>Not attempted: switched off, or the socket can neither mark nor read ECN.</summary>
    Disabled,
    /// <summary>Marking ECT(0) (the first <see cref="EcnValidation.TestingPackets"/> packets) and waiting for an ACK that covers marked packets.</summary>
    Testing,
    /// <summary>The testing packets are out; nothing more is marked until their acknowledgment validates the path.</summary>
    Unknown,
    /// <summary>The peer's ECN counts matched what we marked: the path and the peer carry ECN.</summary>
    Capable,
    /// <summary>Validation failed (bleached or mangled marks, no counts): no more marking on this connection.</summary>
    Failed,
}

/// <summary>
/// The sender half of ECN (RFC 9000 §13.4.2, RFC 9002 §7.1 and B.7): which packets went out marked ECT(0), whether the
/// peer's ACK_ECN counts agree with that, and when a rise of the ECN-CE count is a congestion signal. Counts are kept
/// per packet number space, as the peer keeps them. Marking stops for good at the first failed validation.
/// <para>A path that drops ECT packets outright must not cost the connection (§13.4.2.1): only the first
/// <see cref="TestingPackets"/> packets are marked until an ACK validates them; if every marked packet is declared lost
/// instead, marking is off for good, and the unmarked packets that followed carry on.</para>
/// </summary>
public sealed class EcnValidation
{
    private const int SpaceCount = 3;
    private readonly ulong[] _markedSent = new ulong[SpaceCount];
    private readonly EcnCounts[] _lastReported = new EcnCounts[SpaceCount];
    /// <summary>RFC 9000 §13.4.2.1 suggests ten.</summary>
    public const int TestingPackets = 10;
    private long _markedTotal, _markedLostWhileTesting;

    public EcnValidation(bool enabled) => State = enabled ? EcnState.Testing : EcnState.Disabled;

    public EcnState State { get; private set; }
    /// <summary>Why validation failed (for logs and tests); null otherwise.</summary>
    public string? FailureReason { get; private set; }
    /// <summary>Congestion signals taken from rises of the peer's ECN-CE count.</summary>
    public long CongestionEvents { get; private set; }

    /// <summary>The codepoint our packets carry now: ECT(0) while testing or capable, Not-ECT otherwise.</summary>
    public byte CodepointToSend => _started && (State == EcnState.Capable || State == EcnState.Testing && _markedTotal < TestingPackets) ? (byte)0x02 : (byte)0x00;

    /// <summary>
    /// Marking starts once the handshake is confirmed, so only 1-RTT packets are ever marked: a path that drops ECT
    /// packets then costs ten 1-RTT packets (recovered by ordinary loss detection), never the handshake, whose
    /// exponentially backed-off PTOs would need tens of seconds to get past ten lost marked packets.
    /// </summary>
    public void Start() => _started = true;
    private bool _started;

    /// <summary>The codepoint of the datagram being built (fixed by <see cref="BeginDatagram"/>): all its packets carry it.</summary>
    public byte DatagramCodepoint { get; private set; }

    /// <summary>A new datagram starts: it carries the codepoint due now, even if a packet in it ends the testing period.</summary>
    public void BeginDatagram() => DatagramCodepoint = CodepointToSend;

    /// <summary>Records a packet being sent in the current datagram.</summary>
    public void OnPacketSent(SentPacket packet)
    {
        packet.EcnMarked = DatagramCodepoint != 0;
        if (!packet.EcnMarked) return;
        _markedSent[(int)packet.Space]++;
        if (++_markedTotal == TestingPackets && State == EcnState.Testing) State = EcnState.Unknown;
    }

    /// <summary>A packet sent with ECT(0) was declared lost; before validation, losing every one of them means the marks did it.</summary>
    public void OnMarkedPacketLost()
    {
        if (State is not (EcnState.Testing or EcnState.Unknown)) return;
        if (++_markedLostWhileTesting >= _markedTotal && State == EcnState.Unknown) Fail("every ECT(0) packet was lost (the path drops marked packets)");
    }

    /// <summary>
    /// One ACK frame's effect: <paramref name="newlyAckedMarked"/> of the packets it newly acknowledged were sent ECT(0).
    /// Returns true when the ECN-CE count rose (the caller raises one congestion event for the largest newly
    /// acknowledged packet). Validation (§13.4.2.1): counts that fall, that exceed what we marked, an ECT(0) + ECN-CE
    /// rise smaller than the marked packets newly acknowledged, or no counts at all for marked packets, fail it.
    /// </summary>
    public bool OnAck(PacketNumberSpace space, EcnCounts? reported, int newlyAckedMarked)
    {
        if (State is EcnState.Disabled or EcnState.Failed) return false;
        // Counted against what is marked so far, in every state (the first ACK may come back while still testing).
        int s = (int)space;
        if (reported is not { } now)
        {
            if (newlyAckedMarked > 0) Fail("an ACK without ECN counts acknowledged ECT(0) packets");
            return false;
        }
        var last = _lastReported[s];
        if (now.Ect0 < last.Ect0 || now.Ect1 < last.Ect1 || now.EcnCe < last.EcnCe)
        {
            // An ACK reordered behind a newer one can carry smaller counts (§13.4.2.1 allows ignoring it): only a
            // decrease within one ACK that acknowledges something new is an error.
            if (newlyAckedMarked > 0) Fail("ECN counts decreased");
            return false;
        }
        if (now.Ect1 > last.Ect1)
        {
            Fail("ECT(1) counted, but we mark only ECT(0)");
            return false;
        }
        if (now.Ect0 + now.EcnCe > _markedSent[s])
        {
            Fail("more ECT(0) + ECN-CE counted than packets we marked");
            return false;
        }
        if (newlyAckedMarked > 0 && now.Ect0 + now.EcnCe - (last.Ect0 + last.EcnCe) < (ulong)newlyAckedMarked)
        {
            Fail("ECT(0) + ECN-CE rose less than the ECT(0) packets newly acknowledged (marks bleached on the path)");
            return false;
        }
        _lastReported[s] = now;
        if (newlyAckedMarked > 0 && State is EcnState.Testing or EcnState.Unknown) State = EcnState.Capable;
        if (now.EcnCe > last.EcnCe)
        {
            CongestionEvents++;
            return true;
        }
        return false;
    }

    private void Fail(string reason)
    {
        State = EcnState.Failed;
        FailureReason = reason;
    }
}
