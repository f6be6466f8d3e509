using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using FastRelay.Cli.Lab;
using FastRelay.Protocols.Moq.Publisher;
using FastRelay.Protocols.Moq.Relay.FastPath;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Transport;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Relay;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using FastRelay.Tests.Moq.Session;
using FastRelay.Tests.Quic.Api;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>
/// The glue alone, with real stacks in namespaces (prefix frmf) and no MoqRelay around it (FastPathMoqRelayCliLabTests
/// covers the wired relay): our MoQ publisher
/// (0xBAAD, fast-path layout on its subgroup streams) → a relay-side MoQ session whose subgroup tap is
/// <see cref="FastPathUpstreamTap"/> → two raw QUIC subscribers (0xBAAD) on the fast path, each with its own track
/// alias (one- and two-byte varints: different header lengths). Every subscriber's stream parses to the published
/// objects under its own alias; the kernel forwarded most of the object bytes; nobody's QUIC saw a violation.
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class FastPathMoqChainLabTests(GeneratedObjects objects)
{
    private const int Objects = 150, ObjectSize = 1000;
    private static readonly ulong[] Aliases = [7, 300];

    /// <param name="mediaPaced">true: the rest of the subgroup follows once the relay mapped it, paced like media;
    /// false: one burst, most of which reaches the relay before the mappings exist, so the kernel sees little of it and
    /// userspace sends what the kernel did not account for (coverage) — every object must arrive all the same.</param>
    /// <param name="mixedFamilies">true: the second subscriber connects over IPv6 to the relay's dual-stack socket while
    /// the publisher sends over IPv4, so its copies are translated by the kernel (FR_CONFIG_TRANSLATE_FAMILY).</param>
    [LabTheory(needsClang: true)]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public async Task Publisher_to_fast_path_subscribers_every_object_identical_under_each_alias(bool mediaPaced, bool mixedFamilies)
    {
        var prefix = (mixedFamilies ? "frxf" : "frmf") + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2));
        await using var lab = await LabTopology.UpAsync(new LabOptions { Prefix = prefix, Subscribers = 2, RelayInterfaces = 2 });
        var family = AddressFamily.InterNetwork;
        AddressFamily SubscriberFamily(int i) => mixedFamilies && i == 1 ? AddressFamily.InterNetworkV6 : family;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        using var host = await lab.RunInAsync(lab.Relay, () => FastPathHost.Start(
            new FastPathHostOptions(G.Protocol, objects.ObjectPath(G.Protocol), prefix + "-moq", [lab.RelayUpstream.Name, lab.RelayDownstream.Name], lab.BpfFsPath),
            NullLogger.Instance));
        using var plane = new MoqKernelPlane(host.Object, G.UdpPort, NullLogger.Instance);

        var listener = await await lab.RunInAsync(lab.Relay, () => QuicListener.ListenAsync(new QuicListenerOptions
        {
            ListenEndPoint = new IPEndPoint(mixedFamilies ? IPAddress.IPv6Any : IPAddress.Any, G.UdpPort), ApplicationProtocols = [QuicMoqTransport.Alpn, "test"], ReceiveCoalescing = false,
            ConnectionOptions = new QuicServerConnectionOptions
            {
                ServerCertificate = LoopbackPair.Certificate.Value, ApplicationProtocols = [QuicMoqTransport.Alpn, "test"], Disable1RttEncryption = true,
                AllowSegmentationOffload = false,
            },
        }).AsTask());
        await using var listenerLifetime = listener;

        // Subscribers first: raw QUIC, put on the fast path by the relay.
        var bindings = new List<FastPathSubscriberConnection>();
        var subscribers = new List<QuicConnection>();
        var relayDownstreams = new List<QuicConnection>();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                var accepting = listener.AcceptConnectionAsync(timeout.Token).AsTask();
                var relayDown = new IPEndPoint(lab.RelayDownstream.Address(SubscriberFamily(i)), G.UdpPort);
                subscribers.Add(await await lab.RunInAsync(lab.Subscribers[i], () => QuicConnection.ConnectAsync(new QuicClientConnectionOptions
                {
                    RemoteEndPoint = relayDown, ApplicationProtocols = ["test"], SkipCertificateValidation = true, Disable1RttEncryption = true,
                }, timeout.Token).AsTask()));
                var relay = await accepting;
                relayDownstreams.Add(relay);
                var address = await lab.RunInAsync(lab.Relay, () => FastPathSubscriberAddress.Resolve(relayDown, relay.RemoteEndPoint, relay.DestinationConnectionId));
                FastPathSubscriberConnection? binding = null;
                await Eventually.TrueAsync(() =>
                {
                    try { binding = FastPathSubscriberConnection.Activate(plane, relay, address, NullLogger.Instance); return true; }
                    catch (InvalidOperationException) { return false; }
                }, $"subscriber {i} on the fast path");
                bindings.Add(binding!);
            }
            var readers = subscribers.Select(s => Task.Run(async () =>
            {
                var stream = await s.AcceptInboundStreamAsync(timeout.Token);
                var into = new MemoryStream();
                await stream.CopyToAsync(into, timeout.Token);
                return into.ToArray();
            })).ToList();

            // The publisher: our MoQ stack over QUIC, its subgroup streams in the fast-path layout.
            var published = new TaskCompletionSource<MoqTrackPublication>(TaskCreationOptions.RunContinuationsAsynchronously);
            var publisherHandler = new DelegateHandler { Subscribe = async r => published.SetResult(await r.AcceptAsync()) };
            var upstreamAccepting = listener.AcceptConnectionAsync(timeout.Token).AsTask();
            var relayUpstream = new IPEndPoint(lab.RelayUpstream.Address(family), G.UdpPort);
            await using var publisherQuic = await await lab.RunInAsync(lab.Publisher, () => QuicConnection.ConnectAsync(new QuicClientConnectionOptions
            {
                RemoteEndPoint = relayUpstream, ApplicationProtocols = [QuicMoqTransport.Alpn], SkipCertificateValidation = true,
                Disable1RttEncryption = true, FastPathUnidirectionalStreams = true,
            }, timeout.Token).AsTask());
            await using var relayUp = await upstreamAccepting;
            Assert.Equal(8, relayUp.InitialLocalConnectionId.Length);
            var tap = new FastPathUpstreamTap(plane, relayUp.InitialLocalConnectionId,
                _ => new FastPathTrackRoute(1, bindings.Select((b, i) => new FastPathTrackSubscriber(b, Aliases[i])).ToList()), NullLogger.Instance);
            var relaySessionTask = MoqSession.AcceptAsync(new QuicMoqTransport(relayUp), new MoqSessionOptions { SubgroupTap = tap });
            await using var publisherSession = await MoqSession.ConnectAsync(new QuicMoqTransport(publisherQuic), new MoqSessionOptions { Handler = publisherHandler });
            await using var relaySession = await relaySessionTask;

            var subscription = await relaySession.SubscribeAsync(new MoqFullTrackName(MoqTrackNamespace.FromStrings("fast"), "path"));
            var publication = await published.Task.WaitAsync(timeout.Token);
            var payloads = Enumerable.Range(0, Objects).Select(_ => RandomNumberGenerator.GetBytes(ObjectSize)).ToList();
            var relayReceived = Task.Run(async () =>
            {
                var n = 0;
                await foreach (var _ in subscription.ReadObjectsAsync(timeout.Token))
                    if (++n == Objects) break;
                return n;
            });
            var subgroup = await publication.OpenSubgroupAsync(4);
            // A media stream's first object opens the subgroup; by the next ones the relay has mapped it for every
            // subscriber. (A burst sent before the mappings exist is delivered all the same, by userspace: coverage.)
            await subgroup.WriteObjectAsync(0, payloads[0], cancellationToken: timeout.Token);
            if (mediaPaced)
                await Eventually.TrueAsync(() => plane.KernelEntryCounts().Streams == 2, "the subgroup mapped for both subscribers");
            for (var k = 1; k < Objects; k++)
            {
                // Media arrives paced (here 10 kB every 20 ms, 4 Mbit/s): the subscribers' congestion windows, which
                // the kernel's budget follows, have room for it. A 150 kB burst into new connections (windows of
                // about 12 kB) is forwarded by the kernel only as far as each window has room (11-70 % measured); the
                // rest is sent by the relay's stack under its controller.
                if (mediaPaced && k % 10 == 0) await Task.Delay(20, timeout.Token);
                await subgroup.WriteObjectAsync((ulong)k, payloads[k], cancellationToken: timeout.Token);
            }
            await subgroup.CompleteAsync();
            Assert.Equal(Objects, await relayReceived);   // the relay's own delivery (cache) is unchanged

            var stats = plane.KernelStats();
            for (var i = 0; i < 2; i++)
            {
                var bytes = await readers[i];
                Assert.Equal(MoqParseStatus.Complete, MoqStreamHeader.TryParse(bytes, out var kind, out var header, out _, out var consumed, out _));
                Assert.Equal(MoqStreamKind.Subgroup, kind);
                Assert.Equal(Aliases[i], header!.TrackAlias);
                Assert.Equal(4UL, header.GroupId);
                var reader = new MoqSubgroupObjectReader(header);
                var body = (ReadOnlyMemory<byte>)bytes.AsMemory(consumed);
                var got = new List<byte[]>();
                while (!body.IsEmpty)
                {
                    Assert.Equal(MoqParseStatus.Complete, reader.TryRead(body, out var obj, out var used, out _, out _));
                    got.Add(obj.Payload.ToArray());
                    body = body[used..];
                }
                Assert.Equal(payloads, got);
                var forwarded = plane.ConnectionCreditUsed(bindings[i].Slot);
                var share = (double)forwarded / (bytes.Length - consumed);
                Console.WriteLine($"subscriber {i} (alias {Aliases[i]}): kernel forwarded {forwarded} of {bytes.Length - consumed} object bytes = {share:P1}; " +
                                  $"upstream matched {stats.UpstreamMatched}, no channel {stats.UpstreamNoChannel}, clones {stats.Clones}, rewritten {stats.EgressRewritten}, " +
                                  $"dropped no stream {stats.EgressDroppedNoStream}, not forwarded {stats.EgressNotForwarded}");
                if (mediaPaced) Assert.True(share > 0.95, $"the kernel forwarded only {share:P1}");
                Assert.False(subscribers[i].Closing.IsCompleted, "the subscriber's QUIC saw no violation");
            }
            if (mixedFamilies && mediaPaced)
                Assert.True(stats.EgressFamilyTranslated > 0, "the IPv6 subscriber's copies were not translated by the kernel");
            Assert.Equal(1, tap.TappedStreams);
            Assert.Equal(0, plane.Counters.SinkFailures);
        }
        finally
        {
            foreach (var b in bindings) b.Dispose();
            foreach (var c in subscribers.Concat(relayDownstreams)) await c.DisposeAsync();
        }
        Assert.Equal((0, 0, 0, 0), plane.KernelEntryCounts());
    }
}
