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
    // Kernel fast path ("shadow" data, see BeginKernelForwarding): userspace sends new data only below this offset;
    // from it on the kernel sends the bytes and userspace holds the copy. ulong.MaxValue: an ordinary stream.
    private ulong _kernelFrom = ulong.MaxValue;
    // Highest end of a range the kernel sent for us (registered) or userspace sent out of order (a range the kernel
    // reported as not forwarded): together with SentOffset the highest offset the peer may have seen.
    private ulong _externalHighest;

    public SendBuffer(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _capacity = capacity;
    }

    public int FreeSpace => (int)Math.Max(0, _capacity - (long)(WrittenLength - _ackedPrefix));

    /// <summary>
    /// Free space at which a writer the full buffer cut short is woken again: a quarter of the capacity. Waking it at the
    /// first acknowledged byte (as before) woke it for every ACK to write a packet's worth, each time a thread-pool
    /// wake-up and a fight for the connection lock with the receive thread: 12,000 futex calls per 100 MB served, the
    /// largest syscall count of `quic serve` under `scripts/quic-goodput.sh`. The three quarters still buffered keep
    /// the connection sending while the writer comes back.
    /// </summary>
    public int WritableThreshold => Math.Max(1, _capacity / 4);

    public ulong WrittenLength { get; private set; }

    /// <summary>End of the new data sent so far (every byte below was sent at least once): what flow control counts.</summary>
    public ulong SentOffset { get; private set; }

    public bool IsFinished => _finished;

    /// <summary>
    /// The highest offset sent by anyone (userspace or the kernel on our behalf): what connection- and stream-level
    /// flow control count (RFC 9000 §4.1). Equal to <see cref="SentOffset"/> for an ordinary stream.
    /// </summary>
    public ulong HighestSent => Math.Max(SentOffset, _externalHighest);

    /// <summary>Where the kernel takes over sending new data (ulong.MaxValue: never, an ordinary stream).</summary>
    public ulong KernelForwardFrom => _kernelFrom;

    /// <summary>
    /// Shadow mode for the kernel fast path: from <paramref name="forwardFrom"/> on, written bytes are kept (for
    /// retransmission) but not sent as new data, because the kernel forwards them; userspace sends such a range only
    /// after <see cref="OnNotForwarded"/> or <see cref="OnLost"/>. Bytes below it are sent as usual. The FIN is sent by
    /// userspace itself only when the final size is at most <paramref name="forwardFrom"/> (otherwise the kernel
    /// forwards it, or reports it not forwarded; a duplicate FIN at the same final size is harmless, §4.5).
    /// </summary>
    public void BeginKernelForwarding(ulong forwardFrom)
    {
        if (forwardFrom < SentOffset) throw new InvalidOperationException("forward-from below what userspace already sent");
        _kernelFrom = forwardFrom;
    }

    /// <summary>
    /// The kernel sent [offset, offset+length) (and the FIN if <paramref name="fin"/>) for this stream: those bytes count
    /// as sent. The bytes may not be written here yet (the kernel is faster than userspace); nothing needs them until
    /// they are lost.
    /// </summary>
    public void OnSentExternally(ulong offset, ulong length, bool fin)
    {
        if (_discarded) return;
        ulong end = offset + length;
        if (end > _externalHighest) _externalHighest = end;
        if (fin) _finSent = true;
    }

    /// <summary>
    /// The kernel did not forward [offset, offset+length) although it was mapped (no credit, budget, priority):
    /// userspace sends it itself, like lost data — but needing flow-control credit where it lies above
    /// <see cref="HighestSent"/> (the kernel never counted it). Parts not written yet go once they are. A FIN that already
    /// went out (a kernel copy carried it: a relay's tap reports the upstream's FIN-only end as not forwarded when it cannot
    /// tell) is not sent again; if that copy is lost, loss detection resends it.
    /// </summary>
    public void OnNotForwarded(ulong offset, ulong length, bool fin)
    {
        if (_discarded) return;
        if (fin && !_finAcked && !_finSent) _finLost = true;
        AddUnacknowledged(offset, offset + length);
    }

    /// <summary>Accepts up to <see cref="FreeSpace"/> bytes; returns how many.</summary>
    public int Write(ReadOnlySpan<byte> data)
    {
        if (_finished) throw new InvalidOperationException("write after FIN");
        int n = Math.Min(FreeSpace, data.Length);
        if (n == 0) return 0;
        _store.Write(WrittenLength, data[..n]);
        WrittenLength += (ulong)n;
        // Shadow data may have been acknowledged (the kernel sent it) before it was written here.
        if (_acked.Count > 0) AdvanceAckedPrefix();
        return n;
    }

    /// <summary>
    /// Whether writing <paramref name="length"/> bytes (and a FIN when <paramref name="fin"/>) next gives userspace nothing
    /// to send: shadow data at or past where the kernel took over (a FIN after it is the kernel's too), while no lost or
    /// handed-back range waits for bytes (the kernel can be ahead of the writer: such a range becomes sendable when its
    /// bytes arrive). The relay writes every upstream chunk to every fast-path subscriber's stream this way.
    /// </summary>
    public bool IsSilentShadowWrite(int length, bool fin) =>
        _kernelFrom != ulong.MaxValue && WrittenLength >= _kernelFrom && (length > 0 || !fin || WrittenLength > _kernelFrom)
        && !HasRetransmission && !_discarded;

    /// <summary>FIN after what was written.</summary>
    public void Finish() => _finished = true;

    /// <summary>Lost ranges to resend, new data below <paramref name="flowLimit"/>, or a FIN to send.</summary>
    public bool HasPendingData(ulong flowLimit) => !_discarded && (
        HasSendableRetransmission(flowLimit)
        || SentOffset < Math.Min(NewDataEnd, flowLimit)
        || UserspaceOwesNewFin);

    /// <summary>Whether new data is waiting that <paramref name="flowLimit"/> keeps from being sent (→ *_BLOCKED).</summary>
    public bool IsBlockedBy(ulong flowLimit) => !_discarded && SentOffset < NewDataEnd && SentOffset >= flowLimit;

    /// <summary>Bytes waiting for userspace to send them: new data not sent yet (below where the kernel takes over) and
    /// lost or not-forwarded ranges. How far the connection is behind what the application gave it.</summary>
    public ulong UnsentBytes => _discarded ? 0 : (NewDataEnd > SentOffset ? NewDataEnd - SentOffset : 0) + _lost.TotalLength;

    /// <summary>Whether lost data or a lost FIN waits to be resent (needs no flow-control credit).</summary>
    public bool HasRetransmission => !_lost.IsEmpty || _finLost;

    /// <summary>Whether new data (or a new FIN) waits to be sent within <paramref name="flowLimit"/>.</summary>
    public bool HasNewData(ulong flowLimit) => !_discarded && (SentOffset < Math.Min(NewDataEnd, flowLimit) || UserspaceOwesNewFin);

    /// <summary>End of what userspace sends as new data: all that was written, or up to where the kernel takes over.</summary>
    private ulong NewDataEnd => Math.Min(WrittenLength, _kernelFrom);

    /// <summary>A FIN nobody sent yet that is ours to send (for shadow data only when the final size ≤ forward-from).</summary>
    private bool UserspaceOwesNewFin => _finished && !_finSent && SentOffset == WrittenLength;

    /// <summary>Lost or not-forwarded data whose bytes are written and within flow control, or a lost FIN that can go.</summary>
    public bool HasSendableRetransmission(ulong flowLimit)
    {
        if (!_lost.IsEmpty)
        {
            var (start, end) = _lost.First;
            if (start < SendableEnd(end, flowLimit)) return true;
        }
        return LostFinAlone;
    }

    /// <summary>Lost/owed bytes can go up to what is written, and above <see cref="HighestSent"/> only within flow control.</summary>
    private ulong SendableEnd(ulong end, ulong flowLimit) => Math.Min(Math.Min(end, WrittenLength), Math.Max(HighestSent, flowLimit));

    /// <summary>Only the FIN is owed: every byte is written, none waits to be resent, and all were sent by someone.</summary>
    private bool LostFinAlone => _finLost && _finished && _lost.IsEmpty && HighestSent >= WrittenLength;

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
        if (TryTakeRetransmission(destination, flowLimit, out offset, out length, out fin)) return true;
        return TryTakeNew(destination, flowLimit, out offset, out length, out fin);
    }

    /// <summary>Lost (or not-forwarded) data first (lowest offset), or a lost FIN alone; false when none can go now.</summary>
    public bool TryTakeRetransmission(Span<byte> destination, ulong flowLimit, out ulong offset, out int length, out bool fin)
    {
        if (!_discarded && !_lost.IsEmpty && destination.Length > 0)
        {
            var (s, e) = _lost.First;
            ulong end = SendableEnd(e, flowLimit);
            if (s < end)
            {
                length = (int)Math.Min(end - s, (ulong)destination.Length);
                offset = s;
                _store.Read(s, destination[..length]);
                _lost.Remove(s, s + (ulong)length);
                ulong sentEnd = s + (ulong)length;
                if (sentEnd > _externalHighest) _externalHighest = sentEnd;   // not-forwarded data may lie above HighestSent
                fin = _finished && sentEnd == WrittenLength && !_finAcked && (_finLost || _finSent || _kernelFrom == ulong.MaxValue);
                if (fin) { _finSent = true; _finLost = false; }
                return true;
            }
        }
        if (!_discarded && LostFinAlone)
        {
            // Only the FIN was lost: resend it alone.
            offset = WrittenLength;
            length = 0;
            fin = true;
            _finLost = false;
            return true;
        }
        offset = 0;
        length = 0;
        fin = false;
        return false;
    }

    /// <summary>New data (below flow control and, for shadow data, below forward-from), or a new FIN alone.</summary>
    public bool TryTakeNew(Span<byte> destination, ulong flowLimit, out ulong offset, out int length, out bool fin)
    {
        if (_discarded)
        {
            offset = 0;
            length = 0;
            fin = false;
            return false;
        }
        ulong limit = Math.Min(NewDataEnd, flowLimit);
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
        if (UserspaceOwesNewFin)
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
        AdvanceAckedPrefix();
    }

    /// <summary>Frees the acknowledged prefix — only as far as bytes are written (shadow data can be acked first).</summary>
    private void AdvanceAckedPrefix()
    {
        if (_acked.IsEmpty || _acked.First.Start != _ackedPrefix) return;
        ulong end = Math.Min(_acked.First.End, WrittenLength);
        if (end <= _ackedPrefix) return;
        _ackedPrefix = end;
        _acked.RemoveBelow(_ackedPrefix);
        _store.ReleaseBelow(_ackedPrefix);
    }

    /// <summary>A range (and/or the FIN) was declared lost: queue the parts not acknowledged meanwhile.</summary>
    public void OnLost(ulong offset, ulong length, bool fin)
    {
        if (_discarded) return;
        if (fin && !_finAcked) _finLost = true;
        AddUnacknowledged(offset, Math.Min(offset + length, HighestSent));
    }

    /// <summary>Queues the parts of [offset, end) not acknowledged for sending again.</summary>
    private void AddUnacknowledged(ulong offset, ulong end)
    {
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
