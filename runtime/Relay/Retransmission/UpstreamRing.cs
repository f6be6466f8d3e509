namespace FastRelay.Relay.Retransmission;

/// <summary>
/// The userspace history of the retransmission service: the last upstream packets of each channel, as the relay
/// forwarded them, with the sequence numbers each carries. Bounded three ways, so a publisher (or a flood the channel
/// admits) cannot grow it: packets per channel, bytes per channel (the oldest go first when either is reached) and the
/// number of channels (packets of a channel beyond that are not kept). Thread-safe: the receive loop records while the
/// request loop looks up.
/// </summary>
public sealed class UpstreamRing
{
    private readonly object _gate = new();
    private readonly Dictionary<ulong, ChannelRing> _channels = new();
    private readonly int _packetsPerChannel;
    private readonly long _bytesPerChannel;
    private readonly int _maxChannels;

    private sealed class ChannelRing(int capacity)
    {
        public readonly Kept[] Entries = new Kept[capacity];
        public int Oldest, Count;
        public long Bytes;
    }

    private readonly record struct Kept(ulong First, ulong Count, byte[] Packet);

    public UpstreamRing(int packetsPerChannel, long bytesPerChannel, int maxChannels)
    {
        if (packetsPerChannel < 1 || bytesPerChannel < 1 || maxChannels < 1)
            throw new ArgumentOutOfRangeException(nameof(packetsPerChannel), "the history needs room for at least one packet of one channel");
        _packetsPerChannel = packetsPerChannel;
        _bytesPerChannel = bytesPerChannel;
        _maxChannels = maxChannels;
    }

    /// <summary>Packets not kept because every channel place was taken by others.</summary>
    public long RefusedChannelFull { get; private set; }

    /// <summary>Keeps a copy of <paramref name="packet"/> as carrying <paramref name="span"/>; a packet larger than a
    /// channel's byte bound is not kept.</summary>
    public void Record(SequenceSpan span, ReadOnlySpan<byte> packet)
    {
        if (packet.Length > _bytesPerChannel)
            return;
        var copy = packet.ToArray();
        lock (_gate)
        {
            if (!_channels.TryGetValue(span.Channel, out var ring))
            {
                if (_channels.Count >= _maxChannels)
                {
                    RefusedChannelFull++;
                    return;
                }
                _channels[span.Channel] = ring = new ChannelRing(_packetsPerChannel);
            }
            while (ring.Count == ring.Entries.Length || (ring.Count > 0 && ring.Bytes + copy.Length > _bytesPerChannel))
                DropOldest(ring);
            ring.Entries[(ring.Oldest + ring.Count) % ring.Entries.Length] = new Kept(span.First, span.Count, copy);
            ring.Count++;
            ring.Bytes += copy.Length;
        }
    }

    /// <summary>The kept packets of the channel that carry any number in [first, first + count), in sequence order,
    /// each once (a packet the publisher sent twice is answered once), at most <paramref name="maxPackets"/>.</summary>
    public IReadOnlyList<byte[]> Find(ulong channel, ulong first, ulong count, int maxPackets)
    {
        var found = new List<Kept>();
        lock (_gate)
        {
            if (!_channels.TryGetValue(channel, out var ring))
                return [];
            var end = first + count; // the request format refused ranges that wrap
            for (var i = 0; i < ring.Count; i++)
            {
                var kept = ring.Entries[(ring.Oldest + i) % ring.Entries.Length];
                if (kept.First < end && kept.First + kept.Count > first)
                    found.Add(kept);
            }
        }
        return found.OrderBy(k => k.First).DistinctBy(k => k.First).Take(maxPackets).Select(k => k.Packet).ToList();
    }

    /// <summary>The lowest and highest number the channel's kept packets carry (for status and tests); null when none.</summary>
    public (ulong Lowest, ulong Highest, int Packets, long Bytes)? Extent(ulong channel)
    {
        lock (_gate)
        {
            if (!_channels.TryGetValue(channel, out var ring) || ring.Count == 0)
                return null;
            ulong low = ulong.MaxValue, high = 0;
            for (var i = 0; i < ring.Count; i++)
            {
                var kept = ring.Entries[(ring.Oldest + i) % ring.Entries.Length];
                low = Math.Min(low, kept.First);
                high = Math.Max(high, kept.First + kept.Count - 1);
            }
            return (low, high, ring.Count, ring.Bytes);
        }
    }

    /// <summary>Forgets a channel (it left the plan, or another publisher took it over: its numbers may repeat the old
    /// one's, and an answer must never carry the old publisher's packet).</summary>
    public void Forget(ulong channel)
    {
        lock (_gate)
            _channels.Remove(channel);
    }

    private static void DropOldest(ChannelRing ring)
    {
        ref var oldest = ref ring.Entries[ring.Oldest];
        ring.Bytes -= oldest.Packet.Length;
        oldest = default;
        ring.Oldest = (ring.Oldest + 1) % ring.Entries.Length;
        ring.Count--;
    }
}
