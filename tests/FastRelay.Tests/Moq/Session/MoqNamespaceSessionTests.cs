using FastRelay.Protocols.Moq.Publisher;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Wire;
using Xunit;

namespace FastRelay.Tests.Moq.Session;

public class MoqNamespaceSessionTests
{
    [Fact]
    public async Task SubscribeNamespaceSeesAnnouncementsAndWithdrawals()
    {
        var announcerReady = new TaskCompletionSource<MoqNamespaceAnnouncer>();
        await using var pair = await MoqSessionPair.StartAsync(new DelegateHandler
        {
            SubscribeNamespace = async r => announcerReady.SetResult(await r.AcceptAsync()),
        });
        var prefix = MoqTrackNamespace.FromStrings("example.com");
        var subscription = await pair.Client.SubscribeNamespaceAsync(prefix);
        var announcer = await announcerReady.Task.WaitAsync(MoqSessionPair.Timeout);
        Assert.Equal(prefix, announcer.Prefix);

        var a = MoqTrackNamespace.FromStrings("example.com", "123", "100");
        var b = MoqTrackNamespace.FromStrings("example.com", "123", "200");
        Assert.True(await announcer.AnnounceAsync(a));
        Assert.True(await announcer.AnnounceAsync(b));
        Assert.False(await announcer.AnnounceAsync(a));               // already announced: not sent twice
        Assert.True(await announcer.WithdrawAsync(a));
        Assert.False(await announcer.WithdrawAsync(MoqTrackNamespace.FromStrings("example.com", "x"))); // never announced

        var events = new List<Protocols.Moq.Subscriber.MoqNamespaceEvent>();
        for (int i = 0; i < 3; i++) events.Add(await subscription.Events.ReadAsync().AsTask().WaitAsync(MoqSessionPair.Timeout));
        Assert.Equal(new[] { (a, true), (b, true), (a, false) }, events.Select(e => (e.Namespace, e.Active)));
        Assert.Equal(MoqTrackNamespace.FromStrings("123", "100"), events[0].Suffix);
        Assert.Equal(new[] { b }, subscription.Active);
    }

    [Fact]
    public async Task PublishNamespaceIsAcceptedAndWithdrawn()
    {
        var accepted = new TaskCompletionSource<MoqPeerNamespace>();
        await using var pair = await MoqSessionPair.StartAsync(new DelegateHandler
        {
            PublishNamespace = async r => accepted.SetResult(await r.AcceptAsync()),
        });
        var ns = MoqTrackNamespace.FromStrings("live", "cam");
        var published = await pair.Client.PublishNamespaceAsync(ns);
        var peer = await accepted.Task.WaitAsync(MoqSessionPair.Timeout);
        Assert.Equal(ns, peer.Namespace);
        Assert.False(peer.Withdrawn.IsCompleted);
        await published.DisposeAsync();
        await peer.Withdrawn.WaitAsync(MoqSessionPair.Timeout);
    }

    [Fact]
    public async Task RejectedPublishNamespaceThrows()
    {
        await using var pair = await MoqSessionPair.StartAsync(new DelegateHandler
        {
            PublishNamespace = r => r.RejectAsync(MoqRequestErrorCode.Unauthorized, "no"),
        });
        var e = await Assert.ThrowsAsync<MoqRequestException>(() => pair.Client.PublishNamespaceAsync(MoqTrackNamespace.FromStrings("x")));
        Assert.Equal(MoqRequestErrorCode.Unauthorized, e.Code);
    }
}

public class MoqSubscribeTracksSessionTests
{
    [Fact]
    public async Task SubscribeTracksGetsPublishesAndSkips()
    {
        var prefix = MoqTrackNamespace.FromStrings("live");
        var video = new MoqFullTrackName(MoqTrackNamespace.FromStrings("live", "cam1"), "video");
        var audio = new MoqFullTrackName(MoqTrackNamespace.FromStrings("live", "cam1"), "audio");
        var published = new TaskCompletionSource<Protocols.Moq.Subscriber.MoqSubscription>();
        MoqSessionPair? pairRef = null;
        var serverHandler = new TracksHandler(async request =>
        {
            Assert.Equal(prefix, request.Prefix);
            Assert.Equal(false, request.Parameters.Forward);
            var responder = await request.AcceptAsync();
            await pairRef!.Server.PublishAsync(video, new MoqMessageParameters { Forward = false });
            await responder.SkipAsync(audio);
        });
        await using var pair = await MoqSessionPair.StartAsync(serverHandler, new DelegateHandler
        {
            Publish = async r => published.SetResult(await r.AcceptAsync()),
        });
        pairRef = pair;
        var tracks = await pair.Client.SubscribeTracksAsync(prefix, new MoqMessageParameters { Forward = false });
        var subscription = await published.Task.WaitAsync(MoqSessionPair.Timeout);
        Assert.Equal(video, subscription.Track);
        Assert.Equal(false, subscription.Parameters.Forward);
        Assert.Equal(audio, await tracks.Skipped.ReadAsync().AsTask().WaitAsync(MoqSessionPair.Timeout));
    }

    private sealed class TracksHandler(Func<MoqIncomingSubscribeTracks, Task> onTracks) : IMoqRequestHandler
    {
        Task IMoqRequestHandler.OnSubscribeTracksAsync(MoqIncomingSubscribeTracks request, CancellationToken cancellationToken) => onTracks(request);
    }
}
