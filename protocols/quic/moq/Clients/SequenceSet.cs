namespace FastRelay.Protocols.Moq.Clients;

/// <summary>
/// Which track sequence numbers have been seen: a bitmap in 4096-bit pages created on demand, so a subscriber that
/// joins at sequence 10^9 or sees a few stray numbers does not allocate for the span between them. 512 bytes per 4096
/// sequences: an hour of 30 fps video is 27 pages.
/// </summary>
public sealed class SequenceSet
{
    private const int PageBits = 4096;
    private readonly Dictionary<ulong, ulong[]> _pages = [];

    public long Count { get; private set; }
    public ulong Min { get; private set; } = ulong.MaxValue;
    public ulong Max { get; private set; }

    /// <summary>Adds; false when it was already there (a duplicate).</summary>
    public bool Add(ulong sequence)
    {
        if (!_pages.TryGetValue(sequence / PageBits, out var page))
            _pages[sequence / PageBits] = page = new ulong[PageBits / 64];
        var bit = (int)(sequence % PageBits);
        ref var word = ref page[bit >> 6];
        var mask = 1UL << (bit & 63);
        if ((word & mask) != 0) return false;
        word |= mask;
        Count++;
        if (sequence < Min) Min = sequence;
        if (sequence > Max) Max = sequence;
        return true;
    }

    public bool Contains(ulong sequence) =>
        _pages.TryGetValue(sequence / PageBits, out var page) && (page[(int)(sequence % PageBits) >> 6] & (1UL << (int)(sequence % 64))) != 0;

    /// <summary>Sequences between the smallest and the largest seen that were not seen.</summary>
    public long MissingInRange => Count == 0 ? 0 : (long)(Max - Min + 1) - Count;

    /// <summary>Maximal runs of missing sequences between the smallest and the largest seen (each is one gap).</summary>
    public long MissingRuns()
    {
        if (Count == 0) return 0;
        long runs = 0;
        var inRun = false;
        for (var pageIndex = Min / PageBits; pageIndex <= Max / PageBits; pageIndex++)
        {
            if (!_pages.TryGetValue(pageIndex, out var page))
            {
                // A whole page missing inside the range: one run (or the continuation of the current one).
                if (!inRun) runs++;
                inRun = true;
                continue;
            }
            var first = pageIndex == Min / PageBits ? Min % PageBits : 0;
            var last = pageIndex == Max / PageBits ? Max % PageBits : PageBits - 1;
            for (var b = first; b <= last; b++)
            {
                var present = (page[b >> 6] & (1UL << (int)(b & 63))) != 0;
                if (!present && !inRun) runs++;
                inRun = !present;
            }
        }
        return runs;
    }

    public int PageCount => _pages.Count;
}
