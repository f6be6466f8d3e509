using System.Net;
using FastRelay.Bpf;
using FastRelay.Protocols.Moq.Relay.FastPath;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Runtime;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>
/// Subscribers joining and leaving, upstream streams starting and ending, against the real loaded maps (no
/// interfaces needed): the plane never leaves a stale entry, and the kernel's fixed-size maps never fill up.
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class MoqKernelPlaneChurnTests(GeneratedObjects objects)
{
    [BpfFact]
    public void A_thousand_join_leave_cycles_leave_no_kernel_entry()
    {
        using var bpf = BpfObject.Open(objects.ObjectPath(G.Protocol));
        bpf.Load();
        using var plane = new MoqKernelPlane(bpf, G.UdpPort, NullLogger.Instance);
        var sink = new RecordingDownstream();
        byte[] publisher = [1, 2, 3, 4, 5, 6, 7, 8];
        // A long-lived subscriber keeps the channel alive across the churn of the others.
        var anchor = plane.AddSubscriber(Address(60000), 0, sink)!.Value;
        plane.JoinChannel(anchor, 1);
        for (var cycle = 0; cycle < 1000; cycle++)
        {
            var upstream = 2 + 4 * (ulong)cycle;
            plane.MapUpstreamStream(publisher, upstream, 1);
            plane.MapStream(anchor, upstream, 3 + 4 * (ulong)cycle, 2, 8, 1 << 20, 0);
            var slots = new List<uint>();
            for (var j = 0; j < 3; j++)
            {
                var slot = plane.AddSubscriber(Address(1000 + j), (ulong)cycle, sink)!.Value;
                plane.SetConnectionCredit(slot, 4096);
                plane.JoinChannel(slot, 1 + (uint)(j % 2));
                plane.MapStream(slot, upstream, 3, -1, 8, 4096, 1);
                slots.Add(slot);
            }
            Assert.Equal((4, 2, 1, 4), plane.KernelEntryCounts());
            Assert.True(bpf.Map("fr_channels").Lookup<G.ChannelKey, G.Channel>(new G.ChannelKey { Id = 1 }).Count == 3);
            // Half the time the stream ends before the subscribers leave, half the time after.
            if (cycle % 2 == 0) plane.UnmapUpstreamStream(publisher, upstream);
            foreach (var slot in slots)
                plane.RemoveSubscriber(slot);
            if (cycle % 2 == 1) plane.UnmapUpstreamStream(publisher, upstream);
            Assert.Equal((1, 1, 0, 0), plane.KernelEntryCounts());
            var channel = bpf.Map("fr_channels").Lookup<G.ChannelKey, G.Channel>(new G.ChannelKey { Id = 1 });
            Assert.Equal(1u, channel.Count);
            Assert.Equal(anchor, channel.Slots[0]);
        }
        // Freed slots are reused: the churn never exhausted the 64 slots, and an inactive slot stays inactive.
        for (uint slot = 0; slot < G.MaxSubscribers; slot++)
            Assert.Equal(slot == anchor ? 1u : 0u, bpf.Map("fr_subscribers").Lookup<uint, G.Subscriber>(slot).Active);
        plane.RemoveSubscriber(anchor);
        Assert.Equal((0, 0, 0, 0), plane.KernelEntryCounts());
    }

    [BpfFact]
    public void Slots_run_out_at_the_kernel_maximum_and_the_rest_stay_on_the_userspace_path()
    {
        using var bpf = BpfObject.Open(objects.ObjectPath(G.Protocol));
        bpf.Load();
        using var plane = new MoqKernelPlane(bpf, G.UdpPort, NullLogger.Instance);
        var sink = new RecordingDownstream();
        for (var i = 0; i < G.MaxSubscribers; i++)
            Assert.NotNull(plane.AddSubscriber(Address(2000 + i), 0, sink));
        Assert.Null(plane.AddSubscriber(Address(3000), 0, sink));
        plane.RemoveSubscriber(17);
        Assert.Equal(17u, plane.AddSubscriber(Address(3000), 0, sink));
        Assert.Throws<ArgumentException>(() => plane.AddSubscriber(Address(3001) with { ConnectionId = [1, 2, 3] }, 0, sink));
    }

    [BpfFact]
    public void The_upstream_tap_leaves_a_stream_it_cannot_map_to_userspace_instead_of_failing_the_session()
    {
        using var bpf = BpfObject.Open(objects.ObjectPath(G.Protocol));
        bpf.Load();
        using var plane = new MoqKernelPlane(bpf, G.UdpPort, NullLogger.Instance);
        byte[] publisher = [1, 2, 3, 4, 5, 6, 7, 8];
        var header = new FastRelay.Protocols.Moq.Wire.Data.MoqSubgroupHeader(5, 0, FastRelay.Protocols.Moq.Wire.Data.MoqSubgroupIdMode.Zero, 0, null);
        // A route naming a channel, with a kernel map that is full: a publisher opening streams without end.
        for (var i = 0; i < bpf.Map("fr_channel_lookup").MaxEntries; i++)
            plane.MapUpstreamStream(publisher, 1000 + 4 * (ulong)i, 9);
        var routeCalls = 0;
        var verdicts = new List<bool>();
        var tap = new FastPathUpstreamTap(plane, publisher, _ => { routeCalls++; return new FastPathTrackRoute(9, []); }, NullLogger.Instance,
            (_, tapped) => verdicts.Add(tapped));
        // No fast-path subscriber: nothing to do at the header, nor at the first bytes (asked once more), nor later.
        var unrouted = tap.OnSubgroupStream(2, header, [0x10, 5, 0]);
        unrouted?.OnBytes(3, [1, 2, 3]);
        unrouted?.OnBytes(6, [4, 5]);
        unrouted?.OnEnd(finished: true);
        Assert.Equal(2, routeCalls);
        var throwing = new FastPathUpstreamTap(plane, publisher, _ => throw new InvalidOperationException("fr_channel_lookup is full"), NullLogger.Instance,
            (_, tapped) => verdicts.Add(tapped));
        var failed = throwing.OnSubgroupStream(6, header, [0x10, 5, 0]);
        failed?.OnBytes(3, [1, 2, 3]);
        failed?.OnEnd(finished: false);
        Assert.Equal(0, tap.TappedStreams + throwing.TappedStreams);
        Assert.Empty(verdicts); // no route was ever given, so nothing to claim or release
        Assert.Throws<InvalidOperationException>(() => plane.MapUpstreamStream(publisher, 6, 9));
    }

    private static FastPathSubscriberAddress Address(int port) => MapOnlyAddress.At(port);
}
