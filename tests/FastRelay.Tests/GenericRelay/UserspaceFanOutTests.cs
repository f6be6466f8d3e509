using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using FastRelay.Relay;
using FastRelay.Tests.Infrastructure;
using SampleProtocol;
using Xunit;

namespace FastRelay.Tests.GenericRelay;

/// <summary>
/// The userspace plane that the generic host and the custom-UDP relay share, driven directly on loopback with the
/// tick_feed descriptor (renumbered sequence, translated stream, priority bits 4..6 with 7 most urgent): priority drop by
/// the kernel's rule, every renumbered copy registered with the upstream number it carried, and a channel whose sender is
/// <see cref="ChannelPlan.NoSender"/> fanning nothing out.
/// </summary>
public sealed class UserspaceFanOutTests : IDisposable
{
    private const ulong Channel = 7;
    private readonly Socket _relay = new(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = true };
    private readonly Socket _sender = Loopback();
    private readonly UdpCollector _receiver = new(Loopback(), "r");
    private readonly Recorder _sink = new();
    private readonly UserspaceFanOut _plane;

    private sealed class Recorder : IRegistrationSink
    {
        public readonly List<(int Slot, ulong Number, ulong Upstream)> Sent = [];
        public void OnSent(int slot, ulong subscriberNumber, ulong upstreamNumber) => Sent.Add((slot, subscriberNumber, upstreamNumber));
        public void OnRegistrationsLost() { }
    }

    public UserspaceFanOutTests()
    {
        _relay.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        _plane = new UserspaceFanOut(DescriptorFields.Of(typeof(TickHeader)), 8, _relay, _sink);
        _plane.Activate(new KernelSubscriber(3, Channel, _receiver.Endpoint, new IPEndPoint(IPAddress.Loopback, 9100), 0, new byte[6], new byte[6], [1, 2, 3, 4]));
        _plane.SetStream(3, 1, 1);
    }

    public void Dispose()
    {
        _plane.Dispose();
        _receiver.Dispose();
        _sender.Dispose();
        _relay.Dispose();
    }

    [Fact]
    public async Task Less_urgent_copies_are_dropped_against_the_budget_as_the_kernel_drops_them_and_urgency_0_always_passes()
    {
        _plane.SetChannel(Channel, (IPEndPoint)_sender.LocalEndPoint!, [3]);
        // 100 bytes of budget, 40 kept in reserve per level of urgency above 0; urgency 5 and above always dropped.
        _plane.SetBudget(3, bytes: 100, reservePerLevel: 40, dropFromLevel: 5);
        // Priority value 7 is urgency 0 (higher is more urgent); value 6 is urgency 1, value 1 is urgency 6.
        Forward(Tick(0, priority: 6)); // urgency 1: 32 + 40 <= 100: sent, 68 left
        Forward(Tick(1, priority: 6)); // urgency 1: 68 >= 72? no: dropped
        Forward(Tick(2, priority: 7)); // urgency 0: always sent, 36 left
        Forward(Tick(3, priority: 1)); // urgency 6: at or above the cut, dropped
        Forward(Tick(4, priority: 7)); // urgency 0: sent, the budget goes to 4
        await Eventually.TrueAsync(() => _receiver.Count == 3, "three copies arrive");
        Assert.Equal([0UL, 2UL, 4UL], _receiver.Snapshot().Select(PayloadMarkOf)); // the upstream packets that were sent
        var counters = _plane.Counters(3);
        Assert.Equal(3UL, counters.ForwardedPackets);
        Assert.Equal(2UL, counters.DroppedBudget);
        // Renumbered gaplessly: the drops took no number; each copy carries the subscriber's connection id.
        Assert.Equal([0UL, 1UL, 2UL], _receiver.Snapshot().Select(SequenceOf));
        Assert.All(_receiver.Snapshot(), copy => Assert.Equal(new byte[] { 1, 2, 3, 4 }, copy[4..8]));
        Assert.Equal(3UL, _plane.NextNumber(3));
    }

    [Fact]
    public async Task Every_renumbered_copy_is_registered_with_the_upstream_number_it_carried()
    {
        _plane.SetChannel(Channel, (IPEndPoint)_sender.LocalEndPoint!, [3]);
        foreach (var upstream in new ulong[] { 1000, 1001, 1005 })
            Forward(Tick(upstream, priority: 7));
        await Eventually.TrueAsync(() => _receiver.Count == 3, "three copies arrive");
        Assert.Equal([(3, 0UL, 1000UL), (3, 1UL, 1001UL), (3, 2UL, 1005UL)], _sink.Sent);
    }

    [Fact]
    public async Task A_channel_without_a_sender_yet_fans_nothing_out_and_a_foreign_sender_is_counted()
    {
        _plane.SetChannel(Channel, ChannelPlan.NoSender, [3]);
        Forward(Tick(0, priority: 7));
        _plane.SetChannel(Channel, (IPEndPoint)_sender.LocalEndPoint!, [3]);
        Forward(Tick(1, priority: 7));
        await Eventually.TrueAsync(() => _receiver.Count == 1, "the copy after the sender joined arrives");
        Assert.Equal(1UL, _plane.PlaneCounters()["upstream_foreign_source"]);
        Assert.Equal([(3, 0UL, 1UL)], _sink.Sent);
    }

    [Fact]
    public async Task A_datagram_from_a_subscriber_is_counted_for_it_and_never_fanned_out()
    {
        // Any sender admitted: only the subscriber check keeps its own tick from coming back to it.
        _plane.SetChannel(Channel, null, [3]);
        _plane.OnUpstreamDatagram(Tick(0, priority: 7), _receiver.Endpoint.Serialize());
        Forward(Tick(1, priority: 7));
        await Eventually.TrueAsync(() => _receiver.Count == 1, "the sender's tick arrives");
        Assert.Equal(1UL, _plane.Counters(3).ReceivedPackets);
        Assert.Equal([1UL], _receiver.Snapshot().Select(PayloadMarkOf));
        // Deactivated: its address is nobody's any more.
        _plane.Deactivate(3);
        _plane.OnUpstreamDatagram(Tick(2, priority: 7), _receiver.Endpoint.Serialize());
        Assert.Equal(0UL, _plane.PlaneCounters()["upstream_foreign_source"]);
        Assert.Equal(2UL, _plane.PlaneCounters()["upstream_matched"]);
    }

    /// <summary>Hands a datagram to the plane as the relay socket would have received it from the sender.</summary>
    private void Forward(byte[] datagram) => _plane.OnUpstreamDatagram(datagram, ((IPEndPoint)_sender.LocalEndPoint!).Serialize());

    private static ulong SequenceOf(byte[] copy) => BinaryPrimitives.ReadUInt64LittleEndian(copy.AsSpan(15));

    /// <summary>The upstream sequence, also written into the payload (the header's is renumbered).</summary>
    private static ulong PayloadMarkOf(byte[] copy) => BinaryPrimitives.ReadUInt64LittleEndian(copy.AsSpan(24));

    private static Socket Loopback()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    /// <summary>A 32-byte tick of channel 7, stream 1; <paramref name="priority"/> in bits 4..6 of byte 3.</summary>
    private static byte[] Tick(ulong sequence, int priority) => TickDatagram.Build((uint)Channel, sequence, priority: priority);
}
