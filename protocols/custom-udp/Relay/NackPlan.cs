using FastRelay.Protocols.CustomUdp.Wire;

namespace FastRelay.Protocols.CustomUdp.Relay;

/// <summary>
/// Which subscriber sequences a NACK may be answered for. A NACK is at most 795 bytes but its 128 ranges of up to 65535
/// numbers each can overlap and name millions of sequences; answered one by one that was seconds of work and hundreds of
/// megabytes sent for one datagram. The plan keeps only numbers inside the window that can still be repaired (the last
/// <c>window</c> numbers below the subscriber's next sequence: older ones left every cache), each number once, oldest
/// first, at most <c>max</c> of them. Its cost is in the number of ranges, never in the numbers they name.
/// </summary>
public static class NackPlan
{
    /// <param name="next">The subscriber's next sequence (64-bit: nothing at or beyond it was sent).</param>
    /// <param name="window">How far back a repair can reach (the deepest cache).</param>
    /// <param name="into">Receives the sequences (mod 2^32); its length is the cap.</param>
    /// <returns>How many sequences were written.</returns>
    public static int Plan(Nack nack, ulong next, int window, Span<uint> into)
    {
        // Offsets from the window's first number: a sequence s is repairable when 0 <= s - start < width (mod 2^32).
        var width = (long)Math.Min((ulong)Math.Max(window, 0), next);
        if (width == 0 || into.IsEmpty)
            return 0;
        var start = (uint)(next - (ulong)width);
        Span<(long From, long To)> parts = stackalloc (long, long)[CustomUdpWire.MaxNackRanges];
        var count = 0;
        foreach (var range in nack)
        {
            long lo = unchecked(range.First - start), end = lo + range.Length;
            // The range either starts inside the window, or wraps past 2^32 and re-enters it at offset 0.
            if (lo < width)
                parts[count++] = (lo, Math.Min(end, width));
            else if (end > 1L << 32)
                parts[count++] = (0, Math.Min(end - (1L << 32), width));
        }
        parts = parts[..count];
        parts.Sort();

        var written = 0;
        long done = 0; // every offset below this is already planned (or skipped as a repeat)
        foreach (var (from, to) in parts)
        {
            for (var offset = Math.Max(from, done); offset < to; offset++)
            {
                if (written == into.Length)
                    return written;
                into[written++] = unchecked(start + (uint)offset);
            }
            done = Math.Max(done, to);
        }
        return written;
    }
}
