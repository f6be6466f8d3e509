using System.Net;
using FastRelay.Protocols.CustomUdp.Clients;
using FastRelay.Protocols.CustomUdp.Relay;
using FastRelay.Tests.Infrastructure;
using FastRelay.Relay;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.CustomUdp;

/// <summary>
/// A subscriber starts over after a second without anything from the relay (the relay may have restarted). A channel
/// that merely goes quiet sends nothing either; before the relay answered a quiet subscriber's FEEDBACK, every subscriber
/// of a quiet channel re-subscribed every second, and each time the relay reset its counters (a status taken then showed
/// 0 forwarded for subscribers that had received everything: the flaky end-to-end test) and replayed its history.
/// The relay core runs in this process (userspace plane, loopback) with the real subscriber client.
/// </summary>
public sealed class QuietChannelTests(ITestOutputHelper output)
{
    private const ushort Channel = 9;
    private const int QuietNs = 200_000_000;

    [Fact]
    public void A_feedback_is_answered_only_once_no_data_went_out_for_the_quiet_period_and_then_once_per_period()
    {
        var keepalive = new IdleKeepalive(QuietNs, startNs: 1_000_000_000);
        Assert.False(keepalive.Due(0, 1_100_000_000));  // accepted 100 ms ago, nothing sent yet: not quiet for long
        Assert.True(keepalive.Due(0, 1_200_000_000));   // 200 ms without DATA
        Assert.False(keepalive.Due(0, 1_300_000_000));  // answered 100 ms ago
        Assert.True(keepalive.Due(0, 1_400_000_000));
        Assert.False(keepalive.Due(5, 1_900_000_000));  // DATA went out since: the subscriber hears the relay anyway
        Assert.False(keepalive.Due(9, 2_000_000_000));
        Assert.False(keepalive.Due(9, 2_100_000_000));  // quiet for 100 ms only
        Assert.True(keepalive.Due(9, 2_200_000_000));
    }

    [Fact]
    public async Task A_subscriber_of_a_channel_that_goes_quiet_stays_subscribed_and_its_counters_stay()
    {
        var (published, report, status) = await RunQuietChannel(TimeSpan.FromMilliseconds(200),
            // Five quiet periods answered: more than the subscriber's second of silence went by after the stream.
            waitUntil: s => s.Totals.Keepalives >= 5, "five keepalives");

        output.WriteLine(report.ToSummary());
        Assert.Equal(0, report.Resubscribes);
        Assert.Equal(2UL, status.Totals.Accepted); // the publisher and the subscriber, once each
        Assert.Equal(0UL, status.Totals.Removed);
        // The relay's count for the subscriber still covers the stream it got before the quiet second, and so does the
        // subscriber's own (it did not start over).
        Assert.True(published.PacketsSent > 0, published.ToSummary());
        Assert.Equal((ulong)published.PacketsSent, Assert.Single(status.Subscribers).Forwarded);
        Assert.Equal(published.PacketsSent, report.Received + report.Repaired);
    }

    [Fact]
    public async Task Without_the_keepalive_the_same_quiet_second_makes_the_subscriber_start_over()
    {
        // The counterpart that shows what the first test guards against: a relay that never answers a quiet subscriber.
        var (_, report, status) = await RunQuietChannel(TimeSpan.FromHours(1),
            waitUntil: s => s.Totals.Removed >= 1, "the subscriber re-subscribes (the relay removes its old session)");

        output.WriteLine(report.ToSummary());
        Assert.True(report.Resubscribes >= 1, report.ToSummary());
        Assert.Equal(0UL, status.Totals.Keepalives);
        Assert.Equal(0UL, Assert.Single(status.Subscribers).Forwarded); // the new session's count starts over
    }

    private static async Task<(PublisherReport Published, SubscriberReport Report, RelayStatus Status)> RunQuietChannel(TimeSpan keepaliveAfter,
        Func<RelayStatus, bool> waitUntil, string what)
    {
        using var socket = CustomUdpRelay.OpenSocket(0);
        var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        var options = new RelayOptions { Port = port, MaxSubscribers = 4, KeepaliveAfter = keepaliveAfter };
        using var relay = new CustomUdpRelay(socket, options, CustomUdpRelay.UserspacePlane(socket, 4),
            remote => new KernelSubscriber(0, Channel, remote, new IPEndPoint(IPAddress.Loopback, port), 0, new byte[6], new byte[6]),
            NullLogger.Instance);
        using var stopRelay = new CancellationTokenSource();
        var running = Task.Factory.StartNew(() => relay.Run(stopRelay.Token), TaskCreationOptions.LongRunning);
        var endpoint = new IPEndPoint(IPAddress.Loopback, port);
        try
        {
            using var subscriber = new Subscriber(new SubscriberOptions { Relay = endpoint, Channel = Channel });
            using var stopSubscriber = new CancellationTokenSource();
            var subscribing = subscriber.RunAsync(null, stopSubscriber.Token);
            await Eventually.TrueAsync(() => relay.Status().Subscribers.Count == 1, "the subscriber is accepted");

            var published = await new Publisher(new PublisherOptions
            {
                Relay = endpoint, Channel = Channel, RatePps = 500, Duration = TimeSpan.FromMilliseconds(200),
            }).RunAsync();
            Assert.True(published.Accepted, published.ToSummary());

            // Then nothing more on the channel.
            await Eventually.TrueAsync(() => waitUntil(relay.Status()), what, TimeSpan.FromSeconds(20));
            var status = relay.Status();
            stopSubscriber.Cancel();
            return (published, await subscribing, status);
        }
        finally
        {
            stopRelay.Cancel();
            await running;
        }
    }
}
