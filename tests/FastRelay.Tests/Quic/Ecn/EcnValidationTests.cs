using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;
using Xunit;

namespace FastRelay.Tests.Quic.Ecn;

/// <summary>The sender's ECN validation (RFC 9000 §13.4.2) rule by rule, and the receiver's counts in ACK_ECN frames.</summary>
public sealed class EcnValidationTests
{
    /// <summary>Sends <paramref name="count"/> one-packet datagrams in the application space; returns the packets.</summary>
    private static EcnValidation Started()
    {
        var ecn = new EcnValidation(enabled: true);
        ecn.Start();
        return ecn;
    }

    private static List<SentPacket> Send(EcnValidation ecn, int count, ulong first = 0)
    {
        var sent = new List<SentPacket>();
        for (int i = 0; i < count; i++)
        {
            ecn.BeginDatagram();
            var p = new SentPacket { PacketNumber = first + (ulong)i, Space = PacketNumberSpace.ApplicationData };
            ecn.OnPacketSent(p);
            sent.Add(p);
        }
        return sent;
    }

    [Fact]
    public void Only_the_first_ten_packets_are_marked_until_an_ack_validates_them()
    {
        var ecn = new EcnValidation(enabled: true);
        Assert.All(Send(ecn, 3), p => Assert.False(p.EcnMarked));   // nothing before the handshake is confirmed
        ecn.Start();
        var sent = Send(ecn, 15, 3);
        Assert.Equal(10, sent.Count(p => p.EcnMarked));
        Assert.Equal(EcnState.Unknown, ecn.State);
        Assert.Equal(0, ecn.CodepointToSend);
        Assert.False(ecn.OnAck(PacketNumberSpace.ApplicationData, new EcnCounts(10, 0, 0), newlyAckedMarked: 10));
        Assert.Equal(EcnState.Capable, ecn.State);
        Assert.Equal(2, ecn.CodepointToSend);
        Assert.All(Send(ecn, 5, 15), p => Assert.True(p.EcnMarked));
    }

    [Fact]
    public void Losing_every_marked_packet_turns_marking_off()
    {
        var ecn = Started();
        Send(ecn, 12);
        for (int i = 0; i < 9; i++) ecn.OnMarkedPacketLost();
        Assert.Equal(EcnState.Unknown, ecn.State);   // one marked packet may still arrive
        ecn.OnMarkedPacketLost();
        Assert.Equal(EcnState.Failed, ecn.State);
        Assert.Equal(0, ecn.CodepointToSend);
    }

    [Theory]
    [InlineData(null, 0UL, 0UL, 0UL, "no counts for marked packets")]
    [InlineData(true, 3UL, 0UL, 0UL, "ECT(0) + CE rose by 3 for 5 marked packets")]
    [InlineData(true, 5UL, 1UL, 0UL, "ECT(1) counted")]
    [InlineData(true, 11UL, 0UL, 0UL, "more counted than marked")]
    public void Counts_that_contradict_the_marks_fail_validation(bool? withCounts, ulong ect0, ulong ect1, ulong ce, string because)
    {
        var ecn = Started();
        Send(ecn, 10);
        ecn.OnAck(PacketNumberSpace.ApplicationData, withCounts is null ? null : new EcnCounts(ect0, ect1, ce), newlyAckedMarked: 5);
        Assert.True(ecn.State == EcnState.Failed, because);
        Assert.NotNull(ecn.FailureReason);
    }

    [Fact]
    public void A_rise_of_ecn_ce_is_a_congestion_signal_and_valid_feedback()
    {
        var ecn = Started();
        Send(ecn, 10);
        Assert.False(ecn.OnAck(PacketNumberSpace.ApplicationData, new EcnCounts(4, 0, 0), 4));
        Assert.True(ecn.OnAck(PacketNumberSpace.ApplicationData, new EcnCounts(6, 0, 2), 4));
        Assert.False(ecn.OnAck(PacketNumberSpace.ApplicationData, new EcnCounts(8, 0, 2), 2));   // no new CE: no signal
        Assert.Equal(EcnState.Capable, ecn.State);
        Assert.Equal(1, ecn.CongestionEvents);
        // Counts going down while acknowledging new marked packets is an error.
        Assert.False(ecn.OnAck(PacketNumberSpace.ApplicationData, new EcnCounts(7, 0, 2), 1));
        Assert.Equal(EcnState.Failed, ecn.State);
    }

    [Fact]
    public void Disabled_marks_nothing_and_ignores_acks()
    {
        var ecn = new EcnValidation(enabled: false);
        Assert.All(Send(ecn, 5), p => Assert.False(p.EcnMarked));
        Assert.False(ecn.OnAck(PacketNumberSpace.ApplicationData, new EcnCounts(0, 0, 9), 0));
        Assert.Equal(EcnState.Disabled, ecn.State);
    }

    [Fact]
    public void The_receiver_reports_its_counts_in_an_ack_ecn_frame()
    {
        var tracker = new ReceivedPacketTracker(PacketNumberSpace.ApplicationData);
        var buffer = new byte[64];
        tracker.OnPacketReceived(0, true, 0);
        Assert.True(tracker.WriteAckFrame(buffer, 0, 3) > 0);
        Assert.Equal((byte)FrameType.Ack, buffer[0]);   // Not-ECT only: a plain ACK (0x02)
        tracker.OnPacketReceived(1, true, 0);
        tracker.OnEcnCodepoint(0x02);
        tracker.OnPacketReceived(2, true, 0);
        tracker.OnEcnCodepoint(0x03);
        int n = tracker.WriteAckFrame(buffer, 0, 3);
        Assert.Equal((byte)FrameType.AckEcn, buffer[0]);
        var reader = new QuicReader(buffer.AsMemory(1, n - 1));
        Assert.True(AckFrame.TryRead(ref reader, FrameType.AckEcn, out var frame, out var error), error.ToString());
        Assert.Equal(new EcnCounts(1, 0, 1), frame.Ecn);
    }
}
