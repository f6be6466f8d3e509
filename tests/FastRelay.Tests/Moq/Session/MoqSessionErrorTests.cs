using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using FastRelay.Protocols.Moq.Wire.Messages;
using Xunit;

namespace FastRelay.Tests.Moq.Session;

public class MoqSessionErrorTests
{
    private static readonly MoqFullTrackName Track = new(MoqTrackNamespace.FromStrings("t"), "x");

    private static DelegateHandler AcceptAll() => new() { Subscribe = r => r.AcceptAsync() };

    [Fact]
    public async Task WrongParityRequestIdClosesWithInvalidRequestId()
    {
        var (server, client) = await RawPeer.StartAgainstServerAsync(AcceptAll());
        await client.OpenRequestAsync(new MoqSubscribe(1, Track, new MoqMessageParameters())); // a client must use even IDs
        Assert.Equal((ulong)MoqSessionError.InvalidRequestId, await client.ClosedWithAsync());
        Assert.Equal(MoqSessionError.InvalidRequestId, (await server.Terminated.WaitAsync(MoqSessionPair.Timeout)).Code);
    }

    [Fact]
    public async Task DuplicateRequestIdClosesWithInvalidRequestId()
    {
        var (_, client) = await RawPeer.StartAgainstServerAsync(AcceptAll());
        var first = await client.OpenRequestAsync(new MoqSubscribe(0, Track, new MoqMessageParameters()));
        Assert.IsType<MoqSubscribeOk>(await RawPeer.ReadMessageAsync(first));
        await client.OpenRequestAsync(new MoqTrackStatus(0, Track, new MoqMessageParameters()));
        Assert.Equal((ulong)MoqSessionError.InvalidRequestId, await client.ClosedWithAsync());
    }

    [Fact]
    public async Task OutOfOrderRequestIdsAreFine()
    {
        var (server, client) = await RawPeer.StartAgainstServerAsync(AcceptAll());
        var s4 = await client.OpenRequestAsync(new MoqSubscribe(4, Track, new MoqMessageParameters()));
        Assert.IsType<MoqSubscribeOk>(await RawPeer.ReadMessageAsync(s4));
        var s0 = await client.OpenRequestAsync(new MoqSubscribe(0, Track, new MoqMessageParameters()));
        Assert.IsType<MoqSubscribeOk>(await RawPeer.ReadMessageAsync(s0));
        Assert.False(server.Terminated.IsCompleted);
    }

    [Fact]
    public async Task UnknownControlMessageTypeIsProtocolViolationAtThePeer()
    {
        var (_, client) = await RawPeer.StartAgainstServerAsync();
        await client.Control.WriteAsync(new byte[] { 0x3F, 0x00, 0x00 }); // type 0x3F is not a message
        Assert.Equal((ulong)MoqSessionError.ProtocolViolation, await client.ClosedWithAsync());
    }

    [Fact]
    public async Task MalformedBodyOnTheControlStreamIsProtocolViolation()
    {
        var (_, client) = await RawPeer.StartAgainstServerAsync();
        // GOAWAY whose length claims one byte more than its body has.
        var bytes = new MoqGoAway("", 0).Encode();
        bytes[2]++;
        await client.Control.WriteAsync(bytes.Concat(new byte[] { 0xAA }).ToArray());
        Assert.Equal((ulong)MoqSessionError.ProtocolViolation, await client.ClosedWithAsync());
    }

    [Fact]
    public async Task RequestMessageOnTheControlStreamIsProtocolViolation()
    {
        var (_, client) = await RawPeer.StartAgainstServerAsync(AcceptAll());
        await client.Control.WriteAsync(new MoqSubscribe(0, Track, new MoqMessageParameters()).Encode());
        Assert.Equal((ulong)MoqSessionError.ProtocolViolation, await client.ClosedWithAsync());
    }

    [Fact]
    public async Task BidirectionalStreamMustStartWithARequest()
    {
        var (_, client) = await RawPeer.StartAgainstServerAsync();
        await client.OpenRequestAsync(new MoqRequestOk());
        Assert.Equal((ulong)MoqSessionError.ProtocolViolation, await client.ClosedWithAsync());
    }

