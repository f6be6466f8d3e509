using System.Threading.Channels;
using FastRelay.Protocols.Moq.Clients;

namespace FastRelay.Tests.Moq.Clients;

/// <summary>
/// A stand-in for a relay, for testing the publisher and subscriber tools without a network: every object a publisher
/// writes is copied to each subscription of the same track that exists at that moment, stamped with its receive time.
/// <see cref="Tamper"/> lets a test damage, drop or repeat objects on their way.
/// </summary>
internal sealed class InMemoryMoqConnector(TimeProvider? time = null) : IMoqClientConnector
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Lock _lock = new();
    private readonly List<(string Track, Channel<ReceivedObject> Channel)> _subscriptions = [];

    /// <summary>Called on every delivery: return the objects to deliver instead (none: drop; two: duplicate).</summary>
    public Func<ReceivedObject, IEnumerable<ReceivedObject>>? Tamper { get; set; }

    public int SubscriptionCount { get { lock (_lock) return _subscriptions.Count; } }

    public Task<IMoqTrackPublisher> PublishAsync(MoqClientEndpoint endpoint, MoqTrackName track, CancellationToken cancellationToken) =>
        Task.FromResult<IMoqTrackPublisher>(new Publisher(this, track.ToString()));

    public Task<IMoqTrackSubscription> SubscribeAsync(MoqClientEndpoint endpoint, MoqTrackName track, MoqSubscribeOptions options, CancellationToken cancellationToken)
    {
        var channel = Channel.CreateUnbounded<ReceivedObject>();
        lock (_lock) _subscriptions.Add((track.ToString(), channel));
        return Task.FromResult<IMoqTrackSubscription>(new Subscription(channel));
    }

    /// <summary>Ends every subscription of the track, as PUBLISH_DONE would.</summary>
    public void EndTrack(string track)
    {
        lock (_lock)
            foreach (var s in _subscriptions.Where(s => s.Track == track)) s.Channel.Writer.TryComplete();
    }

    private void Deliver(string track, ReceivedObject sent)
    {
        lock (_lock)
            foreach (var s in _subscriptions.Where(s => s.Track == track))
            {
                var copy = sent with { Payload = sent.Payload.ToArray(), ReceivedAtMicroseconds = RealtimeClock.NowMicroseconds(_time) };
                foreach (var delivered in Tamper?.Invoke(copy) ?? [copy])
                    s.Channel.Writer.TryWrite(delivered);
            }
    }

    private sealed class Publisher(InMemoryMoqConnector owner, string track) : IMoqTrackPublisher
    {
        private readonly TaskCompletionSource _closed = new();
        public Task Closed => _closed.Task;

        public ValueTask<IMoqSubgroupWriter> OpenSubgroupAsync(ulong groupId, ulong subgroupId, byte publisherPriority, CancellationToken cancellationToken) =>
            ValueTask.FromResult<IMoqSubgroupWriter>(new Writer(owner, track, groupId, subgroupId, publisherPriority));

        public ValueTask DisposeAsync()
        {
            _closed.TrySetResult();
            return ValueTask.CompletedTask;
        }
    }

    private sealed class Writer(InMemoryMoqConnector owner, string track, ulong group, ulong subgroup, byte priority) : IMoqSubgroupWriter
    {
        public bool Completed { get; private set; }

        public ValueTask WriteObjectAsync(ulong objectId, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
        {
            if (Completed) throw new InvalidOperationException("subgroup already completed");
            owner.Deliver(track, new ReceivedObject(group, subgroup, objectId, priority, payload, 0));
            return ValueTask.CompletedTask;
        }

        public ValueTask CompleteAsync(CancellationToken cancellationToken)
        {
            Completed = true;
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class Subscription(Channel<ReceivedObject> channel) : IMoqTrackSubscription
    {
        public string? EndReason => channel.Reader.Completion.IsCompleted ? "publisher ended the track" : null;

        public IAsyncEnumerable<ReceivedObject> ReadObjectsAsync(CancellationToken cancellationToken) => channel.Reader.ReadAllAsync(cancellationToken);

        public ValueTask DisposeAsync()
        {
            channel.Writer.TryComplete();
            return ValueTask.CompletedTask;
        }
    }
}
