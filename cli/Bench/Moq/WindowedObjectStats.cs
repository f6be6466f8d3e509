using FastRelay.Protocols.Moq.Clients;

namespace FastRelay.Cli.Bench.Moq;

/// <summary>
/// One bench subscriber's objects, kept as (send time, latency, bytes) so the measured window can be placed afterwards,
/// from when the publisher really started (a late start must not empty the window). Corrupt objects and duplicates
/// are counted wherever they fall, because any is a failure.
/// </summary>
internal sealed class WindowedObjectStats
{
    private readonly List<(long SendUs, long LatencyUs, int Bytes)> _objects = [];

    public long Corrupt { get; private set; }
    public long Duplicates { get; private set; }

    public void OnObject(ReceivedObject received, ObjectVerdict verdict)
    {
        switch (verdict)
        {
            case ObjectVerdict.Corrupt: Corrupt++; return;
            case ObjectVerdict.Duplicate: Duplicates++; return;
            case ObjectVerdict.Ok: break;
            default: return;
        }
        ObjectPayloadHeader.TryReadUnverified(received.Payload.Span, out var header);
        _objects.Add((header.SendTimeMicroseconds, received.ReceivedAtMicroseconds - header.SendTimeMicroseconds, received.Payload.Length));
    }

    /// <summary>Objects sent in [from, to) that arrived intact: count, bytes, and their latencies added to <paramref name="latency"/>.</summary>
    public (long Delivered, long Bytes) InWindow(long fromUs, long toUs, LatencyHistogram latency)
    {
        long delivered = 0, bytes = 0;
        foreach (var (sendUs, latencyUs, size) in _objects)
        {
            if (sendUs < fromUs || sendUs >= toUs) continue;
            delivered++;
            bytes += size;
            if (latencyUs >= 0) latency.Record(latencyUs);
        }
        return (delivered, bytes);
    }

    /// <summary>Bytes of the intact objects sent in [from, to): what a counter read at those two instants should compare with.</summary>
    public long BytesSentBetween(long fromUs, long toUs)
    {
        long bytes = 0;
        foreach (var (sendUs, _, size) in _objects)
            if (sendUs >= fromUs && sendUs < toUs) bytes += size;
        return bytes;
    }
}
