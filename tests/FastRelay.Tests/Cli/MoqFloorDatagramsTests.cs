using FastRelay.Cli.Bench.Moq;
using FastRelay.Cli.Bench.Moq.Floor;
using FastRelay.Protocols.Moq.Clients;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using Xunit;

namespace FastRelay.Tests.Cli;

/// <summary>How the moq bench's kernel floor cuts objects into datagrams (the fast-path packets our publisher sends)
/// and reads its own header back, hostile input included.</summary>
public sealed class MoqFloorDatagramsTests
{
    [Fact]
    public void The_fixed_header_is_the_fast_path_layouts_and_datagrams_fill_the_connections_datagram_size()
    {
        // QuicMoqHeader: payload (stream data) at offset 30.
        Assert.Equal(30, FloorDatagrams.PacketHeaderBytes);
        Assert.Equal([FloorDatagrams.MaxDatagramBytes], FloorDatagrams.Cut(FloorDatagrams.MaxStreamBytesPerDatagram));
        Assert.Equal([FloorDatagrams.MaxDatagramBytes, 31], FloorDatagrams.Cut(FloorDatagrams.MaxStreamBytesPerDatagram + 1));
        Assert.Equal([130], FloorDatagrams.Cut(100));
        var sizes = FloorDatagrams.Cut(10_000);
        Assert.Equal(8, sizes.Length);
        Assert.Equal(10_000, sizes.Sum(s => s - FloorDatagrams.PacketHeaderBytes));
        Assert.Throws<ArgumentOutOfRangeException>(() => FloorDatagrams.Cut(0));
    }

    [Fact]
    public void Each_object_carries_the_stream_bytes_our_subgroup_writer_produces_for_it()
    {
        var track = new SyntheticTrack(MoqBenchRunner.TrackOptions(new MoqBenchOptions()));
        var planned = track.Objects().Take(120).ToList();
        var floor = FloorDatagrams.Plan(track).Take(120).ToList();
        // The real writer per subgroup stream (a new stream, and writer, where a subgroup opens).
        var writers = new Dictionary<ulong, MoqSubgroupObjectWriter>();
        for (var i = 0; i < planned.Count; i++)
        {
            var o = planned[i];
            if (o.OpensSubgroup || !writers.ContainsKey(o.SubgroupId))
                writers[o.SubgroupId] = new MoqSubgroupObjectWriter(new MoqSubgroupHeader(1, o.GroupId, MoqSubgroupIdMode.Explicit, o.SubgroupId, o.Priority));
            var w = new MoqWriter();
            writers[o.SubgroupId].Write(w, o.ObjectId, new byte[o.Size]);
            Assert.Equal(o.TrackSequence, floor[i].Sequence);
            Assert.Equal(o.DueMicroseconds, floor[i].DueMicroseconds);
            Assert.Equal(o.Size, floor[i].PayloadBytes);
            Assert.Equal(w.Length, floor[i].DatagramBytes.Sum(d => d - FloorDatagrams.PacketHeaderBytes));
            Assert.All(floor[i].DatagramBytes, d => Assert.InRange(d, FloorDatagrams.PacketHeaderBytes + 1, FloorDatagrams.MaxDatagramBytes));
        }
        // The default track (2 Mbit/s, 100 objects/s, key objects 4× a delta): deltas take 2 datagrams, key objects 7.
        Assert.Equal(7, floor[0].DatagramBytes.Length);
        Assert.Equal(2, floor[1].DatagramBytes.Length);
    }

    [Fact]
    public void The_header_round_trips_and_anything_else_is_refused()
    {
        var datagram = new byte[FloorDatagrams.MaxDatagramBytes];
        var header = new FloorDatagramHeader(ObjectSequence: 1UL << 40 | 7, Index: 2, Count: 3, SendTicks: 123_456_789_012);
        FloorDatagrams.WriteHeader(datagram, header);
        Assert.True(FloorDatagrams.TryReadHeader(datagram, out var read));
        Assert.Equal(header, read);
        Assert.True(FloorDatagrams.TryReadHeader(datagram.AsSpan(0, FloorDatagrams.FloorHeaderBytes), out _));

        Assert.False(FloorDatagrams.TryReadHeader(datagram.AsSpan(0, FloorDatagrams.FloorHeaderBytes - 1), out _));
        Assert.False(FloorDatagrams.TryReadHeader([], out _));
        var otherMagic = (byte[])datagram.Clone();
        otherMagic[0] ^= 1;
        Assert.False(FloorDatagrams.TryReadHeader(otherMagic, out _));
        foreach (var (index, count) in new[] { (3, 3), (0, 0), (5, 2), (0, FloorDatagrams.MaxDatagramsPerObject + 1) })
        {
            FloorDatagrams.WriteHeader(datagram, header with { Index = index, Count = count });
            Assert.False(FloorDatagrams.TryReadHeader(datagram, out _), $"index {index} of {count}");
        }
    }
}
