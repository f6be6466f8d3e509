using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using FastRelay.Protocols.Moq.Relay.FastPath;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using FastRelay.Tests.Packets.Protocols;
using Xunit;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>
/// <see cref="FastPathSubscriberConnection.StartSubgroups"/> end to end (prefix frmb): a subgroup whose batch mapping the
/// kernel had no room for (fr_streams full) still reaches its subscriber whole, sent by the relay's own stack (coverage
/// finds every range unforwarded), and a subscriber that left the fast path before the batch gets no subgroup at all.
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class FastPathSubgroupBatchLabTests(GeneratedObjects objects)
{
    private const ulong UpstreamStream = 2;
    private const int UpstreamHeaderLength = 9, Packets = 12, DataLength = 1000;
    private static readonly byte[] PublisherCid = [0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48];

    [LabFact(needsClang: true)]
    public async Task A_subgroup_the_kernel_could_not_map_reaches_its_subscriber_through_userspace_and_a_departed_subscriber_gets_none()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var setup = await FastPathSubscriberLab.StartAsync(objects, "frmb", timeout.Token);
        var (lab, plane, subscriber, relay, fastPath) = (setup.Lab, setup.Plane, setup.Subscriber, setup.Relay, setup.FastPath);

        // fr_streams full: other mappings of the same slot (for upstream streams that never send) take every entry.
        var max = plane.Maps.Streams.Map.MaxEntries;
        var fill = Enumerable.Range(0, max).Select(k => new MoqKernelPlane.StreamMapping(fastPath.Slot, null, 1000 + 4 * (ulong)k, 3, 0, 9, 1000, 1)).ToArray();
        plane.MapStreams(fill, new bool[max]);
        Assert.Equal(max, plane.KernelEntryCounts().Streams);

        byte[] ownHeader = [0x10, 0x05, 0x00, 0x00, 0x80];
        var stream = await relay.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
        var started = FastPathSubscriberConnection.StartSubgroups(UpstreamStream, UpstreamHeaderLength,
            [new(fastPath, new FastPathOpenedStream(stream, 0, code => stream.Abort(QuicAbortDirection.Write, (long)code)), ownHeader, 1)]);
        var subgroup = Assert.Single(started);
        Assert.NotNull(subgroup);
        Assert.False(subgroup.Mapped);
        Assert.False(plane.Maps.Streams.TryLookup(new G.StreamKey { Slot = fastPath.Slot, UpstreamStreamId = UpstreamStream }, out _));
        await subgroup.WritePrefixAsync(timeout.Token);
        plane.JoinChannel(fastPath.Slot, 1);
        plane.MapUpstreamStream(PublisherCid, UpstreamStream, 1);
        var reading = Task.Run(async () =>
        {
            var s = await subscriber.AcceptInboundStreamAsync(timeout.Token);
            var into = new MemoryStream();
            await s.CopyToAsync(into, timeout.Token);
            return into.ToArray();
        }, timeout.Token);

        // The publisher's packets reach the kernel, which clones them for the slot but has no mapping to send them on.
        var upstreamBytes = RandomNumberGenerator.GetBytes(Packets * DataLength);
        using (var publisher = lab.UdpSocket(lab.Publisher, AddressFamily.InterNetwork))
        {
            var relayUpstream = new IPEndPoint(lab.RelayUpstream.Address(AddressFamily.InterNetwork), G.UdpPort);
            for (var k = 0; k < Packets; k++)
                publisher.SendTo(QuicMoqProtocol.Packet(PublisherCid, (uint)k, UpstreamStream, (ulong)(UpstreamHeaderLength + k * DataLength),
                    upstreamBytes.AsSpan(k * DataLength, DataLength), fin: k == Packets - 1), relayUpstream);
            for (var k = 0; k < Packets; k++)
                await subgroup.WriteUpstreamAsync(upstreamBytes.AsMemory(k * DataLength, DataLength), fin: k == Packets - 1, timeout.Token);
        }
        Assert.Equal(ownHeader.Concat(upstreamBytes).ToArray(), await reading);
        // All of it went through the relay's stack: nothing forwarded by the kernel, every byte counted as userspace's.
        Assert.Equal(0, plane.Counters.Forwarded);
        Assert.Equal(ownHeader.Length + upstreamBytes.Length, fastPath.UserspaceStreamBytes);
        // The unmapped subgroup's end took nothing of the slot's other mappings.
        Assert.Equal(max, plane.KernelEntryCounts().Streams);

        // The subscriber leaves the fast path (its slot and every mapping go); a subgroup starting now is not its.
        fastPath.Dispose();
        Assert.Equal(0, plane.KernelEntryCounts().Streams);
        var late = await relay.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
        var none = FastPathSubscriberConnection.StartSubgroups(UpstreamStream + 4, UpstreamHeaderLength,
            [new(fastPath, new FastPathOpenedStream(late, 0, code => late.Abort(QuicAbortDirection.Write, (long)code)), ownHeader, 1)]);
        Assert.Null(Assert.Single(none));
        Assert.Equal(0, plane.KernelEntryCounts().Streams);
        Assert.False(subscriber.Closing.IsCompleted, "the subscriber's QUIC stack saw no violation");
    }
}
