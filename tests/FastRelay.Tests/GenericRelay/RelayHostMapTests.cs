using System.Net;
using FastRelay.Bpf;
using FastRelay.Examples.Rtp;
using FastRelay.Relay;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Runtime;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace FastRelay.Tests.GenericRelay;

/// <summary>
/// <see cref="RelayHost.Apply"/> against the real maps of the RTP example's kernel object (loaded, not attached): each
/// plan change writes exactly the entries that differ, and a removed subscriber leaves nothing behind.
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class RelayHostMapTests(GeneratedObjects objects)
{
    private static readonly IPEndPoint A = IPEndPoint.Parse("10.1.0.2:6000"), B = IPEndPoint.Parse("10.1.0.3:6000"),
        C = IPEndPoint.Parse("[fd00::4]:6000"), Sender = IPEndPoint.Parse("10.0.0.2:40000");

    private const ulong Channel = 0x12345678;

    /// <summary>Binds without a route lookup: loopback's index and made-up MACs (nothing is attached or sent).</summary>
    private static KernelSubscriber Bind(int slot, ulong channel, SubscriberPlan subscriber, CancellationToken _) =>
        new(slot, channel, subscriber.Address, new IPEndPoint(subscriber.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback, 5004),
            1, [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, (byte)(slot + 2)]);

    private static RelayPlan Plan(params IPEndPoint[] subscribers) =>
        new([new ChannelPlan(Channel, Sender, subscribers.Select(s => new SubscriberPlan(s)).ToList())]);

    [BpfFact]
    public void Each_reload_touches_only_what_changed_and_a_removed_subscriber_leaves_no_entry()
    {
        var protocol = RtpHeaderFastPath.Protocol;
        using var bpf = BpfObject.Load(objects.ObjectPath(protocol));
        using var host = new RelayHost(bpf, protocol, 5004, NullLogger.Instance, Bind);
        var tables = host.Tables;
        var features = host.Features;

        var first = host.Apply(Plan(A, B));
        Assert.Equal(new PlanChange(2, 0, 0, 1, 0, 0), first);
        Assert.Equal([0, 1], ChannelSlots(bpf, tables, features));
        Assert.Equal(Sender.Port, UpstreamPort(bpf, tables, features));

        // Counters the kernel would have made for A: a reload that adds C must not reset A's slot.
        var stats = new StructImage(features.Struct("fr_sub_stats")).Set("forwarded_packets", 77);
        bpf.Map("fr_sub_stats").Update(BitConverter.GetBytes(0u), stats.Bytes);

        var second = host.Apply(Plan(A, B, C));
        Assert.Equal(new PlanChange(1, 0, 0, 1, 0, 0), second);
        Assert.Equal(77UL, tables.Counters(0).ForwardedPackets);
        Assert.Equal([0, 1, 2], ChannelSlots(bpf, tables, features));
        Assert.True(EndpointSlot(bpf, tables, C) == 2);

        var third = host.Apply(Plan(A, C));
        Assert.Equal(new PlanChange(0, 1, 0, 1, 0, 0), third);
        Assert.Equal([0, 2], ChannelSlots(bpf, tables, features));
        Assert.Null(EndpointSlot(bpf, tables, B));                    // endpoint entry gone
        Assert.True(SlotIsZero(bpf, features, 1), "B's slot still holds data");
        Assert.Equal(77UL, tables.Counters(0).ForwardedPackets);

        Assert.True(host.Apply(Plan(A, C)).IsEmpty, "an unchanged plan wrote something");

        // A new subscriber takes the freed slot; then the whole channel goes.
        Assert.Equal(new PlanChange(1, 0, 0, 1, 0, 0), host.Apply(Plan(A, C, B)));
        Assert.Equal(1, EndpointSlot(bpf, tables, B));
        var last = host.Apply(RelayPlan.Empty);
        Assert.Equal(new PlanChange(0, 3, 0, 0, 1, 0), last);
        Assert.False(bpf.Map("fr_channels").TryLookup(tables.ChannelKey(Channel), new byte[features.Struct("fr_channel").Size]));
        foreach (var endpoint in new[] { A, B, C })
            Assert.Null(EndpointSlot(bpf, tables, endpoint));
        for (var slot = 0; slot < 3; slot++)
            Assert.True(SlotIsZero(bpf, features, slot), $"slot {slot} still holds data");
    }

    [BpfFact]
    public void A_subscriber_without_a_route_waits_and_is_bound_when_one_appears()
    {
        var protocol = RtpHeaderFastPath.Protocol;
        using var bpf = BpfObject.Load(objects.ObjectPath(protocol));
        var routed = false;
        using var host = new RelayHost(bpf, protocol, 5004, NullLogger.Instance, (slot, channel, sub, ct) =>
            routed ? Bind(slot, channel, sub, ct) : throw new FastRelay.Net.RouteNotFoundException(sub.Address.Address, "no route yet"));

        var change = host.Apply(Plan(A));
        Assert.Equal(1, change.Pending);
        Assert.Equal(-1, host.Subscribers().Single().Slot);
        Assert.Contains("no route yet", host.Subscribers().Single().Problem);
        Assert.Empty(ChannelSlots(bpf, host.Tables, host.Features));

        routed = true;
        host.Tick();
        Assert.Equal(0, host.Subscribers().Single().Slot);
        Assert.Equal([0], ChannelSlots(bpf, host.Tables, host.Features));
    }

    /// <summary>The walkthrough's descriptor translates stream ids: each subscriber's slot gets the channel's mappings,
    /// a changed mapping is rewritten key by key, and a removed subscriber's mappings go with it. Its connection id is
    /// written into its slot.</summary>
    [BpfFact]
    public void Stream_mappings_and_connection_ids_follow_the_plan()
    {
        var protocol = GeneratedObjects.Protocol("tick_feed");
        using var bpf = BpfObject.Load(objects.ObjectPath(protocol));
        using var host = new RelayHost(bpf, protocol, 9100, NullLogger.Instance, Bind);
        RelayPlan Streams(Dictionary<ulong, ulong> streams, params IPEndPoint[] subscribers) =>
            new([new ChannelPlan(7, Sender, subscribers.Select(s => new SubscriberPlan(s, ConnectionId: [0xC1, 0xD0, 0, (byte)s.Port])).ToList(), streams)]);

        host.Apply(Streams(new() { [1] = 1, [2] = 20 }, A));
        Assert.Equal(1UL, Stream(bpf, host, 0, 1));
        Assert.Equal(20UL, Stream(bpf, host, 0, 2));
        var subscriber = new StructImage(host.Features.Struct("fr_subscriber"));
        Assert.True(bpf.Map("fr_subscribers").TryLookup(BitConverter.GetBytes(0u), subscriber.Bytes));
        Assert.Equal(new byte[] { 0xC1, 0xD0, 0, (byte)A.Port }, subscriber.Member("cid").ToArray());

        var change = host.Apply(Streams(new() { [1] = 1, [3] = 3 }, A, B));
        Assert.Equal(1, change.Added);
        Assert.Equal(1, change.Updated); // A's mappings rewritten in place
        Assert.Null(Stream(bpf, host, 0, 2));
        Assert.Equal(3UL, Stream(bpf, host, 0, 3));
        Assert.Equal(3UL, Stream(bpf, host, 1, 3)); // B got the channel's mappings on activation

        host.Apply(Streams(new() { [1] = 1, [3] = 3 }, B));
        Assert.Null(Stream(bpf, host, 0, 1));
        Assert.Null(Stream(bpf, host, 0, 3));
        Assert.Equal(1UL, Stream(bpf, host, 1, 1));
    }

    private static ulong? Stream(BpfObject bpf, RelayHost host, int slot, ulong upstream)
    {
        var key = new StructImage(host.Features.Struct("fr_stream_key")).Set("slot", (uint)slot).Set("upstream_stream_id", upstream);
        var value = new StructImage(host.Features.Struct("fr_stream_value"));
        return bpf.Map("fr_streams").TryLookup(key.Bytes, value.Bytes) ? value.Get("stream_id") : null;
    }

    private static int[] ChannelSlots(BpfObject bpf, FastPathTables tables, ProtocolFeatures features)
    {
        var channel = new StructImage(features.Struct("fr_channel"));
        Assert.True(bpf.Map("fr_channels").TryLookup(tables.ChannelKey(Channel), channel.Bytes));
        var count = (int)channel.Get("count");
        return Enumerable.Range(0, count).Select(i => (int)BitConverter.ToUInt32(channel.Member("slots").Slice(i * 4, 4))).ToArray();
    }

    private static int UpstreamPort(BpfObject bpf, FastPathTables tables, ProtocolFeatures features)
    {
        var channel = new StructImage(features.Struct("fr_channel"));
        Assert.True(bpf.Map("fr_channels").TryLookup(tables.ChannelKey(Channel), channel.Bytes));
        var endpoint = new StructImage(features.Struct("fr_endpoint"), channel.Member("upstream").ToArray());
        var port = endpoint.Member("port");
        return (port[0] << 8) | port[1];
    }

    private static int? EndpointSlot(BpfObject bpf, FastPathTables tables, IPEndPoint endpoint)
    {
        var slot = new byte[4];
        return bpf.Map("fr_sub_by_endpoint").TryLookup(tables.Endpoint(endpoint), slot) ? (int)BitConverter.ToUInt32(slot) : null;
    }

    private static bool SlotIsZero(BpfObject bpf, ProtocolFeatures features, int slot)
    {
        var entry = new byte[features.Struct("fr_subscriber").Size];
        Assert.True(bpf.Map("fr_subscribers").TryLookup(BitConverter.GetBytes((uint)slot), entry));
        return entry.All(b => b == 0);
    }
}
