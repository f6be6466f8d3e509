using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using FastRelay.Cli.Metrics;
using FastRelay.Protocols.CustomUdp.Clients;
using FastRelay.Protocols.CustomUdp.Relay;
using FastRelay.Tests.Infrastructure;
using FastRelay.Relay;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace FastRelay.Tests.Cli;

/// <summary>`relay --metrics`: a running relay (the core in this process, userspace plane, loopback) scraped over HTTP
/// the way Prometheus does; the values must match what the publisher sent and the subscriber received.</summary>
public sealed partial class RelayMetricsScrapeTests
{
    [Fact]
    public async Task A_scrape_shows_the_packets_the_publisher_sent_and_the_copies_the_subscriber_received()
    {
        using var socket = CustomUdpRelay.OpenSocket(0);
        var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        var options = new RelayOptions { Name = "metrics-test", Port = port, MaxSubscribers = 4, SubscriberTimeout = TimeSpan.FromSeconds(3) };
        using var relay = new CustomUdpRelay(socket, options, CustomUdpRelay.UserspacePlane(socket, 4),
            remote => new KernelSubscriber(0, 0, remote, new IPEndPoint(IPAddress.Any, port), 0, new byte[6], new byte[6]), NullLogger.Instance);
        using var metrics = new RelayMetrics(relay);
        await using var exporter = PrometheusEndpoint.Start($"127.0.0.1:{FreePorts.Tcp()}", NullLogger.Instance, metrics.Meter);
        using var stop = new CancellationTokenSource();
        var running = Task.Factory.StartNew(() => relay.Run(stop.Token), TaskCreationOptions.LongRunning);
        var endpoint = new IPEndPoint(IPAddress.Loopback, port);
        try
        {
            var subscribing = new Subscriber(new SubscriberOptions { Relay = endpoint, Channel = 7 }).RunAsync(TimeSpan.FromSeconds(3));
            await Task.Delay(500); // subscribed before the first packet
            var published = await new Publisher(new PublisherOptions
            {
                Relay = endpoint, Channel = 7, RatePps = 500, Duration = TimeSpan.FromSeconds(1),
            }).RunAsync();
            Assert.True(published.Accepted, published.ToSummary());
            Assert.True(published.PacketsSent > 100);
            await Task.Delay(200); // the last copies leave the relay

            // Scraped while the subscriber is still subscribed (a subscriber that leaves takes its series with it).
            using var http = new HttpClient();
            var response = await http.GetAsync(exporter.Url);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.ToString());
            var page = await response.Content.ReadAsStringAsync();
            var received = await subscribing;
            Assert.True(received.Subscribed);

            Assert.Contains("# TYPE fastrelay_upstream_packets_total counter", page);
            Assert.Equal(published.PacketsSent, Value(page, "fastrelay_upstream_packets_total", "channel=\"7\""));
            // Every copy the relay sent on loopback arrived: the subscriber's distinct packets plus any it saw twice.
            Assert.Equal(received.Received + received.Repaired + received.Duplicates,
                Value(page, "fastrelay_subscriber_forwarded_packets_total", "channel=\"7\"") + Value(page, "fastrelay_subscriber_repaired_packets_total", "channel=\"7\""));
            Assert.Equal(1, Value(page, "fastrelay_channel_subscribers", "channel=\"7\""));
            Assert.True(Value(page, "fastrelay_relay_events_total", "event=\"accepted\"") >= 2); // the publisher and the subscriber
            Assert.True(Value(page, "fastrelay_process_cpu_seconds_total", "") > 0);
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(exporter.Url.Replace("/metrics", "/other"))).StatusCode);
        }
        finally
        {
            stop.Cancel();
            await running;
        }
    }

    [Theory]
    [InlineData("9464", "127.0.0.1", 9464)]
    [InlineData("0.0.0.0:9100", "0.0.0.0", 9100)]
    [InlineData("[::1]:9100", "[::1]", 9100)]
    public void Metrics_addresses_are_parsed(string address, string host, int port) =>
        Assert.Equal((host, port), PrometheusEndpoint.ParseAddress(address));

    [Theory]
    [InlineData("localhost:")]
    [InlineData("70000")]
    [InlineData(":9100")]
    public void A_bad_metrics_address_is_refused_naming_the_option(string address) =>
        Assert.Contains("--metrics", Assert.Throws<FastRelay.Cli.UserFacingException>(() => PrometheusEndpoint.ParseAddress(address)).Message);

    /// <summary>The value of the one series of <paramref name="metric"/> whose labels contain <paramref name="label"/>.</summary>
    private static long Value(string page, string metric, string label)
    {
        var lines = page.Split('\n').Where(l => l.StartsWith(metric + "{", StringComparison.Ordinal) || l.StartsWith(metric + " ", StringComparison.Ordinal))
            .Where(l => l.Contains(label, StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count == 1, $"{metric} with {label}: {lines.Count} series in\n{page}");
        return (long)double.Parse(lines[0][(lines[0].LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
    }
}
