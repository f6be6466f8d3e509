using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;
using FastRelay.Tests.Quic.Connection;
using Xunit;

namespace FastRelay.Tests.Quic.AckFrequency;

/// <summary>
/// The ACK frequency extension between two real cores on the in-memory network with a virtual clock (CorePair): the
/// client is the data sender and asks the server (the receiver) for fewer ACKs.
/// </summary>
public class AckFrequencyCoreTests
{
    private const int Payload = 600_000;   // about 420 full packets

    /// <summary>Transfers <see cref="Payload"/> client → server; returns (ACK frames the server sent, ack-eliciting packets it received) during it.</summary>
    private static (long Acks, long Packets) Transfer(CorePair pair)
    {
        long acks = pair.Server!.AckFramesSent, packets = pair.Server.AckElicitingPacketsReceived;
        var (_, received) = pair.Transfer(new byte[Payload]);
        Assert.Equal(Payload, received.Length);
        // Every packet acknowledged: nothing of the client's stays in flight.
        Assert.True(pair.RunUntil(() => pair.Client.CongestionControl.BytesInFlight == 0, 5_000_000),
            $"{pair.Client.CongestionControl.BytesInFlight} bytes never acknowledged");
        return (pair.Server.AckFramesSent - acks, pair.Server.AckElicitingPacketsReceived - packets);
    }

    [Fact]
    public void Both_ends_advertise_min_ack_delay_by_default()
    {
        using var pair = new CorePair();
        Assert.True(pair.Handshake());
        Assert.Equal(QuicConnectionCore.LocalMinAckDelay, pair.Client.PeerMinAckDelay);
        Assert.Equal(QuicConnectionCore.LocalMinAckDelay, pair.Server!.PeerMinAckDelay);
    }

