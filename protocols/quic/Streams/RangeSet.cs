namespace FastRelay.Protocols.Quic.Streams;

/// <summary>
/// Sorted, non-overlapping, non-adjacent half-open byte ranges [Start, End). Used for the received pieces of a
/// <see cref="ReceiveBuffer"/> and the acked/lost ranges of a <see cref="SendBuffer"/>. Backed by a List that only
/// grows when fragmentation grows, so steady-state use does not allocate. Linear operations: in practice the set holds
/// a handful of ranges (one per gap the network created).
/// </summary>
internal sealed class RangeSet
{
    private readonly List<(ulong Start, ulong End)> _ranges = new(4);

    public int Count => _ranges.Count;
    public bool IsEmpty => _ranges.Count == 0;
    public (ulong Start, ulong End) this[int index] => _ranges[index];
    public (ulong Start, ulong End) First => _ranges[0];

    public void Clear() => _ranges.Clear();

    /// <summary>Adds [start, end), merging with overlapping or touching ranges.</summary>
    public void Add(ulong start, ulong end)
    {
        if (start >= end) return;
        int i = 0;
        // First range whose end reaches start (touching counts, so neighbours merge).
        while (i < _ranges.Count && _ranges[i].End < start) i++;
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
        for (int i = 0; i < _ranges.Count; i++)
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
        foreach (var (s, e) in _ranges)
        {
            if (s <= start && e >= end) return true;
            if (s > start) return false;
        }
        return false;
    }
}
