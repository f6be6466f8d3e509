using Xunit;
using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Wire;
using static FastRelay.Tests.Quic.Recovery.RecoveryTestHelpers;

namespace FastRelay.Tests.Quic.Recovery;

public class LossDetectionTests
{
    private const PacketNumberSpace App = PacketNumberSpace.ApplicationData;
    private const PacketNumberSpace Initial = PacketNumberSpace.Initial;
    private const PacketNumberSpace Handshake = PacketNumberSpace.Handshake;

    private static (LossDetection Ld, NewRenoCongestionController Cc, RttEstimator Rtt, RecordingSink Sink) Create(bool isServer = true, bool confirmed = true)
    {
        var rtt = new RttEstimator();
        var cc = new NewRenoCongestionController(1200, rtt);
        var ld = new LossDetection(rtt, cc, isServer) { HandshakeConfirmed = confirmed };
        return (ld, cc, rtt, new RecordingSink());
    }

    [Fact]
    public void PacketThresholdThenTimeThreshold()
    {
        var (ld, cc, rtt, sink) = Create();
        for (ulong pn = 0; pn < 5; pn++) Send(ld, App, pn, (long)pn * 1_000);
        Assert.Equal(6_000, cc.BytesInFlight);

        AckOk(ld, Ack(0, (3, 3)), App, 50_000, sink);
        Assert.Equal([3UL], sink.Acked);
        Assert.Equal(47_000, rtt.SmoothedRtt); // first sample: 50 ms - 3 ms
        // 0 is 3 below the largest acked: lost. 1 and 2 wait for the time threshold 9/8 · 47 ms = 52.875 ms.
        Assert.Equal([0UL], sink.Lost);
        Assert.Equal(1_000 + 52_875, ld.LossDetectionTimer);
        Assert.Equal(3_600, cc.BytesInFlight);

        ld.OnLossDetectionTimeout(ld.LossDetectionTimer, sink);
        Assert.Equal([0UL, 1UL], sink.Lost);
        Assert.Equal(2_000 + 52_875, ld.LossDetectionTimer);
        Assert.Equal(0, ld.PtoCount); // a loss timer is not a PTO
        ld.OnLossDetectionTimeout(ld.LossDetectionTimer, sink);
        Assert.Equal([0UL, 1UL, 2UL], sink.Lost);
        Assert.Empty(sink.Probes);
        // Only packet 4 remains: the timer is now its PTO.
        Assert.Equal(1, ld.AckElicitingInFlight(App));
        Assert.Equal(1_200, cc.BytesInFlight);
    }

    [Fact]
    public void TimeThresholdUsesTheLargerOfLatestAndSmoothedRtt()
    {
        var (ld, _, rtt, sink) = Create();
        Send(ld, App, 0, 0);
        AckOk(ld, Ack(0, (0, 0)), App, 40_000, sink); // srtt 40 ms
        Send(ld, App, 1, 100_000);
        Send(ld, App, 2, 100_000);
        AckOk(ld, Ack(0, (2, 2), (0, 0)), App, 180_000, sink); // latest 80 ms
        Assert.Equal(80_000, rtt.LatestRtt);
        Assert.Equal(45_000, rtt.SmoothedRtt);
        Assert.Empty(sink.Lost);
        Assert.Equal(100_000 + 90_000, ld.LossDetectionTimer); // 9/8 · 80 ms
        ld.OnLossDetectionTimeout(189_999, sink);
        Assert.Empty(sink.Lost); // early wake-up does nothing
        ld.OnLossDetectionTimeout(190_000, sink);
        Assert.Equal([1UL], sink.Lost);
    }

    [Fact]
    public void PtoBacksOffExponentiallyPerSpace()
    {
        var (ld, _, _, sink) = Create(confirmed: false);
        Send(ld, Initial, 0, 0);
        Assert.Equal(999_000, ld.LossDetectionTimer); // 333 + 4·166.5 ms
        ld.OnLossDetectionTimeout(999_000, sink);
        Assert.Equal([(Initial, 2)], sink.Probes);
        Assert.Equal(1, ld.PtoCount);
        Assert.Equal(2 * 999_000, ld.LossDetectionTimer);
        ld.OnLossDetectionTimeout(2 * 999_000, sink);
        Assert.Equal(2, ld.PtoCount);
        Assert.Equal(4 * 999_000, ld.LossDetectionTimer);

        // The earliest space wins: a Handshake packet sent at 10 ms has its PTO later than Initial's.
        Send(ld, Handshake, 0, 10_000);
        Assert.Equal(4 * 999_000, ld.LossDetectionTimer);
        ld.DiscardSpace(Initial); // resets the backoff
        Assert.Equal(0, ld.PtoCount);
        Assert.Equal(10_000 + 999_000, ld.LossDetectionTimer);
        ld.OnLossDetectionTimeout(ld.LossDetectionTimer, sink);
        Assert.Equal((Handshake, 2), sink.Probes[^1]);
    }

