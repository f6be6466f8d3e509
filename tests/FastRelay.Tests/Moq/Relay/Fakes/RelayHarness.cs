using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;
using Xunit;

namespace FastRelay.Tests.Moq.Relay.Fakes;

/// <summary>A <see cref="MoqRelay"/> with in-memory peers: one publisher that published namespace "live".</summary>
internal sealed class RelayHarness
{
    public static readonly MoqFullTrackName Video = RelayNames.Track("live/cam1", "video");

    public RelayHarness(RelayOptions? options = null, bool publishNamespace = true)
    {
        Time = new ManualTime();
        Relay = new MoqRelay((options ?? new RelayOptions()) with { TimeProvider = Time });
        Publisher = new FakePeer("publisher");
        Assert.True(Relay.SessionStarted(Publisher));
        if (publishNamespace)
        {
            var outcome = Relay.PublishNamespaceAsync(Publisher, new NamespaceRequest(RelayNames.Namespace("live")), default).AsTask().Result;
            Assert.True(outcome.IsAccepted, outcome.Refusal?.Reason);
            Registration = outcome.Value;
        }
    }

    public MoqRelay Relay { get; }
    public ManualTime Time { get; }
    public FakePeer Publisher { get; }
    public IRelayRegistration? Registration { get; }

    public FakePeer NewSubscriberPeer()
    {
        var peer = new FakePeer();
        Assert.True(Relay.SessionStarted(peer));
        return peer;
    }

    public async Task<(SubscribeAccepted Accepted, FakeDownstreamPort Port)> SubscribeAsync(FakePeer peer, SubscribeRequest? request = null)
    {
        var port = new FakeDownstreamPort();
        var outcome = await Relay.SubscribeAsync(peer, request ?? new SubscribeRequest(Video), port, default);
        Assert.True(outcome.IsAccepted, outcome.Refusal?.Reason);
        return (outcome.Value!, port);
    }

    /// <summary>Publishes whole groups on the publisher's side of the relay's upstream subscription: one subgroup stream per group.</summary>
    public static void PublishGroups(IUpstreamTrackSink sink, ulong firstGroup, int groups, int objectsPerGroup, int payloadBytes, byte priority = 128)
    {
        for (ulong g = firstGroup; g < firstGroup + (ulong)groups; g++)
        {
            var stream = sink.OpenSubgroup();
            for (ulong o = 0; o < (ulong)objectsPerGroup; o++)
                stream.OnObject(Obj(g, o, payloadBytes, priority: priority));
            stream.OnClosed(true);
        }
    }

    /// <summary>An object whose payload spells its location, so a reordered or wrong object shows.</summary>
    public static RelayObject Obj(ulong group, ulong obj, int payloadBytes, ulong subgroup = 0, byte priority = 128)
    {
        var payload = new byte[payloadBytes];
        for (int i = 0; i < payload.Length; i++)
            payload[i] = (byte)(group * 31 + obj * 7 + (ulong)i);
        return new RelayObject(group, subgroup, obj, priority, payload);
    }
}
