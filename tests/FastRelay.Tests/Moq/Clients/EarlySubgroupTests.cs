using FastRelay.Protocols.Moq.Clients;
using Xunit;

namespace FastRelay.Tests.Moq.Clients;

/// <summary>
/// A fast-path publisher opens the next group's subgroup when this group's closes (header only), so a relay's kernel
/// fast path has mapped the stream before the key object's burst arrives. Recorded on a publisher stand-in: the order
/// of opens, writes and completes the tool makes.
/// </summary>
public sealed class EarlySubgroupTests
{
    private static readonly SyntheticTrack Track = new(new SyntheticTrackOptions
    {
        FramesPerSecond = 2000, GopFrames = 4, BitrateBitsPerSecond = 4_000_000, Layout = SubgroupLayout.PerLayer, Layers = 2,
    });

    [Fact]
    public async Task Each_subgroup_of_the_next_group_is_open_before_its_first_object_and_every_object_lands_in_its_own_subgroup()
    {
        var recorder = new RecordingPublisher(early: true);
        var report = await SyntheticPublisher.RunAsync(recorder, Track, new PublishLimits(Count: 12), "moqt://x", "t", TimeProvider.System, default);
        Assert.Null(report.StoppedBecause);

        // 12 objects, GOP 4: groups 0..2, two layers (key subgroup 0, deltas subgroup 1).
        foreach (var group in new ulong[] { 1, 2 })
            foreach (var subgroup in new ulong[] { 0, 1 })
            {
                var opened = recorder.Events.IndexOf($"open {group}/{subgroup}");
                var firstWrite = recorder.Events.FindIndex(e => e.StartsWith($"write {group}/{subgroup}/", StringComparison.Ordinal));
                var previousClosed = recorder.Events.IndexOf($"complete {group - 1}/{subgroup}");
                Assert.True(opened >= 0 && firstWrite > opened, string.Join(", ", recorder.Events));
                // Opened right when the same subgroup of the previous group completed, not when its first object came.
                Assert.Equal(previousClosed + 1, opened);
            }
        // The first group's subgroups were opened before the first object was written.
        var firstWriteOfAll = recorder.Events.FindIndex(e => e.StartsWith("write ", StringComparison.Ordinal));
        Assert.InRange(recorder.Events.IndexOf("open 0/0"), 0, firstWriteOfAll - 1);
        Assert.InRange(recorder.Events.IndexOf("open 0/1"), 0, firstWriteOfAll - 1);
        // Each object went to the writer of its own group and subgroup, and each writer was opened once.
        Assert.Equal(12, recorder.Events.Count(e => e.StartsWith("write ", StringComparison.Ordinal)));
        Assert.All(recorder.Writers, w => Assert.All(w.Objects, o => Assert.Equal((w.Group, w.Subgroup), (o.Group, o.Subgroup))));
        Assert.Equal(recorder.Writers.Count, recorder.Writers.Select(w => (w.Group, w.Subgroup)).Distinct().Count());
        // The early subgroups of group 3 were never used: completed empty at the end, nothing left open.
        Assert.All(recorder.Writers.Where(w => w.Group == 3), w => Assert.Empty(w.Objects));
        Assert.All(recorder.Writers, w => Assert.True(w.Completed, $"{w.Group}/{w.Subgroup} left open"));
        Assert.Equal(recorder.Writers.Count, report.SubgroupsOpened);
    }

    [Fact]
    public async Task Without_the_fast_path_a_subgroup_opens_with_its_first_object()
    {
        var recorder = new RecordingPublisher(early: false);
        await SyntheticPublisher.RunAsync(recorder, Track, new PublishLimits(Count: 12), "moqt://x", "t", TimeProvider.System, default);
        Assert.All(recorder.Writers, w => Assert.NotEmpty(w.Objects));
        foreach (var w in recorder.Writers)
            Assert.Equal(recorder.Events.IndexOf($"open {w.Group}/{w.Subgroup}") + 1,
                recorder.Events.FindIndex(e => e.StartsWith($"write {w.Group}/{w.Subgroup}/", StringComparison.Ordinal)));
    }

    private sealed class RecordingPublisher(bool early) : IMoqTrackPublisher
    {
        public List<string> Events { get; } = [];
        public List<RecordingWriter> Writers { get; } = [];
        public bool OpensSubgroupsEarly => early;
        public Task Closed => Task.CompletedTask;

        public ValueTask<IMoqSubgroupWriter> OpenSubgroupAsync(ulong groupId, ulong subgroupId, byte publisherPriority, CancellationToken cancellationToken)
        {
            Events.Add($"open {groupId}/{subgroupId}");
            var writer = new RecordingWriter(this, groupId, subgroupId);
            Writers.Add(writer);
            return ValueTask.FromResult<IMoqSubgroupWriter>(writer);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class RecordingWriter(RecordingPublisher owner, ulong group, ulong subgroup) : IMoqSubgroupWriter
    {
        public ulong Group => group;
        public ulong Subgroup => subgroup;
        public List<(ulong Group, ulong Subgroup)> Objects { get; } = [];
        public bool Completed { get; private set; }

        public ValueTask WriteObjectAsync(ulong objectId, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
        {
            if (Completed) throw new InvalidOperationException("write after complete");
            Assert.True(ObjectPayloadHeader.TryReadUnverified(payload.Span, out var header));
            Objects.Add((header.GroupId, subgroup));
            Assert.Equal(group, header.GroupId);
            owner.Events.Add($"write {group}/{subgroup}/{objectId}");
            return ValueTask.CompletedTask;
        }

        public ValueTask CompleteAsync(CancellationToken cancellationToken)
        {
            Completed = true;
            owner.Events.Add($"complete {group}/{subgroup}");
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
