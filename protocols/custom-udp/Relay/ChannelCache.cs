namespace FastRelay.Protocols.CustomUdp.Relay;

/// <summary>
/// The last packets of one channel, exactly as the publisher sent them (the unaltered copy that reaches userspace),
/// keyed by the publisher's sequence number. A ring of slots, the oldest packet overwritten when it wraps. The slots'
/// memory comes in chunks of <see cref="ChunkSlots"/>, allocated when a packet first lands in one and dropped by
/// <see cref="Clear"/>: a channel anyone can name after a cookie handshake costs nothing until data flows (it used to
/// cost the whole ring, 16 MiB by default, at once and for good). Once the ring has wrapped, caching never allocates.
/// </summary>
public sealed class ChannelCache
{
    public const int SlotBytes = 2048;
    /// <summary>Slots per chunk of memory (128 KiB).</summary>
    public const int ChunkSlots = 64;

    private readonly byte[]?[] _chunks;
    private readonly ulong[] _sequence;
    private readonly long[] _receivedAt;
    private readonly int[] _length;
    private readonly int _capacity;
    private readonly object _gate = new();
    private ulong _newest;
    private bool _any;

    public ChannelCache(int capacity)
    {
        _capacity = capacity;
        _chunks = new byte[]?[(capacity + ChunkSlots - 1) / ChunkSlots];
        _sequence = new ulong[capacity];
        _receivedAt = new long[capacity];
        _length = new int[capacity];
    }

    public int Capacity => _capacity;

    /// <summary>Bytes of packet memory allocated now.</summary>
    public long HeldBytes
    {
        get
        {
            lock (_gate)
                return _chunks.Count(c => c is not null) * (long)ChunkSlots * SlotBytes;
        }
    }

    public void Add(ulong publisherSequence, ReadOnlySpan<byte> packet, long receivedAtNs)
    {
        if (packet.Length > SlotBytes)
            return; // larger than any datagram the relay forwards; not worth a slot
        var index = (int)(publisherSequence % (ulong)_capacity);
        lock (_gate)
        {
            var chunk = _chunks[index / ChunkSlots] ??= new byte[ChunkSlots * SlotBytes];
            packet.CopyTo(chunk.AsSpan(index % ChunkSlots * SlotBytes));
            _sequence[index] = publisherSequence;
            _length[index] = packet.Length;
            _receivedAt[index] = receivedAtNs;
            if (!_any || publisherSequence > _newest)
                _newest = publisherSequence;
            _any = true;
        }
    }

    /// <summary>Copies the cached packet into <paramref name="destination"/>; false when it has been overwritten or
    /// never arrived.</summary>
    public bool TryCopy(ulong publisherSequence, Span<byte> destination, out int length)
    {
        var index = (int)(publisherSequence % (ulong)_capacity);
        lock (_gate)
        {
            length = _length[index];
            if (length == 0 || _sequence[index] != publisherSequence || destination.Length < length)
            {
                length = 0;
                return false;
            }
            _chunks[index / ChunkSlots]!.AsSpan(index % ChunkSlots * SlotBytes, length).CopyTo(destination);
            return true;
        }
    }

    /// <summary>Forgets every packet (a new publisher took the channel over and may reuse the old one's sequence numbers).</summary>
    public void Clear()
    {
        lock (_gate)
        {
            Array.Clear(_length);
            Array.Clear(_chunks); // the memory goes back with the packets
            _any = false;
        }
    }

    /// <summary>Publisher sequences received at or after <paramref name="sinceNs"/>, oldest first (late joiners).</summary>
    public List<ulong> SequencesSince(long sinceNs)
    {
        var result = new List<ulong>();
        lock (_gate)
        {
            if (!_any)
                return result;
            var oldest = _newest >= (ulong)_capacity ? _newest - (ulong)_capacity + 1 : 0;
            for (var seq = oldest; seq <= _newest; seq++)
            {
                var index = (int)(seq % (ulong)_capacity);
                if (_length[index] > 0 && _sequence[index] == seq && _receivedAt[index] >= sinceNs)
                    result.Add(seq);
            }
        }
        return result;
    }
}
