using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using FastRelay.Protocols.Moq.Relay.FastPath;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>
/// <see cref="FastPathSubscriberConnection.StartSubgroups"/> end to end (prefix frmb): a subgroup whose batch mapping the
/// kernel had no room for (fr_streams full) still reaches its subscriber whole, sent by the relay's own stack (coverage
/// finds every range unforwarded), and a subscriber that left the fast path before the batch gets no subgroup at all.
/// Through the upstream tap: subscribers whose stream cannot be opened, or who leave in the middle of a subgroup, do not
/// take the subgroup from the others, whose mappings start and end in one batch each.
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

    [LabFact(needsClang: true)]
    public async Task Through_the_tap_a_subscriber_that_cannot_open_or_leaves_mid_subgroup_does_not_take_it_from_the_others()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var setup = await FastPathSubscriberLab.StartAsync(objects, "frmb", timeout.Token);
        var (lab, plane, subscriber, fastPath) = (setup.Lab, setup.Plane, setup.Subscriber, setup.FastPath);
        // Two more connections from the same subscriber host, each with a slot of its own: one that leaves in the middle
        // of the subgroup, one whose connection is gone before the subgroup starts (its stream cannot be opened).
        var (leaverClient, leaverRelay, leaver) = await ConnectAsync(setup, timeout.Token);
        var (closedClient, closedRelay, closed) = await ConnectAsync(setup, timeout.Token);
        await using var leaverClientOwned = leaverClient;
        await using var closedClientOwned = closedClient;
        await closedRelay.DisposeAsync();

        var header = new MoqSubgroupHeader(0, 7, MoqSubgroupIdMode.Zero, 0, null);
        var route = new FastPathTrackRoute(1, [new(fastPath, 5), new(closed, 6), new(leaver, 7)]);
        var verdicts = new List<bool>();
        var tap = new FastPathUpstreamTap(plane, PublisherCid, _ => route, NullLogger.Instance, (_, tapped) => verdicts.Add(tapped));
        var streamTap = tap.OnSubgroupStream((long)UpstreamStream, header, new byte[UpstreamHeaderLength]);
        Assert.NotNull(streamTap);
        Assert.Equal([true], verdicts);
        // The kept subscribers' mappings, written as one batch; the closed one has none.
        await Eventually.TrueAsync(() => plane.KernelEntryCounts().Streams == 2, "the two open subscribers' streams mapped");
        Assert.False(plane.Maps.Streams.TryLookup(new G.StreamKey { Slot = closed.Slot, UpstreamStreamId = UpstreamStream }, out _));

        var reading = ReadOne(subscriber, timeout.Token);
        var leaverReading = ReadOne(leaverClient, timeout.Token);
        var upstreamBytes = RandomNumberGenerator.GetBytes(Packets * DataLength);
        using (var publisher = lab.UdpSocket(lab.Publisher, AddressFamily.InterNetwork))
        {
            var relayUpstream = new IPEndPoint(lab.RelayUpstream.Address(AddressFamily.InterNetwork), G.UdpPort);
            for (var k = 0; k < Packets; k++)
            {
                if (k == Packets / 2)
                {
                    // The leaver goes: its slot and mappings with its binding, then its connection (its stream's writes fail).
                    await Eventually.TrueAsync(() => fastPath.KernelForwardedBytes > 0, "the kernel forwards the first half");
                    leaver.Dispose();
                    await leaverRelay.DisposeAsync();
                }
                publisher.SendTo(QuicMoqProtocol.Packet(PublisherCid, (uint)k, UpstreamStream, (ulong)(UpstreamHeaderLength + k * DataLength),
                    upstreamBytes.AsSpan(k * DataLength, DataLength), fin: k == Packets - 1), relayUpstream);
                // The session hands the tap what it read, in order.
                streamTap.OnBytes(UpstreamHeaderLength + k * DataLength, upstreamBytes.AsSpan(k * DataLength, DataLength));
            }
            streamTap.OnEnd(finished: true);
        }
        var writer = new MoqWriter(32);
        (header with { TrackAlias = 5 }).Write(writer);
        Assert.Equal(writer.ToArray().Concat(upstreamBytes).ToArray(), await reading);
        Assert.True(plane.Counters.Forwarded > 0, "the kernel forwarded copies on the batch's mappings");
        // Nothing left behind: the subgroup's end deleted its mapping, the upstream stream's end its channel lookup.
        await Eventually.TrueAsync(() => plane.KernelEntryCounts() is { Streams: 0, ChannelLookups: 0 }, "every mapping of the subgroup gone");
        Assert.False(subscriber.Closing.IsCompleted, "the remaining subscriber's QUIC stack saw no violation");
        // The leaver's own read ends one way or another (its connection closed); it must not hang the test.
        await Task.WhenAny(leaverReading, Task.Delay(TimeSpan.FromSeconds(5), timeout.Token));
    }

    private static Task<byte[]> ReadOne(QuicConnection connection, CancellationToken cancellationToken) => Task.Run(async () =>
    {
        var s = await connection.AcceptInboundStreamAsync(cancellationToken);
        var into = new MemoryStream();
        await s.CopyToAsync(into, cancellationToken);
        return into.ToArray();
    }, cancellationToken);

    /// <summary>One more subscriber connection (our stack, 0xBAAD) from the lab's subscriber host, activated on the fast path.</summary>
    private static async Task<(QuicConnection Client, QuicConnection Relay, FastPathSubscriberConnection Binding)> ConnectAsync(FastPathSubscriberLab setup,
        CancellationToken cancellationToken)
    {
        var accepting = setup.Listener.AcceptConnectionAsync(cancellationToken).AsTask();
        var options = new QuicClientConnectionOptions
        {
            RemoteEndPoint = setup.RelayLocal, ApplicationProtocols = ["test"], SkipCertificateValidation = true, Disable1RttEncryption = true,
        };
        var client = await await setup.Lab.RunInAsync(setup.Lab.Subscribers[0], () => QuicConnection.ConnectAsync(options, cancellationToken).AsTask());
        var relay = await accepting;
        var address = await setup.Lab.RunInAsync(setup.Lab.Relay, () => FastPathSubscriberAddress.Resolve(setup.RelayLocal, relay.RemoteEndPoint, relay.DestinationConnectionId));
        FastPathSubscriberConnection? binding = null;
        await Eventually.TrueAsync(() =>
        {
            try { binding = FastPathSubscriberConnection.Activate(setup.Plane, relay, address, NullLogger.Instance); return true; }
            catch (InvalidOperationException) { return false; }
        }, "the relay's connection accepts external numbering (handshake confirmed)");
        return (client, relay, binding!);
    }
}
