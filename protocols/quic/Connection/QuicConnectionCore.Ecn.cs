using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Wire.Frames;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Connection;

// ECN (RFC 9000 §13.4, RFC 9002 §7.1): the owner passes each datagram's codepoint in and sends ours out; the receive
// side counts codepoints per space into ACK_ECN frames (ReceivedPacketTracker), the send side marks ECT(0), validates
// the peer's counts and takes ECN-CE rises as congestion (Recovery/EcnValidation, driven by LossDetection).
public sealed partial class QuicConnectionCore
{
    /// <summary>The ECN codepoint of the datagram being processed (0: Not-ECT, or unknown).</summary>
    private byte _datagramEcn;
    private EcnValidation? _ecnValidation;

    /// <summary>Made in the constructor (<see cref="CreateEcnValidation"/>), after loss detection exists.</summary>
    private EcnValidation Ecn => _ecnValidation!;

    private EcnValidation CreateEcnValidation()
    {
        var validation = new EcnValidation(_settings.EnableEcn);
        if (_settings.EnableEcn) _loss.Ecn = validation;
        return validation;
    }

    /// <summary>
    /// The codepoint for the IP header of the datagram <see cref="WriteDatagram"/> returned last (ECT(0) or Not-ECT):
    /// its packets were recorded as sent with it, so the owner must send it with exactly this one.
    /// </summary>
    public byte EcnCodepointToSend => Ecn.DatagramCodepoint;
    public EcnState EcnState => Ecn.State;
    /// <summary>Why ECN validation failed, if it did.</summary>
    public string? EcnFailureReason => Ecn.FailureReason;
    /// <summary>Congestion events raised by the peer's ECN-CE counts.</summary>
    public long EcnCongestionEvents => Ecn.CongestionEvents;
    private void LogEcnChange()
    {
        if (Ecn.State == EcnState.Failed) _log.LogDebug("ECN validation failed: {Reason}; no more ECT(0) marks", Ecn.FailureReason);
        else _log.LogDebug("ECN {State}: the peer's counts match our ECT(0) marks", Ecn.State == EcnState.Capable ? "capable" : Ecn.State.ToString());
    }

    /// <summary>What our ACKs report for the application space (null: nothing arrived with an ECN codepoint).</summary>
    public EcnCounts? ReceivedEcnCounts => _spaces[2].Received.EcnCounts;
}
