using FastRelay.Protocols.Moq.Clients;
using Xunit;

namespace FastRelay.Tests.Moq.Clients;

/// <summary>The tools on the real MoQ session over loopback QUIC, through <see cref="LoopbackForwarder"/>.</summary>
[Collection(MoqTimingCollection.Name)]
public sealed class SessionClientsTests
{
    private static readonly MoqTrackName Track = MoqTrackName.FromText("live/cam1", "video");

    private static MoqClientEndpoint Endpoint(LoopbackForwarder server, string? token = null) =>
        new() { Url = MoqUrl.Parse(server.Url), Insecure = true, AuthToken = token, HandshakeTimeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task Two_subscribers_receive_every_object_intact_over_quic()
    {
        await using var server = await LoopbackForwarder.StartAsync();
        var connector = new MoqSessionConnector();
        await using var publisher = await connector.PublishAsync(Endpoint(server), Track, default);
        var subscriptions = new[]
        {
            await connector.SubscribeAsync(Endpoint(server), Track, new MoqSubscribeOptions(), default),
            await connector.SubscribeAsync(Endpoint(server), Track, new MoqSubscribeOptions(), default),
        };
        var readers = subscriptions.Select(s => TrackSubscriber.RunAsync(s, new SubscribeLimits(TimeSpan.FromSeconds(30), ExpectObjects: 120),
            server.Url, Track.ToString(), "latest", TimeProvider.System, default)).ToList();

        var track = new SyntheticTrack(new SyntheticTrackOptions { FramesPerSecond = 200, GopFrames = 20, Layers = 3, BitrateBitsPerSecond = 4_000_000 });
        var sent = await SyntheticPublisher.RunAsync(publisher, track, new PublishLimits(Count: 120), server.Url, Track.ToString(), TimeProvider.System, default);
        var reports = await Task.WhenAll(readers);
        foreach (var s in subscriptions) await s.DisposeAsync();

        Assert.Null(sent.StoppedBecause);
        Assert.Equal(2, server.SubscribesAccepted);
        Assert.All(reports, r =>
        {
            Assert.True(r.Verified == 120, r.ToSummary());
            Assert.Equal((0L, 0L, 0L), (r.IntegrityFailures, r.MissingObjects, r.Duplicates));
            Assert.Equal(120, r.Latency.Count);
        });
    }

    [Fact]
    public async Task A_wrong_token_is_refused_with_the_drafts_error_and_the_right_one_is_accepted()
    {
        await using var server = await LoopbackForwarder.StartAsync(requiredToken: "s3cret");
        var connector = new MoqSessionConnector();

        var refused = await Assert.ThrowsAsync<MoqClientException>(() => connector.PublishAsync(Endpoint(server, "wrong"), Track, default));
        Assert.Contains("Unauthorized", refused.Message);
        await using var publisher = await connector.PublishAsync(Endpoint(server, "s3cret"), Track, default);
        var refusedSubscribe = await Assert.ThrowsAsync<MoqClientException>(() => connector.SubscribeAsync(Endpoint(server), Track, new MoqSubscribeOptions(), default));
        Assert.Contains("SUBSCRIBE to live/cam1 video refused: Unauthorized", refusedSubscribe.Message);
        await using var subscription = await connector.SubscribeAsync(Endpoint(server, "s3cret"), Track, new MoqSubscribeOptions(), default);
        Assert.Equal(2, server.Refused);
    }

    /// <summary>
    /// <see cref="ReceivedObject.ReceivedAtMicroseconds"/> is when the session had the whole object, not when the
    /// application got round to reading it: a reader that looks 1.5 s late still sees the arrival times. (It was the
    /// read time, which put every queue hand-off of the application into the measured latency.)
    /// </summary>
    [Fact]
    public async Task An_objects_receive_time_is_when_the_session_had_it_not_when_the_reader_asked()
    {
        await using var server = await LoopbackForwarder.StartAsync();
        var connector = new MoqSessionConnector();
        await using var publisher = await connector.PublishAsync(Endpoint(server), Track, default);
        await using var subscription = await connector.SubscribeAsync(Endpoint(server), Track, new MoqSubscribeOptions(), default);
        var track = new SyntheticTrack(new SyntheticTrackOptions { FramesPerSecond = 200, GopFrames = 20, BitrateBitsPerSecond = 1_000_000 });
        var sent = await SyntheticPublisher.RunAsync(publisher, track, new PublishLimits(Count: 5), server.Url, Track.ToString(), TimeProvider.System, default);
        Assert.Null(sent.StoppedBecause);

        await Task.Delay(TimeSpan.FromSeconds(1.5)); // nobody reads: the objects wait in the session's queue
        var readAt = RealtimeClock.NowMicroseconds(TimeProvider.System);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var received = new List<(long SentAt, long ReceivedAt)>();
        await foreach (var o in subscription.ReadObjectsAsync(timeout.Token))
        {
            Assert.True(ObjectPayloadHeader.TryReadUnverified(o.Payload.Span, out var header));
            received.Add((header.SendTimeMicroseconds, o.ReceivedAtMicroseconds));
            if (received.Count == 5) break;
        }
        // Each arrival is after its send and well before the late read (loopback delivers in far less than 0.5 s).
        Assert.All(received, r => Assert.InRange(r.ReceivedAt, r.SentAt, readAt - 1_000_000));
    }

    [Fact]
    public async Task Nothing_listening_is_a_clear_connection_error()
    {
        var connector = new MoqSessionConnector();
        var endpoint = new MoqClientEndpoint { Url = MoqUrl.Parse("moqt://127.0.0.1:9/"), Insecure = true, HandshakeTimeout = TimeSpan.FromSeconds(1) };
        var e = await Assert.ThrowsAsync<MoqClientException>(() => connector.SubscribeAsync(endpoint, Track, new MoqSubscribeOptions(), default));
        Assert.Contains("moqt://127.0.0.1:9/", e.Message);
    }
}
