using System.Net;
using FastRelay.Protocols.CustomUdp.Clients;
using FastRelay.Protocols.CustomUdp.Relay;
using FastRelay.Protocols.CustomUdp.Wire;
using FastRelay.Relay;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace FastRelay.Tests.CustomUdp;

/// <summary>The relay core in this process (userspace plane, loopback) when a second publisher takes a channel over.</summary>
public sealed class PublisherTakeoverTests
{
    /// <summary>The userspace plane plus a history that records which channels the relay told it to forget (the userspace
    /// plane keeps no history of its own: the relay's cache has every original).</summary>
    private sealed class RecordingPlane(IFanOutPlane inner) : IFanOutPlane, IUpstreamHistory, IDisposable
    {
        public List<ulong> Forgotten { get; } = [];
        public string Mode => inner.Mode;
        public void SetChannel(ulong channel, IPEndPoint? upstream, IReadOnlyList<int> slots) => inner.SetChannel(channel, upstream, slots);
        public bool DeleteChannel(ulong channel) => inner.DeleteChannel(channel);
        public void Activate(KernelSubscriber subscriber) => inner.Activate(subscriber);
        public void Deactivate(int slot) => inner.Deactivate(slot);
        public void SetStream(int slot, ulong upstreamStream, ulong downstreamStream) => inner.SetStream(slot, upstreamStream, downstreamStream);
        public bool DeleteStream(int slot, ulong upstreamStream) => inner.DeleteStream(slot, upstreamStream);
        public void SetBudget(int slot, long bytes, uint reservePerLevel, uint dropFromLevel, bool enabled = true) =>
            inner.SetBudget(slot, bytes, reservePerLevel, dropFromLevel, enabled);
        public void RefillBudget(int slot, long bytes, long burst, uint reservePerLevel, uint dropFromLevel) =>
            inner.RefillBudget(slot, bytes, burst, reservePerLevel, dropFromLevel);
        public KernelSubscriberCounters Counters(int slot) => inner.Counters(slot);
        public IReadOnlyDictionary<string, ulong> PlaneCounters() => inner.PlaneCounters();
        public void Tick() => inner.Tick();
        public ulong NextNumber(int slot) => inner.NextNumber(slot);
        public void OnUpstreamDatagram(ReadOnlySpan<byte> datagram, SocketAddress from) => inner.OnUpstreamDatagram(datagram, from);
        public bool TryCopy(ulong channel, ulong upstreamNumber, Span<byte> destination, out int length)
        {
            length = 0;
            return false;
        }
        public void AddSince(ulong channel, long sinceNs, List<ulong> into) { }
        public void Forget(ulong channel)
        {
            lock (Forgotten)
                Forgotten.Add(channel);
        }
        public (ulong Packets, long LastNs) UpstreamConsumed(ulong channel) => (0, 0);
        public void Dispose() => (inner as IDisposable)?.Dispose();
    }

    [Fact]
    public async Task A_publisher_taking_over_a_silent_channel_makes_the_relay_forget_its_cached_packets()
    {
        using var socket = CustomUdpRelay.OpenSocket(0);
        var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        RecordingPlane? plane = null;
        var options = new RelayOptions { Port = port, MaxSubscribers = 4, SubscriberTimeout = TimeSpan.FromMilliseconds(300) };
        using var relay = new CustomUdpRelay(socket, options, sink => plane = new RecordingPlane(CustomUdpRelay.UserspacePlane(socket, 4)(sink)),
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
            Assert.Equal([3UL], plane.Forgotten);
        }
        finally
        {
            stop.Cancel();
            await running;
        }
    }
}