    [Fact]
    public void ApplicationDataPtoWaitsForConfirmationAndIncludesMaxAckDelay()
    {
        var (ld, _, _, sink) = Create(confirmed: false);
        ld.MaxAckDelay = 25_000;
        Send(ld, App, 0, 0);
        Assert.Equal(long.MaxValue, ld.LossDetectionTimer); // §6.2.1: no 1-RTT PTO before confirmation
        ld.HandshakeConfirmed = true;
        Assert.Equal(999_000 + 25_000, ld.LossDetectionTimer);
        ld.OnLossDetectionTimeout(ld.LossDetectionTimer, sink);
        Assert.Equal([(App, 2)], sink.Probes);
        Assert.Equal(2 * (999_000 + 25_000), ld.LossDetectionTimer);
        // An ACK resets the backoff.
        AckOk(ld, Ack(0, (0, 0)), App, 100_000, sink);
        Assert.Equal(0, ld.PtoCount);
        Assert.Equal(long.MaxValue, ld.LossDetectionTimer); // nothing in flight, server
    }

    [Fact]
    public void PtoNotArmedWhileAmplificationBlocked()
    {
        var (ld, _, _, sink) = Create(confirmed: false);
        ld.AmplificationBlocked = true;
        Send(ld, Initial, 0, 0);
        Assert.Equal(long.MaxValue, ld.LossDetectionTimer);
        ld.OnLossDetectionTimeout(2_000_000, sink);
        Assert.Empty(sink.Probes);
        ld.AmplificationBlocked = false; // a datagram arrived: re-arm (A.6)
        Assert.Equal(999_000, ld.LossDetectionTimer);
    }

    [Fact]
    public void ClientArmsAntiDeadlockPtoBeforeAddressValidation()
    {
        var (ld, _, _, sink) = Create(isServer: false, confirmed: false);
        sink.OnProbe = (space, count) => Send(ld, space, space == Initial ? 1UL : 0UL, ld.LossDetectionTimer);
        Send(ld, Initial, 0, 0);
        AckOk(ld, Ack(0, (0, 0)), Initial, 100_000, sink); // srtt 100 ms, rttvar 50 ms → PTO 300 ms
        Assert.Equal(0, ld.AckElicitingInFlight(Initial));
        Assert.False(ld.PeerCompletedAddressValidation);
        // Nothing in flight, but the server may be amplification-blocked: the client keeps a timer from now.
        Assert.Equal(100_000 + 300_000, ld.LossDetectionTimer);

        var sinkNoSend = new RecordingSink();
        ld.OnLossDetectionTimeout(400_000, sinkNoSend);
        Assert.Equal([(Initial, 1)], sinkNoSend.Probes); // one padded Initial
        Assert.Equal(1, ld.PtoCount);
        Assert.Equal(400_000 + 600_000, ld.LossDetectionTimer); // backoff, still from "now"

        ld.SetHasKeys(Handshake, true);
        ld.DiscardSpace(Initial);
        Assert.Equal(0, ld.PtoCount);
        ld.OnLossDetectionTimeout(ld.LossDetectionTimer, sink);
        Assert.Equal((Handshake, 1), sink.Probes[^1]); // with Handshake keys the probe proves address ownership
        Assert.Equal(1, ld.AckElicitingInFlight(Handshake));

        // A Handshake ACK validates the client's address: no timer with nothing in flight.
        AckOk(ld, Ack(0, (0, 0)), Handshake, 800_000, sink);
        Assert.True(ld.PeerCompletedAddressValidation);
        Assert.Equal(long.MaxValue, ld.LossDetectionTimer);

        // A server never does this.
        var (server, _, _, _) = Create(isServer: true, confirmed: false);
        Assert.Equal(long.MaxValue, server.LossDetectionTimer);
    }

    [Fact]
    public void DiscardSpaceRemovesBytesInFlightWithoutReportingLoss()
    {
        var (ld, cc, _, sink) = Create(confirmed: false);
        for (ulong pn = 0; pn < 3; pn++) Send(ld, Initial, pn, 0);
        Send(ld, Initial, 3, 0, size: 50, ackEliciting: false, inFlight: false);
        for (ulong pn = 0; pn < 2; pn++) Send(ld, Handshake, pn, 0);
        Assert.Equal(6_000, cc.BytesInFlight);
        ld.DiscardSpace(Initial);
        Assert.Equal(2_400, cc.BytesInFlight);
        Assert.Equal(0, ld.AckElicitingInFlight(Initial));
        Assert.Equal(0, ld.OutstandingPackets(Initial));
        Assert.Equal(0, ld.TimeOfLastAckElicitingPacket(Initial));
        Assert.False(ld.HasKeys(Initial));
        Assert.Empty(sink.Lost);
        Assert.Empty(sink.Acked);
        Assert.Equal(12_000, cc.CongestionWindow); // no congestion signal
        // A late ACK for the discarded packets is harmless.
        AckOk(ld, Ack(0, (2, 0)), Initial, 10_000, sink);
        Assert.Empty(sink.Acked);
        Assert.Equal(2_400, cc.BytesInFlight);
    }

