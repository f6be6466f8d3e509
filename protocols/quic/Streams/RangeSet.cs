namespace FastRelay.Protocols.Quic.Streams;

/// <summary>
/// Sorted, non-overlapping, non-adjacent half-open byte ranges [Start, End). Used for the received pieces of a
/// <see cref="ReceiveBuffer"/> and the acked/lost ranges of a <see cref="SendBuffer"/>. Backed by a List that only
/// grows when fragmentation grows, so steady-state use does not allocate.
/// <para>A peer decides how fragmented a receive set gets (one range per byte it sends with a gap after it), so the
/// position of a range is found by binary search, and receivers bound the count with <see cref="CanAdd"/>. What is left
/// linear is the List's shift on insert and merge: a memmove of at most the bounded count of 16-byte entries.</para>
/// </summary>
internal sealed class RangeSet
{
    private readonly List<(ulong Start, ulong End)> _ranges = new(4);

    public int Count => _ranges.Count;
    public bool IsEmpty => _ranges.Count == 0;

    /// <summary>Bytes covered by all ranges (they never overlap).</summary>
    public ulong TotalLength
    {
        get
        {
            ulong total = 0;
            foreach (var (start, end) in _ranges) total += end - start;
            return total;
        }
    }
    public (ulong Start, ulong End) this[int index] => _ranges[index];
    public (ulong Start, ulong End) First => _ranges[0];

    public void Clear() => _ranges.Clear();

    /// <summary>Index of the first range whose End is at least <paramref name="offset"/> (Count if none): O(log n).</summary>
    public int FirstEndingAtOrAfter(ulong offset)
    {
        int low = 0, high = _ranges.Count;
        while (low < high)
        {
            int middle = (low + high) >>> 1;
            if (_ranges[middle].End < offset) low = middle + 1;
            else high = middle;
        }
        return low;
    }

    /// <summary>Whether adding [start, end) keeps the count within <paramref name="maxRanges"/> (it may merge instead of adding).</summary>
    public bool CanAdd(ulong start, ulong end, int maxRanges)
    {
        if (_ranges.Count < maxRanges || start >= end) return true;
        int i = FirstEndingAtOrAfter(start);
        return i < _ranges.Count && _ranges[i].Start <= end;   // touches or overlaps a range: merges, no new one
    }

    /// <summary>Adds [start, end), merging with overlapping or touching ranges.</summary>
    public void Add(ulong start, ulong end)
    {
        if (start >= end) return;
        // First range whose end reaches start (touching counts, so neighbours merge).
        int i = FirstEndingAtOrAfter(start);
        int j = i;
        while (j < _ranges.Count && _ranges[j].Start <= end)
        {
            if (_ranges[j].Start < start) start = _ranges[j].Start;
            if (_ranges[j].End > end) end = _ranges[j].End;
            j++;
        }
        if (j - i == 1) _ranges[i] = (start, end);
        else
        {
            if (j > i) _ranges.RemoveRange(i, j - i);
            _ranges.Insert(i, (start, end));
        }
    }

    /// <summary>Removes [start, end) (splitting a range that contains it).</summary>
    public void Remove(ulong start, ulong end)
    {
        if (start >= end) return;
        // Ranges ending at or before start are untouched: skip them by binary search (End > start needed).
        for (int i = FirstEndingAtOrAfter(start + 1); i < _ranges.Count; i++)
        {
            var (s, e) = _ranges[i];
            if (e <= start) continue;
            if (s >= end) break;
            if (s < start && e > end)
            {
                _ranges[i] = (s, start);
                _ranges.Insert(i + 1, (end, e));
                return;
            }
            if (s < start) _ranges[i] = (s, start);
            else if (e > end) _ranges[i] = (end, e);
            else
            {
                _ranges.RemoveAt(i);
                i--;
            }
        }
    }

    /// <summary>Removes everything below <paramref name="offset"/>.</summary>
    public void RemoveBelow(ulong offset)
    {
        if (_ranges.Count > 0 && _ranges[0].Start < offset) Remove(0, offset);
    }

    /// <summary>Whether [start, end) is entirely covered.</summary>
    public bool Contains(ulong start, ulong end)
    {
        int i = FirstEndingAtOrAfter(end);
        return i < _ranges.Count && _ranges[i].Start <= start;
    }
}
