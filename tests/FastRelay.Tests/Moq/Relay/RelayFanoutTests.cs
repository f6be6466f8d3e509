using FastRelay.Protocols.Moq.Wire;
using System.Runtime.InteropServices;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Tests.Moq.Relay.Fakes;
using Xunit;

namespace FastRelay.Tests.Moq.Relay;

public class RelayFanoutTests
{
    [Fact]
    public async Task ThreeSubscribersGetByteIdenticalObjectsThatShareOnePayloadBuffer()
    {
        var h = new RelayHarness();
        var ports = new List<FakeDownstreamPort>();
        for (int i = 0; i < 3; i++)
            ports.Add((await h.SubscribeAsync(h.NewSubscriberPeer())).Port);
        var sink = h.Publisher.SinkFor(RelayHarness.Video);
        RelayHarness.PublishGroups(sink, 0, 4, 5, 1200);
        foreach (var port in ports)
            await port.WaitUntil(p => p.Subgroups.Count == 4 && p.Subgroups.All(s => s.Completed));
        var reference = ports[0].AllObjects();
        Assert.Equal(20, reference.Count);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"{i / 5}/{i % 5}"), reference.Select(o => $"{o.Group}/{o.ObjectId}"));
        foreach (var port in ports.Skip(1))
        {
            var objects = port.AllObjects();
            Assert.Equal(reference.Count, objects.Count);
            for (int i = 0; i < objects.Count; i++)
            {
                Assert.True(objects[i].Payload.Span.SequenceEqual(reference[i].Payload.Span));
                Assert.True(MemoryMarshal.TryGetArray(objects[i].Payload, out var a));
                Assert.True(MemoryMarshal.TryGetArray(reference[i].Payload, out var b));
                Assert.Same(a.Array, b.Array);
            }
        }
        var track = h.Relay.FindTrack(RelayHarness.Video)!;
        Assert.Equal(20, track.ObjectsIn);
    }

    [Fact]
    public async Task AnUpstreamResetIsPassedOnAsAResetNotAFin()
    {
        var h = new RelayHarness();
        var (_, port) = await h.SubscribeAsync(h.NewSubscriberPeer());
        var stream = h.Publisher.SinkFor(RelayHarness.Video).OpenSubgroup();
        stream.OnObject(RelayHarness.Obj(0, 0, 10));
        stream.OnObject(RelayHarness.Obj(0, 1, 10));
        stream.OnClosed(finished: false);
        await port.WaitUntil(p => p.Subgroups.Any(s => s.ResetCode is not null));
        var sub = port.Subgroups.Single();
        Assert.False(sub.Completed);
        Assert.Equal(2, sub.Objects.Count);
    }

    [Fact]
    public async Task FiltersDecideWhatEachSubscriberGets()
    {
        var h = new RelayHarness();
        var sink = (await h.SubscribeAsync(h.NewSubscriberPeer())).Port; // first subscriber starts the track
        var upstream = h.Publisher.SinkFor(RelayHarness.Video);
        RelayHarness.PublishGroups(upstream, 0, 2, 3, 10); // largest {1,2}
        var (largest, portLargest) = await h.SubscribeAsync(h.NewSubscriberPeer(), new SubscribeRequest(RelayHarness.Video) { Filter = MoqLocationFilter.LargestObject() });
        Assert.Equal(new MoqLocation(1, 2), largest.Info.Largest);
        var (_, portRange) = await h.SubscribeAsync(h.NewSubscriberPeer(), new SubscribeRequest(RelayHarness.Video)
        {
            Filter = MoqLocationFilter.AbsoluteRange(new MoqLocation(2, 1), endGroupDelta: 1),
        });
        var (_, portNoForward) = await h.SubscribeAsync(h.NewSubscriberPeer(), new SubscribeRequest(RelayHarness.Video) { Forward = false });
        RelayHarness.PublishGroups(upstream, 2, 3, 3, 10); // groups 2, 3, 4
        await portLargest.WaitUntil(p => p.AllObjects().Count == 9);
        await portRange.WaitUntil(p => p.AllObjects().Count == 5);
        Assert.Equal(new[] { "2/1", "2/2", "3/0", "3/1", "3/2" }, portRange.AllObjects().Select(o => $"{o.Group}/{o.ObjectId}"));
        await Task.Delay(20);
        Assert.Empty(portNoForward.AllObjects());
    }

    [Fact]
    public async Task DatagramsAreForwardedAsDatagrams()
    {
        var h = new RelayHarness();
        var (_, port) = await h.SubscribeAsync(h.NewSubscriberPeer());
        var sink = h.Publisher.SinkFor(RelayHarness.Video);
        for (ulong i = 0; i < 5; i++)
            sink.OnDatagram(new RelayObject(i, 0, 0, 128, new byte[] { (byte)i }, isDatagram: true));
        Assert.Equal(5, port.Datagrams.Count);
        Assert.Empty(port.Subgroups);
    }
}
