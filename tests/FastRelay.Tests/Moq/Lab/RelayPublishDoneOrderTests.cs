using FastRelay.Tests.Infrastructure;
using System.Collections.Concurrent;
using FastRelay.Protocols.Moq.Relay;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Tests.Moq.Relay.Fakes;
using Xunit;

namespace FastRelay.Tests.Moq.Lab;

/// <summary>
/// PUBLISH_DONE downstream must come after every subgroup stream that carries the subscriber's objects was opened and
/// ended (its Stream Count counts the streams opened; a subscriber ends once it has seen that many and they ended).
/// In memory: the subscriber's transport opens no stream until the test lets it, as when stream credit is short.
/// </summary>
public sealed class RelayPublishDoneOrderTests
{
    [Fact]
    public async Task Publish_done_waits_for_a_subgroup_that_is_still_queued_unopened_when_the_track_ends()
    {
        var h = new RelayHarness();
        var peer = h.NewSubscriberPeer();
        var port = new GatedOpenPort();
        var outcome = await h.Relay.SubscribeAsync(peer, new SubscribeRequest(RelayHarness.Video), port, default);
        Assert.True(outcome.IsAccepted, outcome.Refusal?.Reason);
        var (_, sink, source) = h.Publisher.Subscribes.Single();

        // Group 0 completely, while the subscriber's stream cannot be opened: the subgroup waits in its send queue.
        RelayHarness.PublishGroups(sink, firstGroup: 0, groups: 1, objectsPerGroup: 5, payloadBytes: 100);
        await port.OpenRequested.Task.WaitAsync(TimeSpan.FromSeconds(10));
        source.End(MoqPublishDoneCode.TrackEnded);
        await Eventually.TrueAsync(() => h.Relay.Snapshot("t", [], null).Tracks.Count == 0, "the track ended at the relay");
        Assert.False(port.Finished.Task.IsCompleted, "PUBLISH_DONE was sent while a subgroup with objects was still queued, unopened");

        port.AllowOpen.TrySetResult();
        var done = await port.Finished.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(MoqPublishDoneCode.TrackEnded, done.Code);
        // What PUBLISH_DONE would have counted and what was sent before it.
        Assert.Equal(1, done.StreamsOpened);
        Assert.Equal(1, done.StreamsEnded);
        Assert.Equal(5, port.Writers.Single().Objects);
    }


    private sealed class GatedOpenPort : IDownstreamTrackPort
    {
        public TaskCompletionSource OpenRequested { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource AllowOpen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource<(MoqPublishDoneCode Code, int StreamsOpened, int StreamsEnded)> Finished { get; } =
            new(TaskCreationOptions.RunContinuationsAsynchronously);
        public ConcurrentQueue<Writer> Writers { get; } = new();

        public async ValueTask<IDownstreamSubgroupWriter> OpenSubgroupAsync(ulong group, ulong subgroup, byte publisherPriority, int sendPriority, bool firstObject, CancellationToken cancellationToken)
        {
            OpenRequested.TrySetResult();
            await AllowOpen.Task.WaitAsync(cancellationToken);
            var writer = new Writer();
            Writers.Enqueue(writer);
            return writer;
        }

        public bool TrySendDatagram(in RelayObject obj) => false;

        public void Finish(MoqPublishDoneCode statusCode, string reason) =>
            Finished.TrySetResult((statusCode, Writers.Count, Writers.Count(w => w.Ended)));

        public sealed class Writer : IDownstreamSubgroupWriter
        {
            private int _objects;
            public int SendPriority { get; set; }
            public int Objects => Volatile.Read(ref _objects);
            public bool Ended { get; private set; }

            public ValueTask WriteAsync(RelayObject obj, CancellationToken cancellationToken)
            {
                Interlocked.Increment(ref _objects);
                return ValueTask.CompletedTask;
            }

            public void Complete() => Ended = true;
            public void Reset(MoqStreamResetCode code) => Ended = true;
        }
    }
}
