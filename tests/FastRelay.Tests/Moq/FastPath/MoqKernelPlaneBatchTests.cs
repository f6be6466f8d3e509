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
/// The plane's batch mapping of a subgroup's streams (issue 11: one bpf call for all subscribers of a new subgroup, one
/// when it ends), against the real loaded maps: each mapping is decided on its own, so a subscriber that left, a
/// duplicate or a full fr_streams leaves that one stream unmapped (userspace's) and the others mapped, and the plane's
/// books always match the kernel's map.
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class MoqKernelPlaneBatchTests(GeneratedObjects objects)
{
    private const ulong Upstream = 6;

    [BpfFact]
    public void A_batch_maps_every_subscriber_it_can_and_unmaps_only_what_is_still_theirs()
    {
        using var bpf = BpfObject.Open(objects.ObjectPath(G.Protocol));
        bpf.Load();
        using var plane = new MoqKernelPlane(bpf, G.UdpPort, NullLogger.Instance);
        var sinks = Enumerable.Range(0, 4).Select(_ => new RecordingDownstream()).ToArray();
        var slots = sinks.Select((sink, i) => plane.AddSubscriber(Address(4000 + i), 0, sink)!.Value).ToArray();
        var stranger = new RecordingDownstream();
        // Slot 2's subscriber left and its slot went to another connection before the batch: its mapping must not be
        // written for the newcomer.
        plane.RemoveSubscriber(slots[2]);
        Assert.Equal(slots[2], plane.AddSubscriber(Address(4100), 0, stranger));

        MoqKernelPlane.StreamMapping Mapping(int i, ulong downstream) =>
            new(slots[i], sinks[i], Upstream, downstream, OffsetDelta: -4 + i, ForwardFrom: 9, Limit: 1000 + (ulong)i, Urgency: (byte)i);
        var batch = new[] { Mapping(0, 3), Mapping(1, 7), Mapping(2, 11), Mapping(1, 15), Mapping(3, 19) };
        var mapped = new bool[batch.Length];
        plane.MapStreams(batch, mapped);
        // Slot 2: another sink now; the second mapping of slot 1: the same (slot, upstream stream) twice.
        Assert.Equal([true, true, false, false, true], mapped);
        Assert.Equal(3, plane.KernelEntryCounts().Streams);
        // Each mapped one with its own values (batch entry, subscriber): the first of slot 1's two is the one kept.
        foreach (var (b, i) in new[] { (0, 0), (1, 1), (4, 3) })
        {
            var v = plane.Maps.Streams.Lookup(new G.StreamKey { Slot = slots[i], UpstreamStreamId = Upstream });
            Assert.Equal((batch[b].DownstreamStreamId, batch[b].OffsetDelta, 9UL, batch[b].Limit, (byte)i), (v.StreamId, v.OffsetDelta, v.ForwardFrom, v.Limit, v.Urgency));
        }
        Assert.False(plane.Maps.Streams.TryLookup(new G.StreamKey { Slot = slots[2], UpstreamStreamId = Upstream }, out _));

        // Slot 3's subscriber leaves mid-subgroup and a newcomer takes the slot and maps the same upstream stream: the
        // subgroup's end must delete slots 0 and 1's mappings and leave the newcomer's alone.
        plane.RemoveSubscriber(slots[3]);
        var newcomer = new RecordingDownstream();
        Assert.Equal(slots[3], plane.AddSubscriber(Address(4200), 0, newcomer));
        plane.MapStreams([new(slots[3], newcomer, Upstream, 23, 0, 9, 1000, 1)], mapped);
        Assert.True(mapped[0]);
        plane.UnmapStreams([new(slots[0], sinks[0], Upstream), new(slots[1], sinks[1], Upstream), new(slots[2], sinks[2], Upstream), new(slots[3], sinks[3], Upstream)]);
        Assert.Equal(1, plane.KernelEntryCounts().Streams);
        Assert.Equal(23UL, plane.Maps.Streams.Lookup(new G.StreamKey { Slot = slots[3], UpstreamStreamId = Upstream }).StreamId);
        // A second end changes nothing (the plane holds none of them any more).
        plane.UnmapStreams([new(slots[0], sinks[0], Upstream), new(slots[1], sinks[1], Upstream)]);
        Assert.Equal(1, plane.KernelEntryCounts().Streams);
        // The upstream stream's end takes what is left.
        plane.UnmapUpstreamStream([1, 2, 3, 4, 5, 6, 7, 8], Upstream);
        Assert.Equal(0, plane.KernelEntryCounts().Streams);
    }

    [BpfFact]
    public void With_fr_streams_full_the_streams_past_its_room_stay_unmapped_and_the_rest_are_mapped()
    {
        using var bpf = BpfObject.Open(objects.ObjectPath(G.Protocol));
        bpf.Load();
        using var plane = new MoqKernelPlane(bpf, G.UdpPort, NullLogger.Instance);
        var sink = new RecordingDownstream();
        var filler = plane.AddSubscriber(Address(5000), 0, sink)!.Value;
        var max = bpf.Map("fr_streams").MaxEntries;
        // Two entries short of full, written as batches themselves.
        var fill = Enumerable.Range(0, max - 2).Select(k => new MoqKernelPlane.StreamMapping(filler, sink, 1000 + 4 * (ulong)k, 3, 0, 9, 1000, 1)).ToArray();
        var filled = new bool[fill.Length];
        plane.MapStreams(fill, filled);
        Assert.All(filled, Assert.True);
        Assert.Equal(max - 2, plane.KernelEntryCounts().Streams);

        var sinks = Enumerable.Range(0, 4).Select(_ => new RecordingDownstream()).ToArray();
        var slots = sinks.Select((s, i) => plane.AddSubscriber(Address(5100 + i), 0, s)!.Value).ToArray();
        // The filler's existing mapping again (an update: needs no room), then four new ones for two places.
        var batch = new MoqKernelPlane.StreamMapping[] { new(filler, sink, 1000, 5, 0, 9, 2000, 1) }
            .Concat(slots.Select((slot, i) => new MoqKernelPlane.StreamMapping(slot, sinks[i], Upstream, 3, 0, 9, 1000, 1))).ToArray();
        var mapped = new bool[batch.Length];
        plane.MapStreams(batch, mapped);
        Assert.Equal([true, true, true, false, false], mapped);
        Assert.Equal(max, plane.KernelEntryCounts().Streams);
        Assert.Equal(5UL, plane.Maps.Streams.Lookup(new G.StreamKey { Slot = filler, UpstreamStreamId = 1000 }).StreamId);
        Assert.False(plane.Maps.Streams.TryLookup(new G.StreamKey { Slot = slots[2], UpstreamStreamId = Upstream }, out _));

        // The plane's books follow the kernel's: once two mappings go, the refused subscribers can be mapped.
        plane.UnmapStreams([new(slots[0], sinks[0], Upstream), new(slots[1], sinks[1], Upstream)]);
        plane.MapStreams(batch[3..], mapped);
        Assert.Equal([true, true], mapped[..2]);
        Assert.Equal(max, plane.KernelEntryCounts().Streams);
    }

    private static FastPathSubscriberAddress Address(int port) => MapOnlyAddress.At(port);
}
