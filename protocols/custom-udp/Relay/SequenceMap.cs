namespace FastRelay.Protocols.CustomUdp.Relay;

/// <summary>
/// For one subscriber: which publisher packet went out under which of the subscriber's own sequence numbers, kept as
/// runs. A registration (s, p) says that s carried p and that every following number continues the run (s + k carried
/// p + k) until the next registration. The kernel registers only where that breaks (FR_CONFIG_REGISTER_RUNS); the
/// userspace data plane registers every copy and consecutive ones merge into one run. Read to answer a NACK.
/// A fixed ring of runs, oldest evicted first, so memory is bounded and nothing allocates per packet.
/// </summary>
public sealed class SequenceMap(int capacity)
{
    private readonly ulong[] _start = new ulong[capacity];
    private readonly ulong[] _publisher = new ulong[capacity];
    private readonly object _gate = new();
    private int _first, _count; // the runs in ascending start order: logical index i is at (_first + i) % capacity

    public void Record(ulong subscriberSequence, ulong publisherSequence)
    {
        lock (_gate)
        {
            if (_count > 0)
            {
                var last = At(_count - 1);
                // Continues the newest run: nothing new to remember.
                if (subscriberSequence > _start[last] && publisherSequence - _publisher[last] == subscriberSequence - _start[last])
                    return;
            }
            var position = _count;
            // Registrations from different CPUs may arrive slightly out of order: find the place from the newest end.
            while (position > 0 && _start[At(position - 1)] >= subscriberSequence)
                position--;
            if (position < _count && _start[At(position)] == subscriberSequence)
            {
                _publisher[At(position)] = publisherSequence;
                return;
            }
            if (_count == capacity)
            {
                if (position == 0)
                    return; // older than everything kept
                _first = (_first + 1) % capacity;
                _count--;
                position--;
            }
            for (var i = _count; i > position; i--)
            {
                _start[At(i)] = _start[At(i - 1)];
                _publisher[At(i)] = _publisher[At(i - 1)];
            }
            _start[At(position)] = subscriberSequence;
            _publisher[At(position)] = publisherSequence;
            _count++;
        }
    }

    /// <summary>The publisher packet sent as <paramref name="subscriberSequence"/>; false when it is older than every run
    /// kept or not below <paramref name="nextSequence"/> (the number the next packet will get: never sent yet).</summary>
    public bool TryGet(ulong subscriberSequence, ulong nextSequence, out ulong publisherSequence)
    {
        publisherSequence = 0;
        if (subscriberSequence >= nextSequence)
            return false;
        lock (_gate)
        {
            // The newest run starting at or before the number: binary search over the logical order.
            int low = 0, high = _count - 1, found = -1;
            while (low <= high)
            {
                var mid = (low + high) / 2;
                if (_start[At(mid)] <= subscriberSequence)
                {
                    found = mid;
                    low = mid + 1;
                }
                else
                {
                    high = mid - 1;
                }
            }
            if (found < 0)
                return false;
            var run = At(found);
            publisherSequence = _publisher[run] + (subscriberSequence - _start[run]);
            return true;
        }
    }

    public void Clear()
    {
        lock (_gate)
            _first = _count = 0;
    }

    private int At(int logical) => (_first + logical) % capacity;
}
