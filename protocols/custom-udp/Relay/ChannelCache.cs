namespace FastRelay.Protocols.CustomUdp.Relay;

/// <summary>
/// The last packets of one channel, exactly as the publisher sent them (the unaltered copy that reaches userspace),
/// keyed by the publisher's sequence number. A fixed ring of preallocated slots: caching a packet never allocates,
/// and the oldest packet is overwritten when the ring wraps.
/// </summary>
public sealed class ChannelCache
{
    public const int SlotBytes = 2048;

    private readonly byte[] _data;
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
        _data = new byte[capacity * SlotBytes];
        _sequence = new ulong[capacity];
        _receivedAt = new long[capacity];
        _length = new int[capacity];
    }

    public int Capacity => _capacity;

    public void Add(ulong publisherSequence, ReadOnlySpan<byte> packet, long receivedAtNs)
    {
        if (packet.Length > SlotBytes)
            return; // larger than any datagram the relay forwards; not worth a slot
        var index = (int)(publisherSequence % (ulong)_capacity);
        lock (_gate)
        {
            packet.CopyTo(_data.AsSpan(index * SlotBytes));
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
            _data.AsSpan(index * SlotBytes, length).CopyTo(destination);
            return true;
        }
    }

    /// <summary>Forgets every packet (a new publisher took the channel over and may reuse the old one's sequence numbers).</summary>
    public void Clear()
    {
        lock (_gate)
        {
            Array.Clear(_length);
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