    [Theory]
    [InlineData(3UL)]
    [InlineData(9UL)]
    public void With_a_threshold_of_n_the_receiver_acknowledges_about_once_per_n_plus_one_packets(ulong threshold)
    {
        // Packets read one at a time, as paced media arrives (a burst read at once gets one ACK per read anyway).
        using var baseline = new CorePair { DeliverOneAtATime = true };
        Assert.True(baseline.Handshake());
        var (defaultAcks, defaultPackets) = Transfer(baseline);

        using var pair = new CorePair { DeliverOneAtATime = true };
        Assert.True(pair.Handshake());
        pair.Client.RequestAckFrequency(threshold, 25_000, 3);
        Assert.True(pair.RunUntil(() => pair.Server!.ReceiverMaxAckDelay == 25_000));
        var (acks, packets) = Transfer(pair);
        Assert.Equal(threshold, pair.Server!.ReceiverAckElicitingThreshold);   // the window grew past 2 × (n + 1) packets

        // RFC 9000's default: one ACK per two packets. Under the request: one per n+1, plus the ACKs the delay timer
        // sends at the end of a flight that stops short of n+1, and one per 5 while the first windows are small.
        Assert.InRange(defaultAcks, defaultPackets / 2 - 10, defaultPackets / 2 + 20);
        double perAck = (double)packets / acks;
        Assert.True(perAck >= (threshold + 1) * 0.7, $"{acks} ACKs for {packets} packets: one per {perAck:F1}, asked one per {threshold + 1}");
        Assert.True(perAck <= threshold + 1.01, $"{acks} ACKs for {packets} packets: fewer than asked");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Loss_is_still_recovered_under_a_high_threshold(int seed)
    {
        var random = new Random(seed);
        bool established = false;
        using var pair = new CorePair { Lose = (toServer, _) => established && random.NextDouble() < 0.05 };
        Assert.True(pair.Handshake());
        pair.Client.RequestAckFrequency(9, 25_000, 3);
        Assert.True(pair.RunUntil(() => pair.Server!.ReceiverMaxAckDelay == 25_000));
        established = true;
        var (acks, packets) = Transfer(pair);
        Assert.True(pair.Client.PacketsDeclaredLost > 0, "nothing was lost: the test proves nothing");
        Assert.True(acks < packets / 3, $"{acks} ACKs for {packets} packets");
    }

    [Fact]
    public void The_threshold_asked_follows_the_congestion_window()
    {
        var random = new Random(3);
        bool lossy = false;
        using var pair = new CorePair { Lose = (toServer, _) => lossy && toServer && random.NextDouble() < 0.5 };
        Assert.True(pair.Handshake());
        // §8.1: no more than half the window in packets, so the initial window of 10 packets gets at most 4.
        pair.Client.RequestAckFrequency(9, 25_000, 3);
        Assert.Equal(4UL, pair.Client.RequestedAckElicitingThreshold);
        Assert.True(pair.RunUntil(() => pair.Server!.ReceiverAckElicitingThreshold == 4));
        // Slow start grows the window: the request rises to the ceiling asked.
        Transfer(pair);
        Assert.True(pair.RunUntil(() => pair.Server!.ReceiverAckElicitingThreshold == 9), $"threshold {pair.Server!.ReceiverAckElicitingThreshold}");
        // Loss shrinks the window: the request goes down with it at once, or every ACK would wait for the delay.
        lossy = true;
        Assert.True(pair.Client.Streams.TryOpenStream(false, out ulong id));
        pair.Client.Streams.Write(id, new byte[600_000], true);
        Assert.True(pair.RunUntil(() => pair.Server!.ReceiverAckElicitingThreshold < 9, 30_000_000),
            $"window {pair.Client.CongestionControl.CongestionWindow}, threshold still {pair.Server!.ReceiverAckElicitingThreshold}");
        long windowPackets = pair.Client.CongestionControl.CongestionWindow / 1452;
        Assert.True(pair.Client.RequestedAckElicitingThreshold <= (ulong)Math.Max(1, windowPackets / 2 - 1));
    }

    [Fact]
    public void The_pto_allows_for_the_larger_max_ack_delay_until_a_lower_one_is_acknowledged()
    {
        using var pair = new CorePair();
        Assert.True(pair.Handshake());
        Assert.Equal(25_000, pair.Client.EffectivePeerMaxAckDelay);   // the transport parameter's default

        pair.Client.RequestAckFrequency(9, 200_000, 3);
        Assert.True(pair.RunUntil(() => pair.Server!.ReceiverMaxAckDelay == 200_000));
        Assert.Equal(200_000, pair.Client.EffectivePeerMaxAckDelay);   // raised at once, while in flight

        pair.Client.RequestAckFrequency(9, 10_000, 3);
        int written = 0;
        var buffer = new byte[1500];
        written = pair.Client.WriteDatagram(buffer, pair.Now);
        Assert.True(written > 0);
        // Lowered but not yet acknowledged: the PTO still uses 200 ms (§7); the datagram is dropped here on purpose.
        Assert.Equal(200_000, pair.Client.EffectivePeerMaxAckDelay);

        // The lost frame is sent again (a newer sequence number) and, once acknowledged, 10 ms applies.
        Assert.True(pair.RunUntil(() => pair.Client.EffectivePeerMaxAckDelay == 10_000, 10_000_000),
            $"effective max_ack_delay still {pair.Client.EffectivePeerMaxAckDelay}");
        Assert.Equal(10_000, pair.Server!.ReceiverMaxAckDelay);
    }

    [Fact]
    public void Immediate_ack_is_answered_without_waiting_for_the_requested_delay()
    {
        using var pair = new CorePair();
        Assert.True(pair.Handshake());
        // Nothing but IMMEDIATE_ACK (or 1000 packets) may make the server acknowledge within 10 s.
        pair.Client.RequestAckFrequency(1000, 10_000_000, 0);
        Assert.True(pair.RunUntil(() => pair.Server!.ReceiverMaxAckDelay == 10_000_000 && pair.Client.CongestionControl.BytesInFlight == 0));

        Assert.True(pair.Client.Streams.TryOpenStream(false, out ulong id));
        pair.Client.Streams.Write(id, new byte[100], false);
        long acks = pair.Server!.AckFramesSent, received = pair.Server.AckElicitingPacketsReceived;
        Assert.False(pair.RunUntil(() => pair.Server.AckElicitingPacketsReceived > received && pair.Client.CongestionControl.BytesInFlight == 0, 1_000_000),
            "the server acknowledged within 1 s although asked to wait 10 s");
        Assert.True(pair.Server.AckElicitingPacketsReceived > received, "the data never arrived");
        Assert.Equal(acks, pair.Server.AckFramesSent);

        long asked = pair.Now;
        pair.Client.RequestImmediateAck();
        Assert.True(pair.RunUntil(() => pair.Client.CongestionControl.BytesInFlight == 0, 1_000_000));
        Assert.True(pair.Now - asked <= 3 * pair.OneWayDelay, $"acknowledged {pair.Now - asked} µs after IMMEDIATE_ACK");
    }

    [Fact]
    public void Requests_need_the_peers_min_ack_delay_and_a_delay_it_can_keep()
    {
        using var pair = new CorePair(server: s => s.EnableAckFrequency = false);
        Assert.True(pair.Handshake());
        Assert.Null(pair.Client.PeerMinAckDelay);
        Assert.Throws<InvalidOperationException>(() => pair.Client.RequestAckFrequency(9, 25_000, 3));
        Assert.Throws<InvalidOperationException>(() => pair.Client.RequestImmediateAck());
        Assert.NotNull(pair.Server!.PeerMinAckDelay);   // the client still advertised it

        using var other = new CorePair();
        Assert.True(other.Handshake());
        Assert.Throws<ArgumentOutOfRangeException>(() => other.Client.RequestAckFrequency(9, (long)QuicConnectionCore.LocalMinAckDelay - 1, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => other.Client.RequestAckFrequency(9, 16_384_000, 3));
    }

    [Theory]
    [InlineData(999UL, "below our min_ack_delay")]
    [InlineData(16_384_000UL, "2^14 ms")]
    public void An_ack_frequency_with_an_invalid_delay_closes_the_connection_with_protocol_violation(ulong delay, string because)
    {
        // Plaintext 1-RTT (0xBAAD on both ends) lets the test write the server's packet itself.
        using var pair = new CorePair(c => c.Disable1RttEncryption = true, s => s.Disable1RttEncryption = true);
        Assert.True(pair.Handshake());
        Assert.True(pair.Client.IsOneRttPlaintext);
        var packet = new byte[100];
        var clientId = pair.ClientIds.First(id => id.Equals(pair.Server!.DestinationConnectionId));
        int offset = PacketHeaderWriter.WriteShortHeader(packet, clientId.Span, 1_000_000, 4, false);
        offset += new AckFrequencyFrame(5, 9, delay, 3).Write(packet.AsSpan(offset));
        offset += new PingFrame().Write(packet.AsSpan(offset));
        pair.Client.OnDatagram(packet.AsMemory(0, offset), pair.Now);
        Assert.Equal(ConnectionPhase.Closing, pair.Client.Phase);
        Assert.Equal((ulong)QuicTransportError.ProtocolViolation, pair.Client.CloseInfo!.Value.ErrorCode);
        Assert.Contains(because.Split(' ')[0], pair.Client.CloseInfo.Value.Reason);
    }

    [Fact]
    public void An_ack_frequency_from_a_peer_we_did_not_offer_the_extension_to_is_a_frame_encoding_error()
    {
        using var pair = new CorePair(c => { c.Disable1RttEncryption = true; c.EnableAckFrequency = false; }, s => s.Disable1RttEncryption = true);
        Assert.True(pair.Handshake());
        var packet = new byte[100];
        var clientId = pair.ClientIds.First(id => id.Equals(pair.Server!.DestinationConnectionId));
        int offset = PacketHeaderWriter.WriteShortHeader(packet, clientId.Span, 1_000_000, 4, false);
        offset += new ImmediateAckFrame().Write(packet.AsSpan(offset));
        pair.Client.OnDatagram(packet.AsMemory(0, offset), pair.Now);
        Assert.Equal((ulong)QuicTransportError.FrameEncodingError, pair.Client.CloseInfo!.Value.ErrorCode);
    }

    [Fact]
    public void An_obsolete_ack_frequency_is_ignored()
    {
        using var pair = new CorePair(c => c.Disable1RttEncryption = true, s => s.Disable1RttEncryption = true);
        Assert.True(pair.Handshake());
        var clientId = pair.ClientIds.First(id => id.Equals(pair.Server!.DestinationConnectionId));
        void Send(ulong packetNumber, AckFrequencyFrame frame)
        {
            var packet = new byte[100];
            int offset = PacketHeaderWriter.WriteShortHeader(packet, clientId.Span, packetNumber, 4, false);
            offset += frame.Write(packet.AsSpan(offset));
            pair.Client.OnDatagram(packet.AsMemory(0, offset), pair.Now);
        }
        Send(1_000_001, new AckFrequencyFrame(7, 20, 40_000, 3));
        Send(1_000_000, new AckFrequencyFrame(6, 5, 30_000, 3));   // reordered: older sequence number
        Send(1_000_002, new AckFrequencyFrame(7, 5, 30_000, 3));   // same sequence number again
        Assert.Equal(ConnectionPhase.Established, pair.Client.Phase);
        Assert.Equal(20UL, pair.Client.ReceiverAckElicitingThreshold);
        Assert.Equal(40_000, pair.Client.ReceiverMaxAckDelay);
    }
}
