using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Tests.Moq.Relay.Fakes;
using Xunit;

namespace FastRelay.Tests.Moq.Relay;

/// <summary>SUBSCRIBE_NAMESPACE: NAMESPACE / NAMESPACE_DONE for what is published under the prefix.</summary>
public class NamespaceDiscoveryTests
{
    [Fact]
    public async Task ExistingAndLaterNamespacesAreAnnouncedAndWithdrawalsToo()
    {
        var h = new RelayHarness(); // "live" is published
        var peer = h.NewSubscriberPeer();
        var listener = new FakeNamespaceListener();
        var interest = await h.Relay.SubscribeNamespaceAsync(peer, new NamespaceRequest(MoqTrackNamespace.Empty), listener, default);
        Assert.True(interest.IsAccepted);
        Assert.Equal(new[] { "+live" }, listener.Events);

        var other = new FakePeer();
        h.Relay.SessionStarted(other);
        var cam = await h.Relay.PublishNamespaceAsync(other, new NamespaceRequest(RelayNames.Namespace("live/cam9")), default);
        cam.Value!.Dispose();
        Assert.Equal(new[] { "+live", "+live/cam9", "-live/cam9" }, listener.Events);

        // The publisher itself is not told about its own namespace.
        var narrow = new FakeNamespaceListener();
        await h.Relay.SubscribeNamespaceAsync(other, new NamespaceRequest(RelayNames.Namespace("live")), narrow, default);
        await h.Relay.PublishNamespaceAsync(other, new NamespaceRequest(RelayNames.Namespace("live/cam7")), default);
        Assert.Equal(new[] { "+live" }, narrow.Events);
    }

    [Fact]
    public async Task OverlappingPrefixesInOneSessionArePrefixOverlap()
    {
        var h = new RelayHarness();
        var peer = h.NewSubscriberPeer();
        Assert.True((await h.Relay.SubscribeNamespaceAsync(peer, new NamespaceRequest(RelayNames.Namespace("a/b")), new FakeNamespaceListener(), default)).IsAccepted);
        var overlap = await h.Relay.SubscribeNamespaceAsync(peer, new NamespaceRequest(RelayNames.Namespace("a")), new FakeNamespaceListener(), default);
        Assert.Equal(MoqRequestErrorCode.PrefixOverlap, overlap.Refusal!.Code);
        Assert.True((await h.Relay.SubscribeNamespaceAsync(peer, new NamespaceRequest(RelayNames.Namespace("a/c")), new FakeNamespaceListener(), default)).IsAccepted);
    }

    [Fact]
    public async Task TrackStatusAnswersFromTheTrackOrThePublishedNamespaces()
    {
        var h = new RelayHarness();
        var peer = h.NewSubscriberPeer();
        var unknownTrack = await h.Relay.TrackStatusAsync(peer, new SubscribeRequest(RelayHarness.Video), default);
        Assert.True(unknownTrack.IsAccepted);
        Assert.Null(unknownTrack.Value!.Largest);
        await h.SubscribeAsync(peer);
        RelayHarness.PublishGroups(h.Publisher.SinkFor(RelayHarness.Video), 0, 2, 2, 5);
        var live = await h.Relay.TrackStatusAsync(peer, new SubscribeRequest(RelayHarness.Video), default);
        Assert.Equal(new MoqLocation(1, 1), live.Value!.Largest);
        var none = await h.Relay.TrackStatusAsync(peer, new SubscribeRequest(RelayNames.Track("nowhere", "x")), default);
        Assert.Equal(MoqRequestErrorCode.DoesNotExist, none.Refusal!.Code);
    }
}
