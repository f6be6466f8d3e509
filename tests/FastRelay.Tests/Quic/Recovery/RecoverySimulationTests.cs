using Xunit;
using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;

namespace FastRelay.Tests.Quic.Recovery;

public class RecoverySimulationTests
{
    private const PacketNumberSpace App = PacketNumberSpace.ApplicationData;

    /// <summary>Sender side of the simulation: each packet carries one data unit (or a PING); lost units are requeued.</summary>
    private sealed class SimSender : ILossDetectionSink
    {
        public readonly Dictionary<ulong, string> Outcome = new();
        public readonly Queue<ulong> Retransmit = new();
        public readonly HashSet<ulong> UnitsAcked = new();
        public readonly List<ulong> SentNumbers = new();
        public int ProbeRequests;
        public Action<int>? SendPing;

        public void OnPacketAcked(SentPacket packet)
        {
            Assert.True(Outcome.TryAdd(packet.PacketNumber, "acked"), $"packet {packet.PacketNumber} reported twice");
            foreach (var f in packet.Frames)
                if (f.FrameType == FrameType.Stream) UnitsAcked.Add(f.Value);
        }

        public void OnPacketLost(SentPacket packet)
        {
            Assert.True(Outcome.TryAdd(packet.PacketNumber, "lost"), $"packet {packet.PacketNumber} reported twice");
            foreach (var f in packet.Frames)
                if (f.FrameType == FrameType.Stream && !UnitsAcked.Contains(f.Value)) Retransmit.Enqueue(f.Value);
        }

        public void SendProbes(PacketNumberSpace space, int count)
        {
            Assert.Equal(App, space);
            ProbeRequests++;
            SendPing!(count);
        }
    }

    [Theory]
    [InlineData(1, 0.05, 8_000)]
    [InlineData(2, 0.20, 8_000)]
    [InlineData(3, 0.0, 8_000)]   // no loss, but reordering: spurious losses are allowed, still exactly one outcome
    [InlineData(4, 0.0, 0)]       // clean in-order path: nothing may be declared lost
    public void LossyChannelEveryPacketResolvedExactlyOnce(int seed, double lossRate, int jitter)
    {
        var random = new Random(seed);
        var rtt = new RttEstimator();
        var cc = new NewRenoCongestionController(1200, rtt);
        var ld = new LossDetection(rtt, cc, isServer: true) { HandshakeConfirmed = true };
        var receiver = new ReceivedPacketTracker(App, maxRanges: 32);
        var sender = new SimSender();

        var toReceiver = new List<(long At, ulong Pn)>();
        var toSender = new List<(long At, byte[] Ack)>();
        const int units = 1500;
        ulong nextUnit = 0, nextPn = 0;
        long now = 0;
        var ackBuffer = new byte[1024];

        void Transmit(ulong? unit)
        {
            if (random.Next(50) == 0) nextPn++; // occasionally skip a packet number
            var p = ld.RentPacket();
            p.PacketNumber = nextPn++;
            p.Space = App;
            p.Size = 1200;
            p.AckEliciting = true;
            p.InFlight = true;
            p.Frames.Add(unit is ulong u ? new SentFrame(FrameType.Stream, 0, u * 1000, 1000, false, u) : new SentFrame(FrameType.Ping));
            ld.OnPacketSent(p, now);
            sender.SentNumbers.Add(p.PacketNumber);
            if (random.NextDouble() >= lossRate)
                toReceiver.Add((now + 20_000 + random.Next(0, jitter + 1), p.PacketNumber)); // jitter reorders
        }
        sender.SendPing = count => { for (int i = 0; i < count; i++) Transmit(sender.Retransmit.Count > 0 ? sender.Retransmit.Dequeue() : null); };

        int steps = 0;
        while (sender.UnitsAcked.Count < units || ld.OutstandingPackets(App) > 0)
        {
            Assert.True(++steps < 200_000, "simulation did not converge");
            // Sender: send while the window and the pacer allow.
            while ((sender.Retransmit.Count > 0 || nextUnit < units) && cc.CanSend(1200) && cc.NextSendTime(1200, now) <= now)
            {
                if (sender.Retransmit.Count > 0)
                {
                    ulong u = sender.Retransmit.Dequeue();
                    if (!sender.UnitsAcked.Contains(u)) Transmit(u);
                }
                else Transmit(nextUnit++);
            }
            // Receiver: deliveries and ACKs (ACKs travel back over the same lossy path).
            for (int i = toReceiver.Count - 1; i >= 0; i--)
            {
                if (toReceiver[i].At > now) continue;
                ulong pn = toReceiver[i].Pn;
                toReceiver.RemoveAt(i);
                if (!receiver.IsDuplicate(pn)) receiver.OnPacketReceived(pn, true, now);
            }
            if (receiver.AckDeadline(25_000) <= now)
            {
                int n = receiver.WriteAckFrame(ackBuffer, now, 3);
                Assert.True(n > 0);
                if (random.NextDouble() >= lossRate) toSender.Add((now + 20_000 + random.Next(0, jitter + 1), ackBuffer[..n]));
            }
            // Sender: ACKs, then the timer.
            for (int i = toSender.Count - 1; i >= 0; i--)
            {
                if (toSender[i].At > now) continue;
                var reader = new QuicReader(toSender[i].Ack);
                toSender.RemoveAt(i);
                Assert.True(reader.TryReadVarint(out ulong type));
                Assert.True(AckFrame.TryRead(ref reader, type, out var ack, out _));
                Assert.True(ld.TryOnAckReceived(ack, App, now, 3, 25_000, sender, out QuicError error), error.ToString());
            }
            if (ld.LossDetectionTimer <= now) ld.OnLossDetectionTimeout(now, sender);
            now += 500;
        }

        Assert.Equal(units, sender.UnitsAcked.Count);
        Assert.Equal(0, cc.BytesInFlight);
        Assert.Equal(0, ld.AckElicitingInFlight(App));
        Assert.Equal(long.MaxValue, ld.LossDetectionTimer);
        // Every packet sent got exactly one outcome (duplicates would have failed in the sink).
        Assert.Equal(sender.SentNumbers.Count, sender.Outcome.Count);
        foreach (ulong pn in sender.SentNumbers) Assert.True(sender.Outcome.ContainsKey(pn));
        if (lossRate > 0) Assert.Contains("lost", sender.Outcome.Values);
        if (lossRate == 0 && jitter == 0) Assert.DoesNotContain("lost", sender.Outcome.Values);
        Assert.True(rtt.HasSample && rtt.MinRtt >= 40_000 && rtt.SmoothedRtt < 200_000, $"srtt {rtt.SmoothedRtt} min {rtt.MinRtt}");
    }

