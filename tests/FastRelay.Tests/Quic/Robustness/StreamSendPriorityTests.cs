using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Streams;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;
using Xunit;

namespace FastRelay.Tests.Quic.Robustness;

/// <summary>
/// Send priority (lower first; equal priorities share round robin): a relay puts newer or more important media on
/// more urgent streams, and their bytes must leave before anything queued on less urgent ones.
/// </summary>
[Collection(FastRelay.Tests.Quic.Connection.AllocationMeasurements.Name)] // shares the chunk pool with the allocation checks
public class StreamSendPriorityTests
{
    private static StreamTable Table()
    {
        var settings = new StreamTableSettings
        {
            IsClient = true,
            LocalMaxStreamsBidi = 8,
            LocalMaxStreamsUni = 8,
            LocalInitialMaxData = 1 << 20,
            LocalMaxStreamDataBidiLocal = 1 << 20,
            LocalMaxStreamDataBidiRemote = 1 << 20,
            LocalMaxStreamDataUni = 1 << 20,
            MaxReceiveWindow = 1 << 20,
            MaxConnectionReceiveWindow = 1 << 20,
            SendBufferCapacity = 1 << 20,
        };
        var table = new StreamTable(settings);
        var peer = new TransportParameters();
        settings.ApplyTo(peer);
        table.SetPeerLimits(peer);
        return table;
    }

    /// <summary>Builds 1200-byte packets until nothing is left; returns the stream id of every STREAM frame in order.</summary>
    private static List<ulong> SendAll(StreamTable table)
    {
        var order = new List<ulong>();
        var packet = new byte[1200];
        for (int i = 0; i < 10_000; i++)
        {
            var frames = new List<SentFrame>();
            if (table.WriteFrames(packet, frames) == 0) break;
            foreach (var f in frames) if (f.FrameType == FrameType.Stream) order.Add(f.StreamId);
        }
        return order;
    }

    [Fact]
    public void The_urgent_stream_sends_all_its_bytes_before_a_less_urgent_one_queued_earlier()
    {
        var table = Table();
        Assert.True(table.TryOpenStream(false, out ulong background));
        Assert.True(table.TryOpenStream(false, out ulong urgent));
        table.SetSendPriority(background, 10);
        table.SetSendPriority(urgent, 1);
        var data = new byte[20_000];
        table.Write(background, data, fin: true);   // queued first
        table.Write(urgent, data, fin: true);

        var order = SendAll(table);
        int lastUrgent = order.LastIndexOf(urgent);
        int firstBackground = order.IndexOf(background);
        Assert.True(lastUrgent >= 0 && firstBackground >= 0);
        Assert.True(lastUrgent < firstBackground, $"urgent frames must all come first: {string.Join(",", order)}");
    }

    [Fact]
    public void A_priority_raised_while_data_is_queued_takes_effect()
    {
        var table = Table();
        Assert.True(table.TryOpenStream(false, out ulong first));
        Assert.True(table.TryOpenStream(false, out ulong second));
        var data = new byte[20_000];
        table.Write(first, data, fin: true);
        table.Write(second, data, fin: true);
        table.SetSendPriority(second, -1);           // both queued at the default 0; now the second is more urgent

        var order = SendAll(table);
        Assert.True(order.LastIndexOf(second) < order.IndexOf(first), string.Join(",", order));
    }

    [Fact]
    public void Equal_priorities_still_share_round_robin()
    {
        var table = Table();
        Assert.True(table.TryOpenStream(false, out ulong a));
        Assert.True(table.TryOpenStream(false, out ulong b));
        table.SetSendPriority(a, 3);
        table.SetSendPriority(b, 3);
        var data = new byte[20_000];
        table.Write(a, data, fin: true);
        table.Write(b, data, fin: true);

        var order = SendAll(table);
        // Round robin: the streams alternate, so each one's frames are spread over the whole transfer.
        Assert.True(order.IndexOf(b) < order.LastIndexOf(a) && order.IndexOf(a) < order.LastIndexOf(b), string.Join(",", order));
    }
}
