using Xunit;
using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;

namespace FastRelay.Tests.Quic.Recovery;

/// <summary>Records what loss detection reported (packet numbers only: the objects go back to the pool).</summary>
internal sealed class RecordingSink : ILossDetectionSink
{
    public readonly List<ulong> Acked = new();
    public readonly List<ulong> Lost = new();
    public readonly List<(PacketNumberSpace Space, int Count)> Probes = new();
    /// <summary>Optional: what to do when probes are requested (e.g. send packets).</summary>
    public Action<PacketNumberSpace, int>? OnProbe;

    public void OnPacketAcked(SentPacket packet) => Acked.Add(packet.PacketNumber);
    public void OnPacketLost(SentPacket packet) => Lost.Add(packet.PacketNumber);
    public void SendProbes(PacketNumberSpace space, int count)
    {
        Probes.Add((space, count));
        OnProbe?.Invoke(space, count);
    }
}

internal static class RecoveryTestHelpers
{
    public static SentPacket Send(LossDetection ld, PacketNumberSpace space, ulong pn, long now, int size = 1200,
                                  bool ackEliciting = true, bool inFlight = true)
    {
        var p = ld.RentPacket();
        p.PacketNumber = pn;
        p.Space = space;
        p.Size = size;
        p.AckEliciting = ackEliciting;
        p.InFlight = inFlight;
        p.Frames.Add(new SentFrame(FrameType.Ping));
        ld.OnPacketSent(p, now);
        return p;
    }

    /// <summary>An ACK frame from inclusive ranges given largest first, e.g. Ack(0, (10, 12), (3, 5)).</summary>
    public static AckFrame Ack(ulong ackDelay, params (ulong Largest, ulong Smallest)[] ranges)
    {
        var r = new AckRange[ranges.Length];
        for (int i = 0; i < ranges.Length; i++) r[i] = new AckRange(ranges[i].Smallest, ranges[i].Largest);
        return AckFrame.Create(r, ackDelay);
    }

    public static void AckOk(LossDetection ld, in AckFrame ack, PacketNumberSpace space, long now, ILossDetectionSink sink,
                             int exponent = 3, long maxAckDelay = 25_000)
    {
        Assert.True(ld.TryOnAckReceived(ack, space, now, exponent, maxAckDelay, sink, out var error), error.ToString());
        Assert.True(error.IsNone);
    }

    /// <summary>Decodes a written ACK frame and expands it to the set of acknowledged numbers.</summary>
    public static (AckFrame Frame, SortedSet<ulong> Numbers) Decode(ReadOnlySpan<byte> written)
    {
        var reader = new QuicReader(written.ToArray());
        Assert.True(reader.TryReadVarint(out ulong type));
        Assert.Equal(FrameType.Ack, type);
        Assert.True(AckFrame.TryRead(ref reader, type, out var frame, out var error), error.ToString());
        Assert.Equal(0, reader.Remaining);
        var set = new SortedSet<ulong>();
        foreach (var range in frame.GetRanges())
            for (ulong pn = range.Smallest; pn <= range.Largest; pn++) set.Add(pn);
        return (frame, set);
    }
}
