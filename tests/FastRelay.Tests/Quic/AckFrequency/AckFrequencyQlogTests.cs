using System.Text.Json;
using FastRelay.Tests.Quic.Qlog;
using Xunit;

namespace FastRelay.Tests.Quic.AckFrequency;

/// <summary>qlog of the ACK frequency extension: the frames with their fields, min_ack_delay in parameters_set, and the
/// ACK count a reader gets from it.</summary>
public class AckFrequencyQlogTests
{
    private static IEnumerable<JsonElement> FramesOf(QlogReader qlog, string eventName, string frameType) =>
        qlog.Named(eventName).SelectMany(QlogReader.Frames).Where(f => f.GetProperty("frame_type").GetString() == frameType);

    [Fact]
    public void The_request_shows_on_both_sides_and_the_receivers_acks_thin_out()
    {
        using var pair = new TracedCorePair();
        Assert.True(pair.Handshake());
        pair.Client.RequestAckFrequency(7, 30_000, 3);
        Assert.True(pair.RunUntil(() => pair.Server!.ReceiverAckElicitingThreshold == 4));
        pair.Transfer(new byte[300_000]);
        Assert.True(pair.RunUntil(() => pair.Client.CongestionControl.BytesInFlight == 0, 5_000_000));

        var client = QlogReader.Parse(pair.ClientLog);
        var server = QlogReader.Parse(pair.ServerLog);
        // The first request fits the initial window (4); once the window has grown, the one asked for (7) follows.
        var sent = FramesOf(client, "transport:packet_sent", "ack_frequency").ToList();
        Assert.Equal(2, sent.Count);
        Assert.Equal([0UL, 1UL], sent.Select(f => f.GetProperty("sequence_number").GetUInt64()));
        Assert.Equal([4UL, 7UL], sent.Select(f => f.GetProperty("ack_eliciting_threshold").GetUInt64()));
        Assert.All(sent, f => Assert.Equal(30.0, f.GetProperty("request_max_ack_delay").GetDouble()));
        Assert.All(sent, f => Assert.Equal(3UL, f.GetProperty("reordering_threshold").GetUInt64()));
        Assert.Equal(2, FramesOf(server, "transport:packet_received", "ack_frequency").Count());
        Assert.NotEmpty(FramesOf(server, "transport:packet_received", "immediate_ack"));
        Assert.All(client.Named("transport:parameters_set"), e => Assert.Equal(1000UL, QlogReader.Data(e).GetProperty("min_ack_delay").GetUInt64()));

        // After the request, the server's 1-RTT ACKs against the client's 1-RTT packets: about one per eight.
        int streamPackets = client.Named("transport:packet_sent").Count(e => QlogReader.Frames(e).Any(f => f.GetProperty("frame_type").GetString() == "stream"));
        int acks = FramesOf(server, "transport:packet_sent", "ack").Count();
        Assert.True(streamPackets > 150, $"{streamPackets} stream packets");
        Assert.True(acks * 5 < streamPackets, $"{acks} ACKs for {streamPackets} stream packets");
    }
}