    [Fact]
    public async Task ClosingTheControlStreamIsProtocolViolation()
    {
        var (_, client) = await RawPeer.StartAgainstServerAsync();
        client.Control.CompleteWrites();
        Assert.Equal((ulong)MoqSessionError.ProtocolViolation, await client.ClosedWithAsync());
    }

    [Fact]
    public async Task UnknownStreamTypeIsProtocolViolation()
    {
        var (_, client) = await RawPeer.StartAgainstServerAsync();
        var stream = await client.Transport.OpenStreamAsync(false);
        await stream.WriteAsync(new byte[] { 0x06, 0, 0 });
        Assert.Equal((ulong)MoqSessionError.ProtocolViolation, await client.ClosedWithAsync());
    }

    [Fact]
    public async Task ServerPathInSetupIsInvalidPath()
    {
        var (ct, st) = MemoryMoqTransport.CreatePair();
        var connect = MoqSession.ConnectAsync(ct, new MoqSessionOptions());
        var control = await st.OpenStreamAsync(false);
        await control.WriteAsync(new MoqSetup(new MoqSetupOptions { Path = "/nope" }).Encode());
        await Assert.ThrowsAsync<MoqSessionClosedException>(() => connect.WaitAsync(MoqSessionPair.Timeout));
        await st.Closed.WaitAsync(MoqSessionPair.Timeout);
        Assert.Equal((ulong)MoqSessionError.InvalidPath, st.CloseErrorCode);
    }

    [Fact]
    public async Task GoAwayIsHonouredBothWays()
    {
        var (server, client) = await RawPeer.StartAgainstServerAsync(AcceptAll());
        await server.GoAwayAsync("moqt://elsewhere.example/live", 3000);
        // The raw client's control stream: find the server's (it opened one uni stream) and read SETUP then GOAWAY.
        var serverControl = await client.Transport.AcceptStreamAsync();
        Assert.IsType<MoqSetup>(await RawPeer.ReadMessageAsync(serverControl));
        // New requests after our GOAWAY are refused with GOING_AWAY.
        var request = await client.OpenRequestAsync(new MoqSubscribe(0, Track, new MoqMessageParameters()));
        var error = Assert.IsType<MoqRequestError>(await RawPeer.ReadMessageAsync(request));
        Assert.Equal((ulong)MoqRequestErrorCode.GoingAway, error.ErrorCode);
        await Assert.ThrowsAsync<InvalidOperationException>(() => server.GoAwayAsync()); // only once
    }

    [Fact]
    public async Task ReceivedGoAwayStopsNewRequests()
    {
        await using var pair = await MoqSessionPair.StartAsync(AcceptAll());
        await pair.Server.GoAwayAsync("moqt://next.example", 100);
        var goAway = await pair.Client.GoAwayReceived.WaitAsync(MoqSessionPair.Timeout);
        Assert.Equal("moqt://next.example", goAway.NewSessionUri);
        Assert.Equal(100UL, goAway.TimeoutMs);
        await Assert.ThrowsAsync<InvalidOperationException>(() => pair.Client.SubscribeAsync(Track));
    }

    [Fact]
    public async Task SecondGoAwayOnTheControlStreamIsProtocolViolation()
    {
        var (_, client) = await RawPeer.StartAgainstServerAsync();
        await client.Control.WriteAsync(new MoqGoAway("", 0).Encode());
        await client.Control.WriteAsync(new MoqGoAway("", 0).Encode());
        Assert.Equal((ulong)MoqSessionError.ProtocolViolation, await client.ClosedWithAsync());
    }

    [Fact]
    public async Task ClientGoAwayWithAUriIsProtocolViolation()
    {
        var (_, client) = await RawPeer.StartAgainstServerAsync();
        await client.Control.WriteAsync(new MoqGoAway("moqt://x", 0).Encode());
        Assert.Equal((ulong)MoqSessionError.ProtocolViolation, await client.ClosedWithAsync());
    }

