using FastRelay.Protocols.Moq.Clients;
using Xunit;

namespace FastRelay.Tests.Moq.Clients;

/// <summary>The synthetic video-like track's shape: group sizes, layers, priorities, stream boundaries and bitrate.</summary>
public sealed class SyntheticTrackTests
{
    [Fact]
    public void Each_group_is_one_key_object_then_smaller_deltas_in_the_key_ratio()
    {
        var track = new SyntheticTrack(new SyntheticTrackOptions { BitrateBitsPerSecond = 3_000_000, FramesPerSecond = 30, GopFrames = 30, KeyFrameRatio = 10 });
        var group = Enumerable.Range(30, 30).Select(n => track.At((ulong)n)).ToList(); // group 1

        Assert.All(group, o => Assert.Equal(1UL, o.GroupId));
        Assert.Equal(Enumerable.Range(0, 30).Select(i => (ulong)i), group.Select(o => o.ObjectId));
        Assert.True(group[0].IsKey);
        Assert.All(group.Skip(1), o => Assert.False(o.IsKey));
        // 3 Mbit/s at 30 fps = 12500 bytes a frame; a GOP of 30 = 375000 bytes over weights 10 + 29 = 39.
        var delta = 375_000 / 39.0;
        Assert.InRange(group[0].Size, 10 * delta - 1, 10 * delta + 1);
        Assert.All(group.Skip(1), o => Assert.InRange(o.Size, delta - 1, delta + 1));
        Assert.Equal(375_000, group.Sum(o => o.Size));
    }

    [Fact]
    public void Bitrate_holds_within_half_a_percent_over_a_simulated_ten_seconds()
    {
        foreach (var (bitrate, fps, gop) in new[] { (2_000_000L, 30.0, 60), (500_000L, 25.0, 50), (10_000_000L, 60.0, 120), (800_000L, 29.97, 7) })
        {
            var track = new SyntheticTrack(new SyntheticTrackOptions { BitrateBitsPerSecond = bitrate, FramesPerSecond = fps, GopFrames = gop, KeyFrameRatio = 6 });
            var inTenSeconds = track.Objects().TakeWhile(o => o.DueMicroseconds < 10_000_000).ToList();
            var bits = inTenSeconds.Sum(o => (long)o.Size) * 8.0;
            Assert.InRange(bits / 10.0, bitrate * 0.995, bitrate * 1.005);
            Assert.InRange(inTenSeconds.Count, (int)(fps * 10) - 1, (int)(fps * 10) + 1);
        }
    }

    [Fact]
    public void Frames_are_due_at_n_over_fps()
    {
        var track = new SyntheticTrack(new SyntheticTrackOptions { FramesPerSecond = 25 });
        Assert.Equal([0L, 40_000, 80_000, 4_000_000], new ulong[] { 0, 1, 2, 100 }.Select(n => track.At(n).DueMicroseconds));
    }

    [Fact]
    public void Per_layer_three_layers_is_a_dyadic_pyramid_with_less_urgent_upper_layers()
    {
        var track = new SyntheticTrack(new SyntheticTrackOptions { GopFrames = 8, Layout = SubgroupLayout.PerLayer, Layers = 3, KeyPriority = 10, LayerPriorityStep = 20 });
        var group = Enumerable.Range(0, 8).Select(n => track.At((ulong)n)).ToList();

        Assert.Equal([0UL, 2, 1, 2, 1, 2, 1, 2], group.Select(o => o.SubgroupId));
        Assert.Equal([(byte)10, 50, 30, 50, 30, 50, 30, 50], group.Select(o => o.Priority));
        // Each subgroup opens on its first object in the group and closes on its last: one stream per layer per group.
        Assert.Equal([true, true, true, false, false, false, false, false], group.Select(o => o.OpensSubgroup));
        Assert.Equal([true, false, false, false, false, false, true, true], group.Select(o => o.ClosesSubgroup));
        // Object ids rise inside every subgroup.
        foreach (var layer in group.GroupBy(o => o.SubgroupId))
            Assert.Equal(layer.Select(o => o.ObjectId).Order(), layer.Select(o => o.ObjectId));
    }

    [Fact]
    public void Per_group_puts_every_object_on_one_stream_with_the_key_priority()
    {
        var track = new SyntheticTrack(new SyntheticTrackOptions { GopFrames = 5, Layout = SubgroupLayout.PerGroup, KeyPriority = 7 });
        var group = Enumerable.Range(5, 5).Select(n => track.At((ulong)n)).ToList();

        Assert.All(group, o => Assert.Equal((0UL, (byte)7), (o.SubgroupId, o.Priority)));
        Assert.Equal([true, false, false, false, false], group.Select(o => o.OpensSubgroup));
        Assert.Equal([false, false, false, false, true], group.Select(o => o.ClosesSubgroup));
    }

    [Fact]
    public void Key_objects_are_more_urgent_than_deltas_by_default()
    {
        var track = new SyntheticTrack(new SyntheticTrackOptions());
        Assert.True(track.At(0).Priority < track.At(1).Priority);
    }

    [Fact]
    public void No_object_is_smaller_than_the_header()
    {
        var track = new SyntheticTrack(new SyntheticTrackOptions { BitrateBitsPerSecond = 1000, FramesPerSecond = 30 });
        Assert.All(Enumerable.Range(0, 100), n => Assert.True(track.At((ulong)n).Size >= ObjectPayloadHeader.Size));
    }

    [Theory]
    [InlineData(0, 30, 60, 8, 2, "--bitrate")]
    [InlineData(1000, 0, 60, 8, 2, "--fps")]
    [InlineData(1000, 30, 0, 8, 2, "--gop")]
    [InlineData(1000, 30, 60, 0.5, 2, "--key-ratio")]
    [InlineData(1000, 30, 60, 8, 9, "--layers")]
    public void Out_of_range_options_name_the_option(long bitrate, double fps, int gop, double ratio, int layers, string option)
    {
        var e = Assert.Throws<ArgumentException>(() => new SyntheticTrack(new SyntheticTrackOptions
        {
            BitrateBitsPerSecond = bitrate, FramesPerSecond = fps, GopFrames = gop, KeyFrameRatio = ratio, Layers = layers,
        }));
        Assert.StartsWith(option, e.Message);
    }
}
