using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Moq.Relay.Fakes;
using Xunit;

namespace FastRelay.Tests.Moq.Relay;

/// <summary>AbsoluteRange subscriptions at the relay: only the range is delivered, and the subscription ends there.</summary>
public class RelayRangeFilterTests
{
    private static SubscribeRequest Range(ulong startGroup, ulong startObject, ulong endGroupDelta) => new(RelayHarness.Video)
    {
        Filter = MoqLocationFilter.AbsoluteRange(new MoqLocation(startGroup, startObject), endGroupDelta),
    };

    [Fact]
    public async Task A_range_gets_only_its_objects_and_PUBLISH_DONE_once_a_later_group_started_and_its_streams_ended()
    {
        var h = new RelayHarness();
        var (_, open) = await h.SubscribeAsync(h.NewSubscriberPeer());
        var (_, range) = await h.SubscribeAsync(h.NewSubscriberPeer(), Range(1, 1, endGroupDelta: 1)); // {1,1} .. end of group 2
        var upstream = h.Publisher.SinkFor(RelayHarness.Video);
        var track = h.Relay.FindTrack(RelayHarness.Video)!;
        Assert.Equal(2, track.SubscriberCount);

        RelayHarness.PublishGroups(upstream, 0, 2, 3, 10); // groups 0 and 1
        // Group 2, the end group, stays open on one stream while group 3 starts on another.
        var endGroup = upstream.OpenSubgroup();
        endGroup.OnObject(RelayHarness.Obj(2, 0, 10));
        var later = upstream.OpenSubgroup();
        later.OnObject(RelayHarness.Obj(3, 0, 10));
        await range.WaitUntil(p => p.AllObjects().Count == 3);
        // The range is over, but its end group's stream is still open: no PUBLISH_DONE before that stream ended.
        Assert.False(range.Finished.Task.IsCompleted);
        endGroup.OnObject(RelayHarness.Obj(2, 1, 10)); // still in range, on the open stream
        endGroup.OnClosed(true);
        Assert.Equal(MoqPublishDoneCode.SubscriptionEnded, await range.Finished.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(new[] { "1/1", "1/2", "2/0", "2/1" }, range.AllObjects().Select(o => $"{o.Group}/{o.ObjectId}"));
        Assert.All(range.Subgroups, s => Assert.True(s.Completed, $"subgroup {s.Group} finished"));
        await Eventually.TrueAsync(() => track.SubscriberCount == 1, "the ended range never left the track");

        // The track goes on for the open subscriber; nothing more reaches the range.
        later.OnObject(RelayHarness.Obj(3, 1, 10));
        later.OnClosed(true);
        RelayHarness.PublishGroups(upstream, 4, 1, 2, 10);
        await open.WaitUntil(p => p.AllObjects().Count == 3 + 3 + 2 + 2 + 2);
        Assert.Equal(4, range.AllObjects().Count);
        Assert.False(open.Finished.Task.IsCompleted);
    }

    [Fact]
    public async Task A_range_with_delta_zero_ends_with_its_start_group_and_a_datagram_of_a_later_group_ends_it_too()
    {
        var h = new RelayHarness();
        var (_, range) = await h.SubscribeAsync(h.NewSubscriberPeer(), Range(0, 0, endGroupDelta: 0));
        var upstream = h.Publisher.SinkFor(RelayHarness.Video);
        RelayHarness.PublishGroups(upstream, 0, 1, 2, 10);
        await range.WaitUntil(p => p.AllObjects().Count == 2 && p.Subgroups.All(s => s.Completed));
        Assert.False(range.Finished.Task.IsCompleted);
        upstream.OnDatagram(RelayHarness.Obj(1, 0, 10));
        Assert.Equal(MoqPublishDoneCode.SubscriptionEnded, await range.Finished.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Empty(range.Datagrams);
    }

    [Fact]
    public async Task A_range_whose_end_group_was_already_published_is_refused_with_INVALID_RANGE()
    {
        var h = new RelayHarness();
        await h.SubscribeAsync(h.NewSubscriberPeer()); // starts the track
        RelayHarness.PublishGroups(h.Publisher.SinkFor(RelayHarness.Video), 0, 3, 2, 10); // largest {2,1}
        var outcome = await h.Relay.SubscribeAsync(h.NewSubscriberPeer(), Range(0, 0, endGroupDelta: 1), new FakeDownstreamPort(), default);
        Assert.False(outcome.IsAccepted);
        Assert.Equal(MoqRequestErrorCode.InvalidRange, outcome.Refusal!.Code);
        // The end group itself still open to more objects: accepted.
        var (_, port) = await h.SubscribeAsync(h.NewSubscriberPeer(), Range(2, 0, endGroupDelta: 0));
        Assert.False(port.Finished.Task.IsCompleted);
    }

    private static MoqRangeFilter Filter(MoqParameterType kind, byte set, params (ulong Start, ulong? End)[] ranges) =>
        new(kind, set, 0, ranges.Select(r => new MoqRange(r.Start, r.End)).ToList());

    [Fact]
    public async Task Range_Filter_parameters_AND_within_a_set_and_OR_across_sets()
    {
        var h = new RelayHarness();
        // Set 0: subgroup 1 AND object IDs 0..5; set 1: priority 10..20 (any subgroup).
        var (_, port) = await h.SubscribeAsync(h.NewSubscriberPeer(), new SubscribeRequest(RelayHarness.Video)
        {
            RangeFilters =
            [
                Filter(MoqParameterType.SubgroupFilter, 0, (1, 1)),
                Filter(MoqParameterType.ObjectIdFilter, 0, (0, 5)),
                Filter(MoqParameterType.PriorityFilter, 1, (10, 20)),
            ],
        });
        var (_, all) = await h.SubscribeAsync(h.NewSubscriberPeer());
        var upstream = h.Publisher.SinkFor(RelayHarness.Video);
        foreach (var (subgroup, priority) in new[] { (0UL, (byte)128), (1UL, (byte)128), (2UL, (byte)15) })
        {
            var stream = upstream.OpenSubgroup();
            // Object IDs are unique within a group across its subgroups: subgroup s carries 4s .. 4s+3.
            for (ulong o = 4 * subgroup; o < 4 * subgroup + 4; o++) stream.OnObject(RelayHarness.Obj(0, o, 10, subgroup, priority));
            stream.OnClosed(true);
        }
        await all.WaitUntil(p => p.AllObjects().Count == 12 && p.Subgroups.All(s => s.Completed));
        await port.WaitUntil(p => p.AllObjects().Count == 6 && p.Subgroups.All(s => s.Completed));
        Assert.Equal(new[] { "1/4", "1/5", "2/10", "2/11", "2/8", "2/9" },
            port.AllObjects().Select(o => $"{o.Subgroup}/{o.ObjectId}").Order());
    }

    [Fact]
    public void An_object_property_filter_needs_the_property_in_range_and_REQUEST_UPDATE_replaces_a_filter_type()
    {
        var filters = MoqRangeFilterSet.From([new MoqRangeFilter(MoqParameterType.ObjectPropertyFilter, 0, 0x40, [new MoqRange(5, null)])]);
        Assert.True(filters.Passes(0, 0, 128, [MoqKeyValuePair.FromInt(0x40, 7)]));
        Assert.False(filters.Passes(0, 0, 128, [MoqKeyValuePair.FromInt(0x40, 4)]));
        Assert.False(filters.Passes(0, 0, 128, [])); // absent: does not pass
        var updated = filters.Update([new MoqRangeFilter(MoqParameterType.ObjectPropertyFilter, 0, 0, []) { IsRemoval = true }]);
        Assert.True(updated.IsEmpty);
        Assert.True(updated.Passes(0, 0, 128, []));
        // Refusals: none announced; too many ranges; the same type, set and property twice; an overflowed value.
        var one = new MoqRangeFilter(MoqParameterType.SubgroupFilter, 0, 0, [new MoqRange(1, 2)]);
        Assert.NotNull(MoqRangeFilterSet.Invalid([one], maxRanges: 0));
        Assert.Null(MoqRangeFilterSet.Invalid([one], maxRanges: 1));
        Assert.NotNull(MoqRangeFilterSet.Invalid([one, one with { Ranges = [new MoqRange(5, 6)] }], maxRanges: 8));
        Assert.NotNull(MoqRangeFilterSet.Invalid([one with { InvalidReason = "range end overflows" }], maxRanges: 8));
        Assert.Null(MoqRangeFilterSet.Invalid([], maxRanges: 0));
    }
}