    [Fact]
    public void AckOfUnsentNumberIsProtocolViolation()
    {
        var (ld, cc, _, sink) = Create();
        Assert.False(ld.TryOnAckReceived(Ack(0, (0, 0)), App, 1_000, 3, 25_000, sink, out var error));
        Assert.Equal(QuicTransportError.ProtocolViolation, error.Code);

        for (ulong pn = 0; pn < 3; pn++) Send(ld, App, pn, 0);
        Assert.False(ld.TryOnAckReceived(Ack(0, (5, 0)), App, 1_000, 3, 25_000, sink, out error));
        Assert.Equal(QuicTransportError.ProtocolViolation, error.Code);
        Assert.Equal(0x02UL, error.FrameType);
        // Nothing was processed.
        Assert.Empty(sink.Acked);
        Assert.Equal(3_600, cc.BytesInFlight);
        Assert.Equal(3, ld.OutstandingPackets(App));
        // Another space's numbers don't count.
        Assert.False(ld.TryOnAckReceived(Ack(0, (0, 0)), Handshake, 1_000, 3, 25_000, sink, out error));
    }

    [Fact]
    public void AckOfSkippedNumberIsProtocolViolation()
    {
        var (ld, _, _, sink) = Create();
        Send(ld, App, 0, 0);
        Send(ld, App, 1, 0);
        Send(ld, App, 3, 0); // 2 skipped (optimistic-ACK defence, RFC 9000 §21.4)
        Assert.False(ld.TryOnAckReceived(Ack(0, (3, 0)), App, 1_000, 3, 25_000, sink, out var error));
        Assert.Equal(QuicTransportError.ProtocolViolation, error.Code);
        Assert.Empty(sink.Acked);
        AckOk(ld, Ack(0, (3, 3), (1, 0)), App, 1_000, sink);
        Assert.Equal([3UL, 1UL, 0UL], sink.Acked);
    }

    [Fact]
    public void DuplicateAndOldAcksAreHarmless()
    {
        var (ld, cc, rtt, sink) = Create();
        for (ulong pn = 0; pn < 3; pn++) Send(ld, App, pn, 0);
        AckOk(ld, Ack(0, (2, 1)), App, 30_000, sink);
        Assert.Empty(sink.Lost); // 0 is only 2 below the largest and within 9/8 RTT
        long srtt = rtt.SmoothedRtt, cwnd = cc.CongestionWindow, bif = cc.BytesInFlight, timer = ld.LossDetectionTimer;
        Assert.Equal(33_750, timer);
        AckOk(ld, Ack(0, (2, 1)), App, 31_000, sink);
        AckOk(ld, Ack(0, (1, 1)), App, 32_000, sink);
        Assert.Equal([2UL, 1UL], sink.Acked);
        Assert.Equal(srtt, rtt.SmoothedRtt);
        Assert.Equal(cwnd, cc.CongestionWindow);
        Assert.Equal(bif, cc.BytesInFlight);
        Assert.Equal(timer, ld.LossDetectionTimer);
        // Acking the rest later: only 0 is new; no RTT sample (the largest, 2, is not newly acked).
        AckOk(ld, Ack(0, (2, 0)), App, 33_000, sink);
        Assert.Equal([2UL, 1UL, 0UL], sink.Acked);
        Assert.Empty(sink.Lost);
        Assert.Equal(srtt, rtt.SmoothedRtt);
        Assert.Equal(0, cc.BytesInFlight);
        Assert.Equal(long.MaxValue, ld.LossDetectionTimer);
    }

    [Fact]
    public void GapsAndLateRegistrationInSentNumbers()
    {
        var (ld, cc, _, sink) = Create();
        foreach (ulong pn in new ulong[] { 0, 1, 5, 6, 10 }) Send(ld, App, pn, 0);
        AckOk(ld, Ack(0, (10, 10), (6, 5)), App, 20_000, sink);
        Assert.Equal([10UL, 6UL, 5UL], sink.Acked);
        Assert.Equal([0UL, 1UL], sink.Lost); // packet threshold counts numbers, gaps included
        Assert.Equal(0, cc.BytesInFlight);

        // Kernel-style late registration: 12 and 14 first, 13 later; then 11 (below every outstanding number).
        Send(ld, App, 12, 30_000);
        Send(ld, App, 14, 30_000);
        Send(ld, App, 13, 30_100);
        Send(ld, App, 11, 30_200);
        Assert.Equal(4, ld.OutstandingPackets(App));
        Assert.Throws<ArgumentException>(() => Send(ld, App, 13, 30_300));
        AckOk(ld, Ack(0, (14, 11)), App, 50_000, sink);
        Assert.Equal([10UL, 6UL, 5UL, 14UL, 13UL, 12UL, 11UL], sink.Acked);
        Assert.Equal(0, ld.OutstandingPackets(App));
        Assert.Equal(0, cc.BytesInFlight);
    }

