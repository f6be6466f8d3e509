using FastRelay.Cli.Metrics;
using FastRelay.Protocols.Moq.Relay.Status;
using FastRelay.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace FastRelay.Tests.Cli;

/// <summary>The MoQ relay's fast-path figures (relay status → metrics): present with their values when the kernel path runs,
/// absent when it is off.</summary>
public class MoqRelayMetricsTests
{
    private static MoqRelayStatus Status(MoqFastPathStatus? fastPath) => new("m", 1, [], null, true, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch,
        [], [], new MoqRelayTotals(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), fastPath);

    private static async Task<string> ScrapeAsync(MoqRelayStatus status)
    {
        using var metrics = new MoqRelayMetrics(() => status);
        await using var endpoint = PrometheusEndpoint.Start($"127.0.0.1:{FreePorts.Tcp()}", NullLogger.Instance, metrics.Meter);
        return endpoint.Scrape();
    }

    [Fact]
    public async Task Fast_path_figures_are_exported_with_their_values()
    {
        var page = await ScrapeAsync(Status(new MoqFastPathStatus(Slots: 3, TappedStreams: 12, KernelForwardedBytes: 150_450,
            ForwardedPackets: 140, NotForwardedPackets: 7, Clones: 150)));

        Assert.Contains("fastrelay_moq_fastpath_slots 3\n", page);
        Assert.Contains("fastrelay_moq_fastpath_tapped_streams_total 12\n", page);
        Assert.Contains("fastrelay_moq_fastpath_forwarded_bytes_total 150450\n", page);
        Assert.Contains("fastrelay_moq_fastpath_packets_total{outcome=\"forwarded\"} 140\n", page);
        Assert.Contains("fastrelay_moq_fastpath_packets_total{outcome=\"not_forwarded\"} 7\n", page);
        Assert.Contains("fastrelay_moq_fastpath_packets_total{outcome=\"clones\"} 150\n", page);
    }

    [Fact]
    public async Task Without_the_fast_path_there_are_no_fast_path_series()
    {
        var page = await ScrapeAsync(Status(null));
        Assert.DoesNotContain("fastrelay_moq_fastpath_slots ", page);
        Assert.DoesNotContain("fastrelay_moq_fastpath_packets_total{", page);
        Assert.Contains("fastrelay_moq_objects_total{direction=\"in\"} 0\n", page);
    }
}
