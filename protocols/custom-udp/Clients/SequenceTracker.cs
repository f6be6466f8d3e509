using FastRelay.Protocols.CustomUdp.Wire;

namespace FastRelay.Protocols.CustomUdp.Clients;

/// <summary>What a received sequence meant to the <see cref="SequenceTracker"/>.</summary>
public enum SequenceOutcome : byte
{
    /// <summary>At or beyond the highest so far (any sequences skipped became gaps).</summary>
    New,
    /// <summary>Filled a gap (a late DATA packet, i.e. reordering, or a REPAIR).</summary>
    FilledGap,
    /// <summary>Already received.</summary>
    Duplicate,
    /// <summary>A sequence too old to know (before the window), or one already filled after it had been given up.</summary>
    TooLate,
    /// <summary>Filled a gap that had already been given up on: it no longer counts as unrepaired, but it came after the
    /// subscriber had stopped asking for it (the relay, or this process, was slow: a loaded machine).</summary>
    FilledLate,
}

/// <summary>
/// Gap detection over the subscriber's gapless sequence (the relay's per-subscriber numbering 0, 1, 2, …), with NACK
/// scheduling: a missing sequence is NACKed once it has been missing for <see cref="ReorderDelayNs"/>, again every
/// <see cref="RetryIntervalNs"/> while unrepaired, at most <see cref="MaxNackAttempts"/> times, and then given up
/// (counted in <see cref="Unrepaired"/>) once the last NACK had its retry interval to be answered. Sequences wrap at
/// 2^32 (tracked as 64-bit internally). All state is preallocated for a window of <see cref="Window"/> sequences: a
/// jump further than that gives up the older gaps. One thread; allocation-free after construction. Times are any
/// monotonic ns (the subscriber passes <see cref="MonotonicClock.NowNs"/>).
/// </summary>
public sealed class SequenceTracker
{
    public const int Window = 1 << 16;
    private const long Mask = Window - 1;

    /// <summary>A first sequence below this is taken as counting from 0 (so loss of the very first packets is seen);
    /// a higher one starts the count there (the relay did not restart our numbering).</summary>
    public const uint AnchorSlack = 1024;

    private const byte Received = 1, Missing = 2, GivenUp = 3; // 0: not seen

    private readonly byte[] _state = new byte[Window];          // by sequence & Mask, valid for [_next - Window, _next)
    private readonly long[] _queue = new long[Window];          // missing sequences in detection (= ascending) order
    private readonly long[] _since = new long[Window];          // per queue entry: when found missing
    private readonly long[] _lastNack = new long[Window];
    private readonly byte[] _attempts = new byte[Window];
    private int _head, _count;                                  // ring over _queue
    private long _next;                                         // highest received + 1
    private bool _anchored;

    public SequenceTracker(long reorderDelayNs = 5_000_000, long retryIntervalNs = 25_000_000, int maxNackAttempts = 4)
    {
        ReorderDelayNs = reorderDelayNs;
        RetryIntervalNs = retryIntervalNs;
        MaxNackAttempts = Math.Clamp(maxNackAttempts, 1, 255);
    }

    public long ReorderDelayNs { get; }
    public long RetryIntervalNs { get; }
    public int MaxNackAttempts { get; }

    /// <summary>Sequences found missing.</summary>
    public long GapsDetected { get; private set; }
    /// <summary>Missing sequences given up on and never filled since.</summary>
    public long Unrepaired { get; private set; }
    /// <summary>Sequences filled after they had been given up on (<see cref="SequenceOutcome.FilledLate"/>).</summary>
    public long FilledLate { get; private set; }
    /// <summary>Sequences put into NACKs (each attempt counts).</summary>
    public long NackedSequences { get; private set; }
    /// <summary>Numbering jumps beyond the window (or first packets far from 0).</summary>
    public long Resyncs { get; private set; }
    /// <summary>Sequences currently missing and not yet given up.</summary>
    public int Outstanding { get; private set; }

    /// <summary>Lowest sequence neither received nor given up (what FEEDBACK reports as next expected).</summary>
    public uint NextExpected => (uint)LowestUnresolved;

    /// <summary>Highest received + 1.</summary>
    public uint Next => (uint)_next;

    private long LowestUnresolved
    {
        get
        {
            DropResolvedHead();
            return _count > 0 ? _queue[_head] : _next;
        }
    }

    /// <summary>Forgets the numbering (a new subscription: the relay numbers from 0 again). Counters are kept;
    /// outstanding gaps count as unrepaired.</summary>
    public void Reset()
    {
        GiveUpAll();
        Array.Clear(_state);
        _head = _count = 0;
        _next = 0;
        _anchored = false;
    }

