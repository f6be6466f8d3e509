using FastRelay.Protocols.Moq.Wire;
using System.Collections.Concurrent;
using System.Net;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Protocols.Moq.Transport;

namespace FastRelay.Tests.Moq.Relay.Fakes;

/// <summary>
/// An in-memory session peer. As a publisher it answers the relay's SUBSCRIBEs (OK by default, or with the refusal
/// <see cref="RefuseWith"/>) and lets the test push objects into the relay through the sink it was given.
/// </summary>
internal sealed class FakePeer : IRelayPeer
{
    private static int s_next;

    public FakePeer(string? name = null)
    {
        Name = name ?? "p" + Interlocked.Increment(ref s_next);
        RemoteEndPoint = new IPEndPoint(IPAddress.Loopback, 40000 + (Interlocked.Increment(ref s_next) % 20000));
    }

    public string Name { get; }
    public MoqTransportKind Kind => MoqTransportKind.Quic;
    public EndPoint RemoteEndPoint { get; }

    /// <summary>Every SUBSCRIBE the relay sent to this peer, in order.</summary>
    public ConcurrentQueue<(UpstreamSubscribeRequest Request, IUpstreamTrackSink Sink, FakeUpstreamSubscription Subscription)> Subscribes { get; } = new();

    public RequestRefusal? RefuseWith { get; set; }
    public MoqLocation? LargestToReport { get; set; }
    public TaskCompletionSource? HoldAnswers { get; set; }

    public async ValueTask<UpstreamSubscribeResult> SubscribeAsync(UpstreamSubscribeRequest request, IUpstreamTrackSink sink, CancellationToken cancellationToken)
    {
        if (HoldAnswers is { } hold) await hold.Task;
        if (RefuseWith is { } refusal)
            return UpstreamSubscribeResult.Error(refusal.Code, refusal.Reason);
        var subscription = new FakeUpstreamSubscription();
        Subscribes.Enqueue((request, sink, subscription));
        return UpstreamSubscribeResult.Ok(subscription, new UpstreamTrackInfo { Largest = LargestToReport });
    }

    public IUpstreamTrackSink SinkFor(MoqFullTrackName track) =>
        Subscribes.Last(s => s.Request.Track.Equals(track)).Sink;

    /// <summary>What the peer answers a FETCH with (all objects of the track it "has"); null: refuses with NOT_SUPPORTED.</summary>
    public List<RelayObject>? FetchableObjects { get; set; }

    public int FetchCount;

    public ValueTask<UpstreamFetchResult> FetchAsync(MoqFullTrackName track, MoqLocation start, MoqLocation end, IReadOnlyList<AuthToken> tokens,
        long maxBytes, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref FetchCount);
        if (FetchableObjects is not { } all)
            return ValueTask.FromResult(new UpstreamFetchResult([], false, new RequestRefusal(MoqRequestErrorCode.NotSupported, "no fetch")));
        var range = all.Where(o => o.Location >= start && o.Location <= end).OrderBy(o => o.Group).ThenBy(o => o.ObjectId).ToList();
        return ValueTask.FromResult(new UpstreamFetchResult(range, true));
    }

    public MoqSessionError? ClosedWith { get; private set; }

    public ValueTask CloseAsync(MoqSessionError code, string reason)
    {
        ClosedWith = code;
        return ValueTask.CompletedTask;
    }
}

internal sealed class FakeUpstreamSubscription : IUpstreamSubscription
{
    private readonly TaskCompletionSource<MoqPublishDoneCode> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int CancelCount;

    public bool IsCancelled => Volatile.Read(ref CancelCount) > 0;

    public void Cancel()
    {
        Interlocked.Increment(ref CancelCount);
        _done.TrySetResult(MoqPublishDoneCode.SubscriptionEnded);
    }

    public Task<MoqPublishDoneCode> Done => _done.Task;

    public void End(MoqPublishDoneCode code) => _done.TrySetResult(code);
}

internal sealed class FakeNamespaceListener : INamespaceListener
{
    public ConcurrentQueue<string> Events { get; } = new();
    public void OnNamespace(MoqTrackNamespace ns) => Events.Enqueue("+" + RelayNames.Format(ns));
    public void OnNamespaceDone(MoqTrackNamespace ns) => Events.Enqueue("-" + RelayNames.Format(ns));
}
