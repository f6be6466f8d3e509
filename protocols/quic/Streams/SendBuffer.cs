namespace FastRelay.Protocols.Quic.Streams;

/// <summary>
/// A stream's send side (RFC 9000 §2.2, §3.1, §13.3): the bytes the application wrote, which were sent, acked or
/// lost. Bytes stay (in pooled chunks) until acknowledged, because a lost range is resent with the same bytes at the
/// same offset; the acknowledged prefix is freed. <c>capacity</c> bounds the unacknowledged bytes held: when it is
/// full, <see cref="Write"/> accepts less (backpressure to the application).
/// Order of sending: lost ranges first (lowest offset; they are not limited by flow control, which already covered
/// them), then new data up to the peer's limit, then a FIN on its own if nothing else carries it.
/// </summary>
public sealed class SendBuffer
{
    private readonly int _capacity;
    private readonly ChunkStore _store = new();
    private readonly RangeSet _acked = new();   // acknowledged ranges above _ackedPrefix
    private readonly RangeSet _lost = new();    // ranges to resend (never overlapping _acked)
    private ulong _ackedPrefix;                 // everything below is acknowledged and freed
    private bool _finished, _finSent, _finAcked, _finLost, _discarded;

    public SendBuffer(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _capacity = capacity;
    }

    public int FreeSpace => (int)Math.Max(0, _capacity - (long)(WrittenLength - _ackedPrefix));

    public ulong WrittenLength { get; private set; }

    /// <summary>End of the new data sent so far (every byte below was sent at least once): what flow control counts.</summary>
    public ulong SentOffset { get; private set; }

    public bool IsFinished => _finished;

    /// <summary>Accepts up to <see cref="FreeSpace"/> bytes; returns how many.</summary>
    public int Write(ReadOnlySpan<byte> data)
    {
        if (_finished) throw new InvalidOperationException("write after FIN");
        int n = Math.Min(FreeSpace, data.Length);
        if (n == 0) return 0;
        _store.Write(WrittenLength, data[..n]);
        WrittenLength += (ulong)n;
        return n;
    }

    /// <summary>FIN after what was written.</summary>
    public void Finish() => _finished = true;

    /// <summary>Lost ranges to resend, new data below <paramref name="flowLimit"/>, or a FIN to send.</summary>
    public bool HasPendingData(ulong flowLimit) => !_discarded && (
        !_lost.IsEmpty || _finLost
        || SentOffset < Math.Min(WrittenLength, flowLimit)
        || (_finished && !_finSent && SentOffset == WrittenLength));

    /// <summary>Whether new data is waiting that <paramref name="flowLimit"/> keeps from being sent (→ *_BLOCKED).</summary>
    public bool IsBlockedBy(ulong flowLimit) => !_discarded && SentOffset < WrittenLength && SentOffset >= flowLimit;

    /// <summary>Whether lost data or a lost FIN waits to be resent (needs no flow-control credit).</summary>
    public bool HasRetransmission => !_lost.IsEmpty || _finLost;

    /// <summary>
    /// Next range to send: lost data first (lowest offset), then new data capped by <paramref name="flowLimit"/> (the
    /// peer's MAX_STREAM_DATA; the caller may lower it further for connection-level credit). Copies the bytes into
    /// <paramref name="destination"/> (at most its length). False when nothing is sendable.
    /// </summary>
    public bool TryTakeNext(Span<byte> destination, ulong flowLimit, out ulong offset, out int length, out bool fin)
    {
        if (_discarded)
        {
            offset = 0;
            length = 0;
            fin = false;
            return false;
        }
        if (!_lost.IsEmpty && destination.Length > 0)
        {
            var (s, e) = _lost.First;
            length = (int)Math.Min(e - s, (ulong)destination.Length);
            offset = s;
            _store.Read(s, destination[..length]);
            _lost.Remove(s, s + (ulong)length);
            fin = _finished && s + (ulong)length == WrittenLength && !_finAcked;
            if (fin) { _finSent = true; _finLost = false; }
            return true;
        }
        if (_finLost && _lost.IsEmpty && SentOffset == WrittenLength)
        {
            // Only the FIN was lost: resend it alone.
            offset = WrittenLength;
            length = 0;
            fin = true;
            _finLost = false;
            return true;
        }
        ulong limit = Math.Min(WrittenLength, flowLimit);
        if (SentOffset < limit && destination.Length > 0)
        {
            length = (int)Math.Min(limit - SentOffset, (ulong)destination.Length);
            offset = SentOffset;
            _store.Read(offset, destination[..length]);
            SentOffset += (ulong)length;
            fin = _finished && SentOffset == WrittenLength;
            if (fin) _finSent = true;
            return true;
        }
        if (_finished && !_finSent && SentOffset == WrittenLength)
        {
            offset = WrittenLength;
            length = 0;
            fin = true;
            _finSent = true;
            return true;
        }
        offset = 0;
        length = 0;
        fin = false;
        return false;
    }

    /// <summary>A range (and/or the FIN) was acknowledged: never resend it; free the acknowledged prefix.</summary>
    public void OnAcked(ulong offset, ulong length, bool fin)
    {
        if (_discarded) return;
        if (fin) { _finAcked = true; _finLost = false; }
        ulong end = offset + length;
        // A FIN-only frame acknowledges no bytes (its ACK may come before the data's: nothing to record).
        if (length == 0 || end <= _ackedPrefix) return;
        offset = Math.Max(offset, _ackedPrefix);
        _lost.Remove(offset, end);
        _acked.Add(offset, end);
        if (_acked.First.Start == _ackedPrefix)
        {
            _ackedPrefix = _acked.First.End;
            _acked.RemoveBelow(_ackedPrefix);
            _store.ReleaseBelow(_ackedPrefix);
        }
    }

    /// <summary>A range (and/or the FIN) was declared lost: queue the parts not acknowledged meanwhile.</summary>
    public void OnLost(ulong offset, ulong length, bool fin)
    {
        if (_discarded) return;
        if (fin && !_finAcked) _finLost = true;
        ulong end = Math.Min(offset + length, SentOffset);
        ulong cursor = Math.Max(offset, _ackedPrefix);
        for (int i = 0; i < _acked.Count && cursor < end; i++)
        {
            var (s, e) = _acked[i];
            if (e <= cursor) continue;
            if (s >= end) break;
            if (s > cursor) _lost.Add(cursor, s);
            cursor = e;
        }
        if (cursor < end) _lost.Add(cursor, end);
    }

    /// <summary>FIN and every byte acknowledged.</summary>
    public bool IsFullyAcknowledged => _finished && _finAcked && _ackedPrefix == WrittenLength;

    /// <summary>Memory held (pooled chunks).</summary>
    public long RetainedBytes => _store.RetainedBytes;

    /// <summary>Abandons the stream (RESET_STREAM): nothing more is sent and the memory returns to the pool.</summary>
    public void Discard()
    {
        _discarded = true;
        _lost.Clear();
        _acked.Clear();
        _finLost = false;
        _finished = true;
        _finSent = true;
        _store.Clear(WrittenLength);
        _ackedPrefix = WrittenLength;
    }
}