    [Fact]
    public void PersistentCongestionCollapsesTheWindow()
    {
        foreach (bool ackInBetween in new[] { false, true })
        {
            var (ld, cc, rtt, sink) = Create();
            Send(ld, App, 0, 0);
            AckOk(ld, Ack(0, (0, 0)), App, 100_000, sink); // srtt 100 ms, rttvar 50 ms; cwnd 13 200
            // Persistent congestion needs the lost ack-eliciting packets to span more than (srtt + 4·rttvar + 25 ms) · 3.
            Send(ld, App, 1, 200_000);
            Send(ld, App, 2, 700_000);
            Send(ld, App, 3, 1_300_000);
            Send(ld, App, 4, 1_400_000);
            var ack = ackInBetween ? Ack(0, (4, 4), (2, 2)) : Ack(0, (4, 4));
            AckOk(ld, ack, App, 1_500_000, sink);
            Assert.Equal(ackInBetween ? [1UL, 3UL] : [1UL, 2UL, 3UL], sink.Lost);
            // Without an acknowledgment between them the losses span 1.1 s > 825 ms (rttvar fell to 37.5 ms with this
            // ACK's sample): persistent congestion → 2 400, and since that also ends the recovery period the newly
            // acked packet 4 grows it by 1 200 in slow start (B.8 runs OnPacketsLost before OnPacketsAcked). With packet
            // 2 acknowledged in between there is only the single halving 13 200 → 6 600 (4 was sent before recovery).
            Assert.Equal(ackInBetween ? 6_600 : 3_600, cc.CongestionWindow);
            Assert.Equal(0, cc.BytesInFlight);
        }
    }

    [Fact]
    public void NoPersistentCongestionWithoutPriorRttSample()
    {
        var (ld, cc, _, sink) = Create();
        Send(ld, App, 0, 0);
        Send(ld, App, 1, 2_000_000);
        Send(ld, App, 2, 4_000_000);
        Send(ld, App, 3, 4_000_000);
        AckOk(ld, Ack(0, (3, 3)), App, 4_100_000, sink);
        // The only RTT sample comes with this very ACK, so no loss counts toward persistent congestion.
        Assert.Equal([0UL, 1UL], sink.Lost);
        Assert.Equal(6_000, cc.CongestionWindow); // halved once, not collapsed
    }

    [Fact]
    public void AckOnlyPacketsAreTrackedButNotInFlight()
    {
        var (ld, cc, _, sink) = Create();
        var p = Send(ld, App, 0, 0, size: 40, ackEliciting: false, inFlight: false);
        Assert.Equal(0, cc.BytesInFlight);
        Assert.Equal(long.MaxValue, ld.LossDetectionTimer);
        Send(ld, App, 1, 1_000);
        AckOk(ld, Ack(0, (1, 0)), App, 10_000, sink);
        Assert.Equal([1UL, 0UL], sink.Acked);
        // Pooled: the released objects come back.
        var rented = new[] { ld.RentPacket(), ld.RentPacket() };
        Assert.Contains(p, rented);
        Assert.Empty(rented[0].Frames);
    }

    [Fact]
    public void AckDelayIsScaledByExponentAndIgnoredInInitial()
    {
        var (ld, _, rtt, sink) = Create();
        Send(ld, App, 0, 0);
        AckOk(ld, Ack(0, (0, 0)), App, 100_000, sink);
        Send(ld, App, 1, 200_000);
        // 1250 << 3 = 10 ms of ack delay: adjusted 110 ms.
        AckOk(ld, Ack(1_250, (1, 1)), App, 320_000, sink, exponent: 3);
        Assert.Equal((7 * 100_000 + 110_000) / 8, rtt.SmoothedRtt);

        var (ld2, _, rtt2, sink2) = Create(confirmed: false);
        Send(ld2, Initial, 0, 0);
        AckOk(ld2, Ack(0, (0, 0)), Initial, 100_000, sink2);
        Send(ld2, Initial, 1, 200_000);
        AckOk(ld2, Ack(1_250, (1, 1)), Initial, 320_000, sink2, exponent: 3);
        Assert.Equal((7 * 100_000 + 120_000) / 8, rtt2.SmoothedRtt);
    }
}