    /// <summary>Counts only: a class sink so the interface call does not box.</summary>
    private sealed class CountingSink : ILossDetectionSink
    {
        public int Acked, Lost, Probes;
        public ReceivedPacketTracker? Tracker;
        public void OnPacketAcked(SentPacket packet)
        {
            Acked++;
            if (packet.LargestAcknowledgedInAck is ulong largest) Tracker!.OnAckOfAckReceived(largest);
        }
        public void OnPacketLost(SentPacket packet) => Lost++;
        public void SendProbes(PacketNumberSpace space, int count) => Probes++;
    }

    [Fact]
    public void SteadyStatePerPacketWorkDoesNotAllocate()
    {
        var rtt = new RttEstimator();
        var cc = new NewRenoCongestionController(1200, rtt);
        var ld = new LossDetection(rtt, cc, isServer: true) { HandshakeConfirmed = true };
        var receiver = new ReceivedPacketTracker(App);
        // The peer's tracker for our ACK-carrying packets (pruned through LargestAcknowledgedInAck).
        var ownTracker = new ReceivedPacketTracker(App);
        var sink = new CountingSink { Tracker = ownTracker };
        var ackBytes = new byte[512];
        var ackMemory = new ReadOnlyMemory<byte>(ackBytes);
        ulong pn = 0, peerPn = 0;
        long now = 0;

        void Round(int i)
        {
            now += 1_000;
            // We receive a peer packet and piggyback an ACK for it on our next packet.
            ownTracker.OnPacketReceived(peerPn++, true, now);
            var p = ld.RentPacket();
            p.PacketNumber = pn++;
            p.Space = App;
            p.Size = 1200;
            p.AckEliciting = true;
            p.InFlight = true;
            p.Frames.Add(new SentFrame(FrameType.Stream, 4, (ulong)i * 1000, 1000));
            p.Frames.Add(new SentFrame(FrameType.MaxData, Value: (ulong)i));
            p.LargestAcknowledgedInAck = ownTracker.LargestReceived;
            int ackLen = ownTracker.WriteAckFrame(ackBytes, now, 3); // our ACK (written, then discarded here)
            Assert.True(ackLen > 0);
            cc.NextSendTime(1200, now);
            ld.OnPacketSent(p, now);
            // Every 10th packet is lost on the way; the peer acknowledges what arrives.
            if (i % 10 != 3 && !receiver.IsDuplicate(p.PacketNumber)) receiver.OnPacketReceived(p.PacketNumber, true, now);
            if (receiver.AckDeadline(25_000) <= now || i % 2 == 0)
            {
                int n = receiver.WriteAckFrame(ackBytes, now + 30_000, 3);
                var reader = new QuicReader(ackMemory[..n]);
                reader.TryReadVarint(out ulong type);
                AckFrame.TryRead(ref reader, type, out var ack, out _);
                if (!ld.TryOnAckReceived(ack, App, now + 30_000, 3, 25_000, sink, out _)) throw new InvalidOperationException();
            }
            if (ld.LossDetectionTimer <= now) ld.OnLossDetectionTimeout(now, sink);
        }

        for (int i = 0; i < 3_000; i++) Round(i); // warm-up: pool, rings and lists reach their steady size
        int ackedBefore = sink.Acked, lostBefore = sink.Lost;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 3_000; i < 13_000; i++) Round(i);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 1_000, $"{allocated} bytes for 10 000 packets"); // JIT/tiering noise only
        Assert.True(sink.Acked - ackedBefore > 8_000);
        Assert.True(sink.Lost - lostBefore > 900);
        Assert.True(ownTracker.Ranges.Length <= 2); // ack-of-ack pruning keeps our own ACKs short
    }
}
