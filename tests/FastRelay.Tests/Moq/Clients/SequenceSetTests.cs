using FastRelay.Protocols.Moq.Clients;
using Xunit;

namespace FastRelay.Tests.Moq.Clients;

public sealed class SequenceSetTests
{
    [Fact]
    public void Gaps_are_counted_across_page_boundaries_and_missing_pages()
    {
        var set = new SequenceSet();
        foreach (var s in new ulong[] { 4090, 4091, 4099, 20_000, 20_001 }) Assert.True(set.Add(s));
        Assert.False(set.Add(4091));
        // Missing: 4092..4098 (one run), 4100..19999 (one run, crossing pages that were never created).
        Assert.Equal(2L, set.MissingRuns());
        Assert.Equal((long)(20_001 - 4090 + 1) - 5, set.MissingInRange);
        Assert.Equal(3, set.PageCount);
        Assert.True(set.Contains(20_000));
        Assert.False(set.Contains(20_002));
    }

    [Fact]
    public void A_late_joiner_does_not_allocate_for_the_sequences_before_it()
    {
        var set = new SequenceSet();
        set.Add(1_000_000_000_000);
        set.Add(1_000_000_000_001);
        Assert.Equal((1, 0L, 0L), (set.PageCount, set.MissingInRange, set.MissingRuns()));
    }
}
