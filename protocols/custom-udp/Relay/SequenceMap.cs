namespace FastRelay.Protocols.CustomUdp.Relay;

/// <summary>
/// For one subscriber: which publisher packet went out under which of the subscriber's own sequence numbers. Filled
/// from the kernel's registration events (fast path) or by the userspace data plane; read to answer a NACK.
/// A fixed ring, so memory is bounded and nothing allocates per packet.
/// </summary>
public sealed class SequenceMap(int capacity)
{
    private readonly ulong[] _subscriberSequence = new ulong[capacity];
    private readonly ulong[] _publisherSequence = new ulong[capacity];
    private readonly bool[] _used = new bool[capacity];

    public void Record(ulong subscriberSequence, ulong publisherSequence)
    {
        var index = (int)(subscriberSequence % (ulong)capacity);
        lock (_used)
        {
            _subscriberSequence[index] = subscriberSequence;
            _publisherSequence[index] = publisherSequence;
            _used[index] = true;
        }
    }

    public bool TryGet(ulong subscriberSequence, out ulong publisherSequence)
    {
        var index = (int)(subscriberSequence % (ulong)capacity);
        lock (_used)
        {
            if (_used[index] && _subscriberSequence[index] == subscriberSequence)
            {
                publisherSequence = _publisherSequence[index];
                return true;
            }
        }
        publisherSequence = 0;
        return false;
    }

    public void Clear()
    {
        lock (_used)
            Array.Clear(_used);
    }
}
