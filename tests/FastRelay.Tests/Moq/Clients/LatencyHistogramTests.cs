using FastRelay.Protocols.Moq.Clients;
using Xunit;

namespace FastRelay.Tests.Moq.Clients;

/// <summary>Percentile math of the latency histogram.</summary>
public sealed class LatencyHistogramTests
{
    [Fact]
    public void Small_values_give_exact_nearest_rank_percentiles()
    {
        var h = new LatencyHistogram();
        foreach (var v in Enumerable.Range(1, 1000).Reverse()) h.Record(v);
        Assert.Equal((500L, 900L, 990L, 1000L, 1L), (h.ValueAt(0.5), h.ValueAt(0.9), h.ValueAt(0.99), h.ValueAt(1.0), h.ValueAt(0)));
        Assert.Equal(500.5, h.Stats().MeanUs);
    }

    [Fact]
    public void Nearest_rank_rounds_up()
    {
        var h = new LatencyHistogram();
        foreach (var v in new long[] { 10, 20, 30 }) h.Record(v);
        // rank ceil(0.5 × 3) = 2 → 20; ceil(0.9 × 3) = 3 → 30; ceil(0.34 × 3) = 2 → 20
        Assert.Equal((20L, 30L, 20L, 10L), (h.ValueAt(0.5), h.ValueAt(0.9), h.ValueAt(0.34), h.ValueAt(0.33)));
    }

    [Fact]
    public void Large_values_are_within_half_a_percent_and_never_outside_min_and_max()
    {
        var h = new LatencyHistogram();
        var values = new long[] { 2_500, 13_777, 250_001, 9_999_999, 3_600_000_000 };
        foreach (var v in values) h.Record(v);
        for (var i = 0; i < values.Length; i++)
        {
            var reported = h.ValueAt((i + 1) / (double)values.Length);
            Assert.InRange(reported, values[i], values[i] * 1.005);
        }
        Assert.Equal(3_600_000_000, h.ValueAt(1));
        Assert.Equal(2_500, h.Stats().MinUs);
    }

    [Fact]
    public void Empty_is_all_zero()
    {
        Assert.Equal(new LatencyStats(0, 0, 0, 0, 0, 0, 0), new LatencyHistogram().Stats());
    }

    [Fact]
    public void Negative_values_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LatencyHistogram().Record(-1));
    }
}
