using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Tests.Moq.Relay.Fakes;
using Xunit;

namespace FastRelay.Tests.Moq.Relay;

/// <summary>
/// The relay sets SUBGROUP_HEADER's FIRST_OBJECT on a downstream stream that starts with object 0 (nothing precedes it in
/// any subgroup) and leaves it clear on one that starts later: a subscriber joining mid-group must not be told it got
/// the subgroup's head (a peer like @moq/net would take the tail for a whole group).
/// </summary>
public sealed class RelayFirstObjectBitTests
{
    [Fact]
    public async Task Streams_that_start_at_object_0_carry_FIRST_OBJECT_and_a_mid_group_join_does_not()
    {
        var h = new RelayHarness();
        var (_, fromStart) = await h.SubscribeAsync(h.NewSubscriberPeer());
        var upstream = h.Publisher.SinkFor(RelayHarness.Video);
        var (_, midGroup) = await h.SubscribeAsync(h.NewSubscriberPeer(), new SubscribeRequest(RelayHarness.Video)
        {
            Filter = MoqLocationFilter.AbsoluteStart(new MoqLocation(1, 2)),
        });
        RelayHarness.PublishGroups(upstream, 0, 3, 4, 10); // groups 0..2, objects 0..3

        await fromStart.WaitUntil(p => p.AllObjects().Count == 12);
        await midGroup.WaitUntil(p => p.AllObjects().Count == 6);

        Assert.All(fromStart.Subgroups, s => Assert.True(s.FirstObject, $"group {s.Group} starts at object 0"));
        var byGroup = midGroup.Subgroups.ToDictionary(s => s.Group);
        Assert.Equal(2ul, byGroup[1].Objects[0].ObjectId);
        Assert.False(byGroup[1].FirstObject);
        Assert.True(byGroup[2].FirstObject);
    }
}