    [Fact]
    public async Task TooManyOpenRequestsAreRefusedWithExcessiveLoad()
    {
        var release = new TaskCompletionSource();
        var handler = new DelegateHandler { Subscribe = async r => { await release.Task; await r.AcceptAsync(); } };
        var (_, client) = await RawPeer.StartAgainstServerAsync(handler, o => o with { MaxInboundRequests = 1 });
        var first = await client.OpenRequestAsync(new MoqSubscribe(0, Track, new MoqMessageParameters()));
        await Task.Delay(100); // the first is now held by the handler
        var second = await client.OpenRequestAsync(new MoqSubscribe(2, Track, new MoqMessageParameters()));
        var error = Assert.IsType<MoqRequestError>(await RawPeer.ReadMessageAsync(second));
        Assert.Equal((ulong)MoqRequestErrorCode.ExcessiveLoad, error.ErrorCode);
        release.SetResult();
        Assert.IsType<MoqSubscribeOk>(await RawPeer.ReadMessageAsync(first));
    }

    [Fact]
    public async Task AnObjectOverThePayloadLimitIsRefusedWithoutClosingTheSession()
    {
        var published = new TaskCompletionSource<Protocols.Moq.Publisher.MoqTrackPublication>();
        await using var pair = await MoqSessionPair.StartAsync(new DelegateHandler { Subscribe = async r => published.SetResult(await r.AcceptAsync()) },
            client: o => o with { DataLimits = new MoqDataLimits { MaxObjectPayload = 1000 } });
        var subscription = await pair.Client.SubscribeAsync(Track);
        var publication = await published.Task;
        var big = await publication.OpenSubgroupAsync(0);
        var write = big.WriteObjectAsync(0, new byte[1001]); // may block on flow control once refused; not awaited
        var small = await publication.OpenSubgroupAsync(1);
        await small.WriteObjectAsync(0, new byte[10]);
        await small.CompleteAsync();
        var obj = await subscription.Objects.ReadAsync().AsTask().WaitAsync(MoqSessionPair.Timeout);
        Assert.Equal(1UL, obj.GroupId);
        Assert.False(pair.Client.Terminated.IsCompleted);
    }

    [Fact]
    public async Task TheSessionWideBufferBudgetRefusesAStreamButNotTheSession()
    {
        var published = new TaskCompletionSource<Protocols.Moq.Publisher.MoqTrackPublication>();
        await using var pair = await MoqSessionPair.StartAsync(new DelegateHandler { Subscribe = async r => published.SetResult(await r.AcceptAsync()) },
            client: o => o with { MaxBufferedBytes = 100_000 });
        var subscription = await pair.Client.SubscribeAsync(Track);
        var publication = await published.Task;
        var big = await publication.OpenSubgroupAsync(0);
        _ = big.WriteObjectAsync(0, new byte[300_000]); // within the object limit, over the session budget
        await Task.Delay(200);
        var small = await publication.OpenSubgroupAsync(1);
        await small.WriteObjectAsync(0, new byte[10]);
        await small.CompleteAsync();
        var obj = await subscription.Objects.ReadAsync().AsTask().WaitAsync(MoqSessionPair.Timeout);
        Assert.Equal(1UL, obj.GroupId);
        Assert.False(pair.Client.Terminated.IsCompleted);
    }

    [Fact]
    public async Task MalformedObjectClosesTheSessionWithProtocolViolation()
    {
        var published = new TaskCompletionSource<Protocols.Moq.Publisher.MoqTrackPublication>();
        await using var pair = await MoqSessionPair.StartAsync(new DelegateHandler { Subscribe = async r => published.SetResult(await r.AcceptAsync()) });
        var subscription = await pair.Client.SubscribeAsync(Track);
        var publication = await published.Task;
        var raw = await pair.ServerTransport.OpenStreamAsync(false);
        var w = new MoqWriter();
        new MoqSubgroupHeader(publication.TrackAlias, 0, MoqSubgroupIdMode.Zero, 0, 0).Write(w);
        w.WriteVarint(0); w.WriteVarint(0); w.WriteVarint(9); // status 9 is not defined
        await raw.WriteAsync(w.ToArray());
        var error = await pair.Client.Terminated.WaitAsync(MoqSessionPair.Timeout);
        Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);
        await pair.ServerTransport.Closed.WaitAsync(MoqSessionPair.Timeout); // the close reaches the peer just after
        Assert.Equal((ulong)MoqSessionError.ProtocolViolation, pair.ServerTransport.CloseErrorCode);
    }

    [Fact]
    public async Task CloseSendsTheCodeToThePeer()
    {
        await using var pair = await MoqSessionPair.StartAsync();
        await pair.Client.CloseAsync(MoqSessionError.Unauthorized, "bye");
        var error = await pair.Server.Terminated.WaitAsync(MoqSessionPair.Timeout);
        Assert.Equal(MoqSessionError.Unauthorized, error.Code);
    }
}

