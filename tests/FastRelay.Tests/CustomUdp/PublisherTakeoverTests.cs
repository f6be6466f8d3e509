using System.Net;
using FastRelay.Protocols.CustomUdp.Clients;
using FastRelay.Protocols.CustomUdp.Relay;
using FastRelay.Protocols.CustomUdp.Wire;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace FastRelay.Tests.CustomUdp;

/// <summary>The relay core in this process (userspace plane, loopback) when a second publisher takes a channel over.</summary>
public sealed class PublisherTakeoverTests
{
    /// <summary>The userspace plane, recording which channels the relay told it to forget.</summary>
    private sealed class RecordingPlane(IDataPlane inner) : IDataPlane
    {
        public List<ushort> Forgotten { get; } = [];
        public string Mode => inner.Mode;
        public void SetChannel(ushort channel, IPEndPoint? upstream, IReadOnlyList<int> slots) => inner.SetChannel(channel, upstream, slots);
        public void Activate(int slot, SubscriberBinding binding) => inner.Activate(slot, binding);
        public void Deactivate(int slot) => inner.Deactivate(slot);
        public void SetBudget(int slot, BudgetSetting budget) => inner.SetBudget(slot, budget);
        public void OnUpstreamData(in PacketHeader header, ReadOnlySpan<byte> packet) => inner.OnUpstreamData(header, packet);
        public bool TryCopyCached(ushort channel, ulong publisherSequence, Span<byte> destination, out int length) =>
            inner.TryCopyCached(channel, publisherSequence, destination, out length);
        public void AddCachedSince(ushort channel, long sinceNs, List<ulong> into) => inner.AddCachedSince(channel, sinceNs, into);
        public void ForgetCached(ushort channel)
        {
            lock (Forgotten)
                Forgotten.Add(channel);
            inner.ForgetCached(channel);
        }
        public (ulong Packets, long LastNs) UpstreamConsumed(ushort channel) => inner.UpstreamConsumed(channel);
        public SubscriberCounters Counters(int slot) => inner.Counters(slot);
        public ulong NextSequence(int slot) => inner.NextSequence(slot);
        public void Flush() => inner.Flush();
        public void Dispose() => inner.Dispose();
    }

    [Fact]
    public async Task A_publisher_taking_over_a_silent_channel_makes_the_relay_forget_its_cached_packets()
    {
        using var socket = CustomUdpRelay.OpenSocket(0);
        var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        RecordingPlane? plane = null;
        var options = new RelayOptions { Port = port, MaxSubscribers = 4, SubscriberTimeout = TimeSpan.FromMilliseconds(300) };
        using var relay = new CustomUdpRelay(socket, options, sink => plane = new RecordingPlane(new UserspaceDataPlane(socket, 4, sink)),
            _ => throw new InvalidOperationException("no subscribers here"), NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var running = Task.Factory.StartNew(() => relay.Run(stop.Token), TaskCreationOptions.LongRunning);
        var endpoint = new IPEndPoint(IPAddress.Loopback, port);
        Task<PublisherReport> Publish() => new Publisher(new PublisherOptions
        {
            Relay = endpoint, Channel = 3, RatePps = 200, Duration = TimeSpan.FromMilliseconds(300),
        }).RunAsync();

        try
        {
            var first = await Publish();
            Assert.True(first.Accepted, first.ToSummary());
            Assert.Empty(plane!.Forgotten); // the first upstream of a channel replaces nobody
            await Task.Delay(600);           // the first publisher is silent for longer than the timeout
            var second = await Publish();
            Assert.True(second.Accepted, second.ToSummary());
            Assert.Equal([(ushort)3], plane.Forgotten);
        }
        finally
        {
            stop.Cancel();
            await running;
        }
    }
}
