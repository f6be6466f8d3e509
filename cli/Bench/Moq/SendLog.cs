using FastRelay.Protocols.Moq.Clients;

namespace FastRelay.Cli.Bench.Moq;

/// <summary>
/// Wraps the bench publisher's track to note the send time (from the header it just stamped) of every object written,
/// so the number of objects that should have arrived in a window is what was actually sent in it, not what was asked.
/// </summary>
internal sealed class SendLog(IMoqTrackPublisher inner) : IMoqTrackPublisher
{
    private readonly List<(long SendUs, int Bytes)> _sent = [];
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource<long> _firstSend = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>CLOCK_REALTIME µs of the first object written: where the run really started.</summary>
    public Task<long> FirstSendMicroseconds => _firstSend.Task;

    public Task Closed => inner.Closed;

    public bool OpensSubgroupsEarly => inner.OpensSubgroupsEarly;

    public Task FirstSubscription => inner.FirstSubscription;

    public (long Objects, long Bytes) SentBetween(long fromUs, long toUs)
    {
        lock (_lock)
        {
            long objects = 0, bytes = 0;
            foreach (var (sendUs, size) in _sent)
                if (sendUs >= fromUs && sendUs < toUs)
                {
                    objects++;
                    bytes += size;
                }
            return (objects, bytes);
        }
    }

    public async ValueTask<IMoqSubgroupWriter> OpenSubgroupAsync(ulong groupId, ulong subgroupId, byte publisherPriority, CancellationToken cancellationToken) =>
        new Writer(this, await inner.OpenSubgroupAsync(groupId, subgroupId, publisherPriority, cancellationToken));

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private sealed class Writer(SendLog log, IMoqSubgroupWriter inner) : IMoqSubgroupWriter
    {
        public async ValueTask WriteObjectAsync(ulong objectId, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
        {
            ObjectPayloadHeader.TryReadUnverified(payload.Span, out var header);
            await inner.WriteObjectAsync(objectId, payload, cancellationToken);
            lock (log._lock) log._sent.Add((header.SendTimeMicroseconds, payload.Length));
            log._firstSend.TrySetResult(header.SendTimeMicroseconds);
        }

        public ValueTask CompleteAsync(CancellationToken cancellationToken) => inner.CompleteAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
