using System.Net;
using FastRelay.Protocols.Moq.Publisher;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Subscriber;
using FastRelay.Protocols.Moq.Transport;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Tests.Quic.Api;
using Xunit;

namespace FastRelay.Tests.Moq.Session;

/// <summary>
/// A publisher that closes (NO_ERROR) as soon as QUIC acknowledged its data: the subscriber's session reads every
/// stream it received to its end before it acts on the close, so every object arrives, each stream's FIN is reported,
/// and PUBLISH_DONE too. Over our real QUIC on loopback, many rounds, so the race between acknowledging and parsing shows.
/// </summary>
public sealed class MoqCloseDrainTests
{
    private static readonly MoqFullTrackName Track = new(MoqTrackNamespace.FromStrings("drain"), "track");

    private static byte[] Payload(ulong group, ulong obj, int bytes) =>
        Enumerable.Range(0, bytes).Select(i => (byte)(group * 31 + obj * 7 + (ulong)i)).ToArray();

    [Fact]
    public async Task Every_object_sent_before_a_clean_close_is_delivered_with_its_stream_end_and_PUBLISH_DONE()
    {
        const int rounds = 20, groups = 4, objectsPer = 6, bytes = 1500;
        await using var listener = await QuicListener.ListenAsync(new QuicListenerOptions
        {
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            ApplicationProtocols = [QuicMoqTransport.Alpn],
            ConnectionOptions = new QuicServerConnectionOptions { ServerCertificate = LoopbackPair.Certificate.Value, ApplicationProtocols = [QuicMoqTransport.Alpn] },
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        for (int round = 0; round < rounds; round++)
        {
            var accept = listener.AcceptConnectionAsync(timeout.Token).AsTask();
            var clientConnection = await QuicConnection.ConnectAsync(new QuicClientConnectionOptions
            {
                RemoteEndPoint = listener.LocalEndPoint,
                ApplicationProtocols = [QuicMoqTransport.Alpn],
                SkipCertificateValidation = true,
            }, timeout.Token);
            var serverConnection = await accept;
            // The server publishes; the client subscribes.
            var published = new TaskCompletionSource<MoqTrackPublication>(TaskCreationOptions.RunContinuationsAsynchronously);
            var handler = new DelegateHandler { Subscribe = async r => published.SetResult(await r.AcceptAsync()) };
            var serverSession = MoqSession.AcceptAsync(new QuicMoqTransport(serverConnection), new MoqSessionOptions { Handler = handler });
            var client = await MoqSession.ConnectAsync(new QuicMoqTransport(clientConnection), cancellationToken: timeout.Token);
            var server = await serverSession.WaitAsync(timeout.Token);
            var subscription = await client.SubscribeAsync(Track, cancellationToken: timeout.Token);
            var publication = await published.Task.WaitAsync(timeout.Token);

            var streams = new List<MoqSubgroupStream>();
            for (ulong g = 0; g < groups; g++)
            {
                var stream = await publication.OpenSubgroupAsync(g);
                for (ulong o = 0; o < objectsPer; o++) await stream.WriteObjectAsync(o, Payload(g, o, bytes));
                await stream.CompleteAsync();
                streams.Add(stream);
            }
            await publication.FinishAsync();
            await Task.WhenAll(streams.Select(s => s.Delivered).Append(publication.Delivered)).WaitAsync(timeout.Token);
            await server.CloseAsync(); // NO_ERROR, right after the acknowledgements

            int objects = 0;
            var finished = new HashSet<ulong>();
            await foreach (var e in subscription.Events.ReadAllAsync(timeout.Token))
            {
                if (e.Object is { } o)
                {
                    Assert.True(o.Payload.Span.SequenceEqual(Payload(o.GroupId, o.ObjectId, bytes)), $"round {round}: payload of {o.GroupId}/{o.ObjectId}");
                    objects++;
                }
                else
                {
                    Assert.Equal(MoqSubscriptionEventKind.SubgroupFinished, e.Kind);
                    finished.Add(e.GroupId);
                }
            }
            Assert.True(groups * objectsPer == objects, $"round {round}: {objects} of {groups * objectsPer} objects");
            Assert.Equal(groups, finished.Count);
            Assert.Equal((ulong)MoqPublishDoneCode.TrackEnded, (await subscription.Done.WaitAsync(timeout.Token))!.StatusCode);
            Assert.Equal(MoqSessionError.NoError, (await client.Terminated.WaitAsync(timeout.Token)).Code);
            await clientConnection.DisposeAsync();
            await serverConnection.DisposeAsync();
        }
    }
}
