namespace FastRelay.Relay.Retransmission;

/// <summary>
/// A byte budget per requester: retransmissions are unicast copies the relay makes on request, so a receiver that asks
/// for everything (or a spoofed one) must not turn the relay into an amplifier. Each requester's bucket refills at
/// <see cref="BytesPerSecond"/> up to <see cref="BurstBytes"/>; an answer stops at the first packet that does not fit.
/// Requesters are subscribers of the plan, so the table is bounded by the plan; <see cref="Retain"/> drops the others.
/// </summary>
public sealed class RequesterBudget(long bytesPerSecond, long burstBytes, Func<long> clockMs)
{
    private readonly Dictionary<(ulong Channel, System.Net.IPEndPoint Subscriber), Bucket> _buckets = new();

    private sealed class Bucket(long bytes, long at)
    {
        public long Bytes = bytes;
        public long At = at;
    }

    public long BytesPerSecond => bytesPerSecond;
    public long BurstBytes => burstBytes;

    /// <summary>Takes <paramref name="bytes"/> from the requester's bucket when they are there (a new requester starts full).</summary>
    public bool TryTake(ulong channel, System.Net.IPEndPoint subscriber, int bytes)
    {
        var now = clockMs();
        if (!_buckets.TryGetValue((channel, subscriber), out var bucket))
            _buckets[(channel, subscriber)] = bucket = new Bucket(burstBytes, now);
        var elapsed = Math.Max(0, now - bucket.At);
        var gained = (long)Math.Min((double)bytesPerSecond * elapsed / 1000, burstBytes);
        // The clock only moves on when it bought at least a byte: requests every millisecond at a low rate still refill.
        if (gained > 0 || bucket.Bytes >= burstBytes)
        {
            bucket.Bytes = Math.Min(burstBytes, bucket.Bytes + gained);
            bucket.At = now;
        }
        if (bucket.Bytes < bytes)
            return false;
        bucket.Bytes -= bytes;
        return true;
    }

    /// <summary>Forgets requesters that are no longer subscribers.</summary>
    public void Retain(Func<ulong, System.Net.IPEndPoint, bool> isSubscriber)
    {
        foreach (var key in _buckets.Keys.Where(k => !isSubscriber(k.Channel, k.Subscriber)).ToList())
            _buckets.Remove(key);
    }

    public int Count => _buckets.Count;
}
