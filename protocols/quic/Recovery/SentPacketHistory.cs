namespace FastRelay.Protocols.Quic.Recovery;

/// <summary>
/// The sent packets of one packet number space, ordered by packet number: a ring of slots where slot i holds packet
/// number <see cref="BasePacketNumber"/> + i. Gaps are explicit: a number never registered holds the
/// <see cref="Skipped"/> marker (an ACK for it is a protocol violation), a packet already acknowledged or lost leaves
/// null. The head advances past null/skipped slots, so the window spans only the oldest outstanding packet to the
/// newest one; lookups by number are O(1), nothing assumes contiguous numbers.
/// Kernel fast path: packets the kernel numbered get their numbers after the fact and are registered late
/// (<see cref="LossDetection.RegisterExternallyNumbered"/>); <see cref="Add"/> accepts a number below the newest one (it
/// fills the skipped slot, or grows the window at the head), so late, out-of-order registration needs no other change.
/// The ring grows by doubling (warm-up only); in steady state it allocates nothing.
/// </summary>
internal sealed class SentPacketHistory
{
    internal static readonly SentPacket Skipped = new();

    private SentPacket?[] _slots = new SentPacket?[64];
    private int _head;      // index of BasePacketNumber's slot
    private int _span;      // number of slots from the head to the newest registered packet
    private ulong _base;
    private int _live;      // real packets in the window
    private int _skipped;   // Skipped markers in the window

    public int Count => _live;
    public bool IsEmpty => _live == 0;
    public bool HasSkipped => _skipped > 0;
    public ulong BasePacketNumber => _base;
    /// <summary>Only meaningful when the window is not empty.</summary>
    public ulong NewestPacketNumber => _base + (ulong)_span - 1;

    public SentPacket? Get(ulong pn)
    {
        if (_span == 0 || pn < _base || pn - _base >= (ulong)_span) return null;
        return _slots[(_head + (int)(pn - _base)) & (_slots.Length - 1)];
    }

    /// <summary>Registers a packet; false if its number is already taken by a registered packet (caller bug).</summary>
    public bool Add(SentPacket packet)
    {
        ulong pn = packet.PacketNumber;
        if (_span == 0)
        {
            _base = pn;
            _head = 0;
            _span = 1;
            _slots[0] = packet;
            _live = 1;
            return true;
        }
        bool fresh = false; // the slot lies outside the old window (so it is null)
        if (pn >= _base + (ulong)_span)
        {
            fresh = true;
            ulong needed = pn - _base + 1;
            EnsureCapacity(needed);
            // Numbers between the old newest and this one were never registered: mark them.
            for (ulong missing = _base + (ulong)_span; missing < pn; missing++)
            {
                _slots[(_head + (int)(missing - _base)) & (_slots.Length - 1)] = Skipped;
                _skipped++;
            }
            _span = (int)needed;
        }
        else if (pn < _base)
        {
            // Late registration of a number older than every outstanding packet: grow the window at the head.
            fresh = true;
            ulong extra = _base - pn;
            EnsureCapacity((ulong)_span + extra);
            _head = (_head - (int)extra) & (_slots.Length - 1);
            for (ulong i = 1; i < extra; i++)
            {
                _slots[(_head + (int)i) & (_slots.Length - 1)] = Skipped;
                _skipped++;
            }
            _span += (int)extra;
            _base = pn;
        }
        int index = (_head + (int)(pn - _base)) & (_slots.Length - 1);
        var existing = _slots[index];
        if (!fresh)
        {
            // Inside the old window only a skipped number may be filled in; a packet or a null (already acked or
            // lost) there means the number was used before — a caller bug.
            if (!ReferenceEquals(existing, Skipped)) return false;
            _skipped--;
        }
        _slots[index] = packet;
        _live++;
        return true;
    }

    /// <summary>Removes a registered packet (acked, lost or discarded) and advances the head past freed slots.</summary>
    public void Remove(ulong pn)
    {
        int index = (_head + (int)(pn - _base)) & (_slots.Length - 1);
        _slots[index] = null;
        _live--;
        if (_live == 0)
        {
            // Nothing outstanding: forget the window (and its skipped markers) so a later gap costs nothing.
            for (int i = 0; i < _span; i++) _slots[(_head + i) & (_slots.Length - 1)] = null;
            _span = 0;
            _skipped = 0;
            return;
        }
        while (_span > 0)
        {
            var s = _slots[_head];
            if (s is not null && !ReferenceEquals(s, Skipped)) break;
            if (s is not null) _skipped--;
            _slots[_head] = null;
            _head = (_head + 1) & (_slots.Length - 1);
            _base++;
            _span--;
        }
    }

    /// <summary>Removes everything, appending each real packet (oldest first) to <paramref name="removed"/>.</summary>
    public void Clear(List<SentPacket> removed)
    {
        for (int i = 0; i < _span; i++)
        {
            int index = (_head + i) & (_slots.Length - 1);
            var s = _slots[index];
            _slots[index] = null;
            if (s is not null && !ReferenceEquals(s, Skipped)) removed.Add(s);
        }
        _span = 0;
        _live = 0;
        _skipped = 0;
    }

    private void EnsureCapacity(ulong span)
    {
        if (span <= (ulong)_slots.Length) return;
        // A gap this large means the caller skipped millions of numbers: refuse rather than allocate without bound.
        if (span > 1 << 24) throw new ArgumentException("packet number gap too large for the sent history");
        int size = _slots.Length;
        while ((ulong)size < span) size *= 2;
        var grown = new SentPacket?[size];
        for (int i = 0; i < _span; i++) grown[i] = _slots[(_head + i) & (_slots.Length - 1)];
        _slots = grown;
        _head = 0;
    }
}
