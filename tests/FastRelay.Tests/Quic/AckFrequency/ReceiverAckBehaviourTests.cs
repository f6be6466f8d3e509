using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Wire;
using Xunit;

namespace FastRelay.Tests.Quic.AckFrequency;

/// <summary>
/// When the receiver acknowledges under an ACK_FREQUENCY (draft-ietf-quic-ack-frequency-12 §6): the Ack-Eliciting
/// Threshold, the max_ack_delay deadline, the reordering window of §6.2 (its own example tables), CE (§6.3) and
/// IMMEDIATE_ACK (§5), on the 1-RTT space's <see cref="ReceivedPacketTracker"/>.
/// </summary>
public class ReceiverAckBehaviourTests
{
    private const long MaxAckDelay = 25_000;

    private static bool AckDueNow(ReceivedPacketTracker t) => t.AckDeadline(MaxAckDelay) == long.MinValue;

    private static void SendAck(ReceivedPacketTracker t) => Assert.True(t.WriteAckFrame(new byte[1500], 0, 3) > 0);

    [Theory]
    [InlineData(0UL)]
    [InlineData(1UL)]
    [InlineData(4UL)]
    [InlineData(9UL)]
    public void An_ack_is_due_once_more_than_the_threshold_arrived_and_not_before(ulong threshold)
    {
        var t = new ReceivedPacketTracker(PacketNumberSpace.ApplicationData);
        t.SetAckFrequency(threshold, 1);
        ulong pn = 0;
        for (int round = 0; round < 3; round++)
        {
            for (ulong i = 0; i < threshold; i++)
            {
                t.OnPacketReceived(pn++, true, 1000);
                Assert.False(AckDueNow(t), $"ACK due after {i + 1} packets with threshold {threshold}");
                Assert.Equal(1000 + MaxAckDelay, t.AckDeadline(MaxAckDelay));   // the delay timer still runs
            }
            t.OnPacketReceived(pn++, true, 1000);
            Assert.True(AckDueNow(t), $"no ACK due after {threshold + 1} packets with threshold {threshold}");
            SendAck(t);
        }
    }

    [Fact]
    public void Without_ack_frequency_every_second_packet_and_every_gap_is_acknowledged_at_once()
    {
        var t = new ReceivedPacketTracker(PacketNumberSpace.ApplicationData);
        t.OnPacketReceived(0, true, 0);
        Assert.False(AckDueNow(t));
        t.OnPacketReceived(1, true, 0);
        Assert.True(AckDueNow(t));
        SendAck(t);
        t.OnPacketReceived(3, true, 0);   // a gap: RFC 9000 §13.2.1
        Assert.True(AckDueNow(t));
    }

    // The draft's table "Acknowledgement behavior with a reordering threshold of 3" (§6.2.1): received packet, ACK due.
    public static TheoryData<ulong, ulong[], bool[]> DraftTables => new()
    {
        { 3, [0, 1, 3, 4, 5, 8, 9, 10], [false, false, false, false, true, false, true, true] },
        { 5, [0, 1, 3, 5, 6, 7, 8, 9], [false, false, false, false, false, true, false, true] },
    };

    [Theory]
    [MemberData(nameof(DraftTables))]
    public void The_reordering_window_follows_the_drafts_example_tables(ulong reorderingThreshold, ulong[] received, bool[] ackExpected)
    {
        var t = new ReceivedPacketTracker(PacketNumberSpace.ApplicationData);
        // "acknowledgements are only sent due to reordering": a threshold no count reaches.
        t.SetAckFrequency(1000, reorderingThreshold);
        for (int i = 0; i < received.Length; i++)
        {
            t.OnPacketReceived(received[i], true, 0);
            Assert.True(ackExpected[i] == AckDueNow(t), $"packet {received[i]}: ACK due {AckDueNow(t)}, the draft says {ackExpected[i]}");
            if (AckDueNow(t)) SendAck(t);
        }
    }

    [Fact]
    public void A_packet_at_or_below_largest_acked_minus_the_threshold_is_acknowledged_at_once()
    {
        // §6.2, second condition: the sender may already have declared it lost; the ACK shows that was spurious.
        var t = new ReceivedPacketTracker(PacketNumberSpace.ApplicationData);
        t.SetAckFrequency(1000, 3);
        foreach (ulong pn in new ulong[] { 0, 1, 3, 4, 5, 6, 7 }) t.OnPacketReceived(pn, true, 0);
        if (AckDueNow(t)) SendAck(t);   // largest acked 7: largest reported missing 4
        Assert.False(AckDueNow(t));
        t.OnPacketReceived(2, true, 0);
        Assert.True(AckDueNow(t));
    }

    [Fact]
    public void A_reordering_threshold_of_zero_never_acknowledges_for_reordering()
    {
        var t = new ReceivedPacketTracker(PacketNumberSpace.ApplicationData);
        t.SetAckFrequency(1000, 0);
        foreach (ulong pn in new ulong[] { 0, 5, 2, 20, 1, 40 })
        {
            t.OnPacketReceived(pn, true, 0);
            Assert.False(AckDueNow(t), $"ACK due at {pn}");
        }
        Assert.Equal(MaxAckDelay, t.AckDeadline(MaxAckDelay));   // the timer still brings one
    }

    [Fact]
    public void Immediate_ack_makes_the_ack_due_at_once()
    {
        var t = new ReceivedPacketTracker(PacketNumberSpace.ApplicationData);
        t.SetAckFrequency(1000, 0);
        t.OnPacketReceived(0, true, 0);
        Assert.False(AckDueNow(t));
        t.AckImmediately();
        Assert.True(AckDueNow(t));
    }

    [Fact]
    public void With_a_threshold_above_one_only_the_change_to_ce_is_acknowledged_at_once()
    {
        var t = new ReceivedPacketTracker(PacketNumberSpace.ApplicationData);
        t.SetAckFrequency(1000, 0);
        t.OnPacketReceived(0, true, 0);
        t.OnEcnCodepoint(0x02);   // ECT(0)
        Assert.False(AckDueNow(t));
        t.OnPacketReceived(1, true, 0);
        t.OnEcnCodepoint(0x03);   // CE after not-CE
        Assert.True(AckDueNow(t));
        SendAck(t);
        t.OnPacketReceived(2, true, 0);
        t.OnEcnCodepoint(0x03);   // CE again: no new signal
        Assert.False(AckDueNow(t));
    }

    [Fact]
    public void New_ranges_are_reported_before_the_range_cap_could_forget_them()
    {
        // Every other packet lost, ACKs asked for rarely: each arrival opens a range. The tracker keeps 32 (its cap).
        var t = new ReceivedPacketTracker(PacketNumberSpace.ApplicationData, maxRanges: 32);
        t.SetAckFrequency(1000, 0);
        int arrivals = 0;
        for (ulong pn = 0; !AckDueNow(t); pn += 2)
        {
            t.OnPacketReceived(pn, true, 0);
            arrivals++;
            Assert.True(arrivals < 32, "the cap was reached with no ACK due");
        }
        Assert.Equal(arrivals, t.Ranges.Length);   // none forgotten before this ACK
    }
}