    /// <summary>Gives up every outstanding gap (end of run, or before <see cref="Reset"/>).</summary>
    public void GiveUpAll()
    {
        while (_count > 0) GiveUpHead();
    }

    public SequenceOutcome OnReceived(uint sequence, long nowNs)
    {
        if (!_anchored)
        {
            _anchored = true;
            _next = sequence < AnchorSlack ? 0 : sequence;
            if (sequence >= AnchorSlack) Resyncs++;
        }
        var diff = (long)unchecked((int)(sequence - (uint)_next));
        var ext = _next + diff;
        if (diff >= Window || diff <= -Window)
        {
            // Further than the window either way: the numbering moved under us. Start over there.
            Resyncs++;
            GiveUpAll();
            Array.Clear(_state);
            _next = ext = (long)sequence + (_next & ~0xFFFF_FFFFL);
        }

        if (ext >= _next)
        {
            // Make room: everything in [ext - Window + 1, ...) must be resolvable in the ring.
            while (_count > 0 && ext - _queue[_head] >= Window) GiveUpHead();
            for (var s = _next; s < ext; s++)
            {
                _state[s & Mask] = Missing;
                Enqueue(s, nowNs);
            }
            GapsDetected += ext - _next;
            _state[ext & Mask] = Received;
            _next = ext + 1;
            return SequenceOutcome.New;
        }

        switch (_state[ext & Mask])
        {
            case Missing:
                _state[ext & Mask] = Received;
                Outstanding--;
                return SequenceOutcome.FilledGap;
            case Received:
                return SequenceOutcome.Duplicate;
            case GivenUp:
                // Given up after its NACKs went unanswered for a while, but the answer came: the packet is not lost.
                _state[ext & Mask] = Received;
                Unrepaired--;
                FilledLate++;
                return SequenceOutcome.FilledLate;
            default:
                return SequenceOutcome.TooLate;
        }
    }

    /// <summary>True when some gap is outstanding (<see cref="CollectNacks"/> has work).</summary>
    public bool HasGaps => Outstanding > 0;

    /// <summary>
    /// Fills <paramref name="ranges"/> with the missing sequences due for a NACK now (coalesced into runs), marks them
    /// NACKed, gives up those whose NACKs are exhausted; returns the number of ranges written.
    /// </summary>
    public int CollectNacks(long nowNs, Span<NackRange> ranges)
    {
        DropResolvedHead();
        // Give up, from the oldest, gaps whose last NACK went unanswered for a retry interval.
        while (_count > 0 && _attempts[_head] >= MaxNackAttempts && nowNs - _lastNack[_head] >= RetryIntervalNs)
        {
            GiveUpHead();
            DropResolvedHead();
        }

        var written = 0;
        for (var i = 0; i < _count; i++)
        {
            var at = (_head + i) & (int)Mask;
            var seq = _queue[at];
            if (_state[seq & Mask] != Missing) continue;
            if (nowNs - _since[at] < ReorderDelayNs) break; // entries behind are younger still
            if (_attempts[at] >= MaxNackAttempts) continue;
            if (_attempts[at] > 0 && nowNs - _lastNack[at] < RetryIntervalNs) continue;

            if (written > 0 && ranges[written - 1].Length < ushort.MaxValue
                && (uint)seq == unchecked(ranges[written - 1].First + ranges[written - 1].Length))
                ranges[written - 1] = ranges[written - 1] with { Length = (ushort)(ranges[written - 1].Length + 1) };
            else if (written < ranges.Length)
                ranges[written++] = new NackRange((uint)seq, 1);
            else
                break;
            _attempts[at]++;
            _lastNack[at] = nowNs;
            NackedSequences++;
        }
        return written;
    }

    private void Enqueue(long sequence, long nowNs)
    {
        if (_count == Window) GiveUpHead();
        var at = (_head + _count) & (int)Mask;
        _queue[at] = sequence;
        _since[at] = nowNs;
        _lastNack[at] = 0;
        _attempts[at] = 0;
        _count++;
        Outstanding++;
    }

    private void DropResolvedHead()
    {
        while (_count > 0 && _state[_queue[_head] & Mask] != Missing)
        {
            _head = (_head + 1) & (int)Mask;
            _count--;
        }
    }

    private void GiveUpHead()
    {
        var seq = _queue[_head];
        if (_state[seq & Mask] == Missing)
        {
            _state[seq & Mask] = GivenUp;
            Outstanding--;
            Unrepaired++;
        }
        _head = (_head + 1) & (int)Mask;
        _count--;
    }
}
