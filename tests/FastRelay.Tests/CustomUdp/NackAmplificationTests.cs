using System.Net;
using FastRelay.Protocols.CustomUdp.Clients;
using FastRelay.Protocols.CustomUdp.Relay;
using FastRelay.Protocols.CustomUdp.Wire;
using FastRelay.Relay;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace FastRelay.Tests.CustomUdp;

/// <summary>
/// One NACK must not buy more than it names once: 128 overlapping ranges of 65535 numbers each (787 bytes) used to be
/// answered number by number, every cached packet 128 times, under the relay's lock on its receive thread. The relay in
/// this process (userspace plane, loopback) gets such a NACK from a subscriber that received a short stream.
/// </summary>
public sealed class NackAmplificationTests
{
    private const ushort Channel = 5;

    private static async Task WithRelay(RelayOptions options, Func<IPEndPoint, Task> body)
    {
        using var socket = CustomUdpRelay.OpenSocket(0);
        options = options with { Port = ((IPEndPoint)socket.LocalEndPoint!).Port, MaxSubscribers = 4 };
        using var relay = new CustomUdpRelay(socket, options, CustomUdpRelay.UserspacePlane(socket, 4),
            remote => new KernelSubscriber(0, Channel, remote, new IPEndPoint(IPAddress.Loopback, options.Port), 0, new byte[6], new byte[6]),
            NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var running = Task.Factory.StartNew(() => relay.Run(stop.Token), TaskCreationOptions.LongRunning);
        try
        {
            await body(new IPEndPoint(IPAddress.Loopback, options.Port));
        }
        finally
        {
            stop.Cancel();
            await running;
        }
    }

    /// <summary>A subscriber that got a short stream; returns it and how many DATA packets it got (numbered 0..n-1).</summary>
    private static async Task<(RawSubscriber Subscriber, int Packets)> SubscriberWithStream(IPEndPoint relay)
    {
        var subscriber = new RawSubscriber(relay, Channel);
        Assert.Equal(ReplyStatus.Accepted, subscriber.Subscribe().Status);
        var report = await new Publisher(new PublisherOptions
        {
            Relay = relay, Channel = Channel, RatePps = 500, Duration = TimeSpan.FromMilliseconds(300),
        }).RunAsync();
        Assert.True(report.Accepted, report.ToSummary());
        var packets = subscriber.CountUntilQuiet(TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(5)).Data;
        Assert.InRange(packets, 5, 10000);
        return (subscriber, packets);
    }

    private static NackRange[] OverlappingRanges() =>
        Enumerable.Range(0, CustomUdpWire.MaxNackRanges).Select(i => new NackRange((uint)(-(i * 7)), ushort.MaxValue)).ToArray();

    [Fact]
    public async Task A_NACK_of_overlapping_ranges_repairs_each_cached_packet_once()
    {
        await WithRelay(new RelayOptions(), async relay =>
        {
            var (subscriber, packets) = await SubscriberWithStream(relay);
            using var _ = subscriber;

            subscriber.SendNack(OverlappingRanges());
            var (data, repairs) = subscriber.CountUntilQuiet(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(10));

            // Every number the subscriber was sent (0..n-1) is named, and each is answered once; nothing else exists.
            Assert.Equal(0, data);
            Assert.Equal(packets, repairs);
        });
    }

    [Fact]
    public async Task Repairs_to_one_subscriber_stop_at_its_byte_budget()
    {
        // Room for ten repairs of this stream's 256-byte packets (a REPAIR datagram is a little larger), refilled too slowly
        // to matter during the test.
        var options = new RelayOptions { RepairBurstBytes = 10 * 300, RepairBytesPerSecond = 1 };
        await WithRelay(options, async relay =>
        {
            var (subscriber, packets) = await SubscriberWithStream(relay);
            using var _ = subscriber;
            for (var i = 0; i < 5; i++)
                subscriber.SendNack([new NackRange(0, (ushort)packets)]);
            var (_, repairs) = subscriber.CountUntilQuiet(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(10));
            Assert.InRange(repairs, 1, 10);
        });
    }
}