public class MoqSessionFlowTests
{
    private static readonly MoqFullTrackName Track = new(MoqTrackNamespace.FromStrings("t"), "x");

    [Fact]
    public async Task RequestsArrivingBeforeSetupWaitForIt()
    {
        var (ct, st) = MemoryMoqTransport.CreatePair();
        var accept = MoqSession.AcceptAsync(st, new MoqSessionOptions { Handler = new DelegateHandler { Subscribe = r => r.AcceptAsync() } });
        // The request stream overtakes the control stream (no SETUP from this peer yet).
        var request = await ct.OpenStreamAsync(true);
        await request.WriteAsync(new MoqSubscribe(0, Track, new MoqMessageParameters()).Encode());
        await Task.Delay(100);
        Assert.False(accept.IsCompleted);
        var control = await ct.OpenStreamAsync(false);
        await control.WriteAsync(new MoqSetup(new MoqSetupOptions()).Encode());
        await accept.WaitAsync(MoqSessionPair.Timeout);
        Assert.IsType<MoqSubscribeOk>(await RawPeer.ReadMessageAsync(request));
    }

    [Fact]
    public async Task EarlyStreamsBeyondTheLimitAreRefused()
    {
        var (ct, st) = MemoryMoqTransport.CreatePair();
        _ = MoqSession.AcceptAsync(st, new MoqSessionOptions { MaxEarlyStreams = 1 });
        var first = await ct.OpenStreamAsync(true);
        await first.WriteAsync(new MoqTrackStatus(0, Track, new MoqMessageParameters()).Encode());
        await Task.Delay(100);
        var second = await ct.OpenStreamAsync(true);
        await second.WriteAsync(new MoqTrackStatus(2, Track, new MoqMessageParameters()).Encode());
        // The second is reset: reading it fails instead of waiting for an answer.
        await Assert.ThrowsAsync<IOException>(async () => await second.ReadAsync(new byte[16]).AsTask().WaitAsync(MoqSessionPair.Timeout));
    }

    [Fact]
    public async Task SubgroupDeliveryTimeoutResetsAStuckStream()
    {
        var published = new TaskCompletionSource<Protocols.Moq.Publisher.MoqTrackPublication>();
        await using var pair = await MoqSessionPair.StartAsync(new DelegateHandler { Subscribe = async r => published.SetResult(await r.AcceptAsync()) },
            client: o => o with { ObjectQueueLength = 1 });
        await pair.Client.SubscribeAsync(Track, new MoqMessageParameters { SubgroupDeliveryTimeoutMs = 200 }); // and never read
        var publication = await published.Task;
        Assert.Equal(TimeSpan.FromMilliseconds(200), publication.SubgroupDeliveryTimeout);
        var stream = await publication.OpenSubgroupAsync(0);
        await Assert.ThrowsAsync<TimeoutException>(async () =>
        {
            for (ulong i = 0; i < 100; i++) await stream.WriteObjectAsync(i, new byte[64 * 1024]);
        });
    }

    [Fact]
    public async Task UpdatesStillWorkAfterGoAway()
    {
        await using var pair = await MoqSessionPair.StartAsync(new DelegateHandler { Subscribe = r => r.AcceptAsync() });
        var subscription = await pair.Client.SubscribeAsync(Track);
        await pair.Server.GoAwayAsync();
        await pair.Client.GoAwayReceived.WaitAsync(MoqSessionPair.Timeout);
        await subscription.UpdateAsync(new MoqMessageParameters { SubscriberPriority = 5 }).WaitAsync(MoqSessionPair.Timeout);
    }
}
