using FastRelay.Protocols.Moq.Clients;

namespace FastRelay.Cli.Bench.Moq;

/// <summary>
/// One bench subscriber's view of the measured window: objects sent (by their header's send time) inside
/// [from, to) that arrived intact, their bytes and latencies. Objects outside the window (warm-up, drain) are not
/// counted; corrupt objects and duplicates are counted wherever they fall, because any is a failure.
/// </summary>
internal sealed class WindowedObjectStats(long fromUs, long toUs)
{
    public LatencyHistogram Latency { get; } = new();
    public long Delivered { get; private set; }
    public long Bytes { get; private set; }
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
        if (header.SendTimeMicroseconds < fromUs || header.SendTimeMicroseconds >= toUs) return;
        Delivered++;
        Bytes += received.Payload.Length;
        var latency = received.ReceivedAtMicroseconds - header.SendTimeMicroseconds;
        if (latency >= 0) Latency.Record(latency);
    }
}
