namespace FastRelay.Protocols.Quic.Streams;

/// <summary>
/// Reassembles one byte stream from out-of-order pieces: a stream's receive side (RFC 9000 §2.2, §3.2) and each
/// encryption level's CRYPTO stream (§19.6, §7.5). Pieces may overlap or repeat (retransmissions repackage data
/// freely); the first copy of a byte wins since a conforming peer sends the same bytes at the same offset.
/// Memory is bounded: nothing beyond <c>ReadOffset + maxBufferedAhead</c> is accepted, and storage is pooled chunks
/// released as the reader consumes (see <see cref="ChunkStore"/>).
/// </summary>
public sealed class ReceiveBuffer
{
    /// <summary>
    /// Separate runs of received bytes a stream may hold (the gaps a lossy network makes are far fewer: a 16 MB window
    /// at 2% loss has a few hundred). A peer could otherwise send single bytes with gaps between them and make one range
    /// per byte. quic-go bounds its frame sorter the same way (1000 gaps).
    /// </summary>
    public const int DefaultMaxRanges = 1024;

    private readonly ulong _maxBufferedAhead;
    private readonly QuicTransportError _overflowError;
    private readonly int _maxRanges;
    private readonly ChunkStore _store = new();
    private readonly RangeSet _received = new();   // ranges at or above ReadOffset that hold data
    private bool _discarding;

    /// <param name="maxBufferedAhead">Bytes beyond the read offset that may be buffered.</param>
    /// <param name="overflowError">The error for data beyond that, and for more than <paramref name="maxRanges"/> separate ranges
    /// (FLOW_CONTROL_ERROR for streams, CRYPTO_BUFFER_EXCEEDED for CRYPTO: both say the peer used more of our buffer than allowed).</param>
    public ReceiveBuffer(ulong maxBufferedAhead, QuicTransportError overflowError, int maxRanges = DefaultMaxRanges)
    {
        _maxBufferedAhead = maxBufferedAhead;
        _overflowError = overflowError;
        _maxRanges = maxRanges;
    }

    /// <summary>Bytes consumed by the reader.</summary>
    public ulong ReadOffset { get; private set; }

    /// <summary>Largest offset + length seen: what the peer has used of the flow-control window.</summary>
    public ulong HighestReceived { get; private set; }

    public ulong? FinalSize { get; private set; }

    /// <summary>Contiguous bytes readable now.</summary>
    public int Available =>
        _discarding || _received.IsEmpty || _received.First.Start != ReadOffset
            ? 0
            : (int)Math.Min(_received.First.End - ReadOffset, int.MaxValue);

    /// <summary>Everything up to <see cref="FinalSize"/> was consumed.</summary>
    public bool IsFinished => FinalSize is { } size && ReadOffset == size && !_discarding;

    /// <summary>Every byte up to the final size has arrived (consumed or not).</summary>
    public bool IsComplete => FinalSize is { } size &&
        (ReadOffset == size || (!_received.IsEmpty && _received.First.Start <= ReadOffset && _received.First.End == size));

    /// <summary>Memory held (pooled chunks), for memory-bound checks.</summary>
    public long RetainedBytes => _store.RetainedBytes;

    /// <summary>
    /// Data beyond ReadOffset + maxBufferedAhead → the overflow error; a final size that conflicts with a known one,
    /// data beyond a known final size, or a final size below data already received → FINAL_SIZE_ERROR (§4.5).
    /// </summary>
    public bool TryWrite(ulong offset, ReadOnlySpan<byte> data, bool fin, out QuicError error)
    {
        ulong end = offset + (ulong)data.Length;
        if (FinalSize is { } known)
        {
            if (end > known) return Fail(out error, QuicTransportError.FinalSizeError, "data beyond the final size");
            if (fin && end != known) return Fail(out error, QuicTransportError.FinalSizeError, "final size changed");
        }
        else if (fin && end < HighestReceived)
        {
            return Fail(out error, QuicTransportError.FinalSizeError, "final size below data already received");
        }
        if (end > ReadOffset && end - ReadOffset > _maxBufferedAhead)
            return Fail(out error, _overflowError, "data beyond the receive buffer limit");
        if (end > ReadOffset && !_received.CanAdd(Math.Max(offset, ReadOffset), end, _maxRanges))
            return Fail(out error, _overflowError, "too many gaps in received data");

        if (fin) FinalSize = end;
        if (end > HighestReceived) HighestReceived = end;
        error = default;
        if (end <= ReadOffset) return true;
        ulong start = Math.Max(offset, ReadOffset);
        if (_discarding)
        {
            // Keep tracking arrival (to see when the stream is complete) without storing the bytes.
            _received.Add(start, end);
            return true;
        }

        ReadOnlySpan<byte> fresh = data[(int)(start - offset)..];
        // Copy only the gaps: bytes already present stay (they are the same bytes from a conforming peer).
        ulong cursor = start;
        for (int i = _received.FirstEndingAtOrAfter(cursor); i < _received.Count && cursor < end; i++)
        {
            var (s, e) = _received[i];
            if (e <= cursor) continue;
            if (s >= end) break;
            if (s > cursor) _store.Write(cursor, fresh.Slice((int)(cursor - start), (int)(s - cursor)));
            cursor = Math.Max(cursor, e);
        }
        if (cursor < end) _store.Write(cursor, fresh[(int)(cursor - start)..]);
        _received.Add(start, end);
        return true;
    }

    /// <summary>Copies and consumes up to <paramref name="destination"/>.Length contiguous bytes.</summary>
    public int Read(Span<byte> destination)
    {
        int n = Math.Min(Available, destination.Length);
        if (n == 0) return 0;
        _store.Read(ReadOffset, destination[..n]);
        ReadOffset += (ulong)n;
        _received.RemoveBelow(ReadOffset);
        _store.ReleaseBelow(ReadOffset);
        return n;
    }

    /// <summary>
    /// Drops buffered data and stops storing (the application aborted reading, or the peer reset the stream). Size
    /// checks continue so the final size is still validated and flow control still accounts for what arrives.
    /// </summary>
    public void Discard()
    {
        _discarding = true;
        _store.Clear(ReadOffset);
    }

    private static bool Fail(out QuicError error, QuicTransportError code, string reason)
    {
        error = new QuicError(code, reason);
        return false;
    }
}
