using System.Text.Json;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Qlog;
using Xunit;

namespace FastRelay.Tests.Quic.Qlog;

/// <summary>qlog written by two cores talking in memory: format, and that the trace agrees with what happened.</summary>
public sealed class QlogCoreTests
{
    private static byte[] Payload(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static string Name(JsonElement e) => e.GetProperty("name").GetString()!;

    [Fact]
    public void Every_record_is_one_json_text_sequence_item_with_the_header_first_and_times_non_decreasing()
    {
        using var pair = new TracedCorePair();
        Assert.True(pair.Handshake());
        pair.Transfer(Payload(50_000, 1));
        string odcid = Convert.ToHexStringLower(pair.Client.OriginalDestinationConnectionId.Span);
        foreach (var (log, vantage) in new[] { (pair.ClientLog, "client"), (pair.ServerLog, "server") })
        {
            var qlog = QlogReader.Parse(log);
            Assert.Equal("JSON-SEQ", qlog.Header.GetProperty("qlog_format").GetString());
            Assert.Equal("0.3", qlog.Header.GetProperty("qlog_version").GetString());
            var trace = qlog.Header.GetProperty("trace");
            Assert.Equal(vantage, trace.GetProperty("vantage_point").GetProperty("type").GetString());
            var common = trace.GetProperty("common_fields");
            Assert.Equal(odcid, common.GetProperty("ODCID").GetString());
            Assert.Equal("relative", common.GetProperty("time_format").GetString());
            Assert.True(common.GetProperty("reference_time").GetDouble() > 1.6e12); // ms since 1970, after 2020
            Assert.False(qlog.Header.TryGetProperty("name", out _)); // the header is not an event

            Assert.Equal("connectivity:connection_started", Name(qlog.Events[0]));
            double last = 0;
            foreach (var e in qlog.Events)
            {
                double time = e.GetProperty("time").GetDouble();
                Assert.True(time >= last, $"time went back from {last} to {time} at {Name(e)}");
                last = time;
                Assert.Equal(JsonValueKind.Object, e.GetProperty("data").ValueKind);
            }
            // Virtual time: the handshake alone takes several 20 ms round trips.
            Assert.True(last > 40, $"last event at {last} ms");
            Assert.True(qlog.Named("transport:packet_sent").Count() >= 4);
            // The receiver of the stream acknowledges a whole burst at once: the sender sees few packets.
            Assert.True(qlog.Named("transport:packet_received").Count() >= 4, $"{vantage} received {qlog.Named("transport:packet_received").Count()}");
        }
    }

    [Fact]
    public void Stream_frames_sent_for_a_transfer_add_up_to_its_length_on_both_sides()
    {
        const int length = 200_000;
        using var pair = new TracedCorePair();
        Assert.True(pair.Handshake());
        ulong id = pair.Transfer(Payload(length, 2));
        var client = QlogReader.Parse(pair.ClientLog);
        var server = QlogReader.Parse(pair.ServerLog);

        List<JsonElement> StreamFrames(QlogReader qlog, string name) => qlog.Named(name).SelectMany(QlogReader.Frames)
            .Where(f => f.GetProperty("frame_type").GetString() == "stream" && f.GetProperty("stream_id").GetUInt64() == id).ToList();

        var sent = StreamFrames(client, "transport:packet_sent");
        Assert.Equal((ulong)length, sent.Aggregate(0UL, (sum, f) => sum + f.GetProperty("length").GetUInt64()));
        // Loss-free: contiguous, no overlap, one FIN at the end.
        ulong expected = 0;
        foreach (var f in sent.OrderBy(f => f.GetProperty("offset").GetUInt64()))
        {
            Assert.Equal(expected, f.GetProperty("offset").GetUInt64());
            expected += f.GetProperty("length").GetUInt64();
        }
        var fin = Assert.Single(sent, f => f.GetProperty("fin").GetBoolean());
        Assert.Equal((ulong)length, fin.GetProperty("offset").GetUInt64() + fin.GetProperty("length").GetUInt64());

        var received = StreamFrames(server, "transport:packet_received");
        Assert.Equal((ulong)length, received.Aggregate(0UL, (sum, f) => sum + f.GetProperty("length").GetUInt64()));
    }

    [Fact]
    public void Without_loss_every_received_packet_was_sent_by_the_peer_with_the_same_number_size_and_frames()
    {
        using var pair = new TracedCorePair();
        Assert.True(pair.Handshake());
        pair.Transfer(Payload(100_000, 3));
        pair.Client.Close(7, "done", pair.Now);
        pair.RunUntil(() => pair.Client.Phase == ConnectionPhase.Closed && pair.Server!.Phase == ConnectionPhase.Closed);
        var client = QlogReader.Parse(pair.ClientLog);
        var server = QlogReader.Parse(pair.ServerLog);
        foreach (var (from, to) in new[] { (client, server), (server, client) })
        {
            var sent = new Dictionary<(string, ulong), JsonElement>();
            foreach (var e in from.Named("transport:packet_sent")) Assert.True(sent.TryAdd(QlogReader.PacketId(e), e), $"{QlogReader.PacketId(e)} sent twice");
            var received = to.Named("transport:packet_received").ToList();
            Assert.True(received.Count >= 4, $"{received.Count} received");
            foreach (var e in received)
            {
                var key = QlogReader.PacketId(e);
                Assert.True(sent.TryGetValue(key, out var s), $"{key} received but never sent");
                Assert.Equal(QlogReader.Data(s).GetProperty("raw").GetProperty("length").GetInt32(),
                    QlogReader.Data(e).GetProperty("raw").GetProperty("length").GetInt32());
                // Both ends decoded the same plaintext (ACK delays use the same exponent, 3, on both sides).
                Assert.Equal(QlogReader.Data(s).GetProperty("frames").GetRawText(), QlogReader.Data(e).GetProperty("frames").GetRawText());
                if (key.Item1 != "1RTT")
                    Assert.Equal(QlogReader.Data(s).GetProperty("header").GetProperty("dcid").GetString(),
                        QlogReader.Data(e).GetProperty("header").GetProperty("dcid").GetString());
            }
            // Each packet type of the handshake shows up.
            Assert.Equal(["1RTT", "handshake", "initial"], received.Select(e => QlogReader.PacketId(e).Type).Distinct().Order());
        }
    }

    [Fact]
    public void Connection_closed_carries_the_application_error_code_on_both_sides()
    {
        using var pair = new TracedCorePair();
        Assert.True(pair.Handshake());
        pair.Client.Close(0x1234, "bye", pair.Now);
        Assert.True(pair.RunUntil(() => pair.Client.Phase == ConnectionPhase.Closed && pair.Server!.Phase == ConnectionPhase.Closed));
        var client = QlogReader.Parse(pair.ClientLog);
        var server = QlogReader.Parse(pair.ServerLog);

        var local = QlogReader.Data(Assert.Single(client.Named("connectivity:connection_closed")));
        Assert.Equal("local", local.GetProperty("owner").GetString());
        Assert.Equal(0x1234UL, local.GetProperty("application_code").GetUInt64());
        Assert.Equal("bye", local.GetProperty("reason").GetString());
        Assert.Equal("application", local.GetProperty("trigger").GetString());
        var remote = QlogReader.Data(Assert.Single(server.Named("connectivity:connection_closed")));
        Assert.Equal("remote", remote.GetProperty("owner").GetString());
        Assert.Equal(0x1234UL, remote.GetProperty("application_code").GetUInt64());

        // The 1-RTT one: in Initial/Handshake packets the application close becomes a transport APPLICATION_ERROR.
        var frame = client.Named("transport:packet_sent").Where(e => QlogReader.PacketId(e).Type == "1RTT").SelectMany(QlogReader.Frames)
            .First(f => f.GetProperty("frame_type").GetString() == "connection_close");
        Assert.Equal("application", frame.GetProperty("error_space").GetString());
        Assert.Equal(0x1234UL, frame.GetProperty("error_code").GetUInt64());
        Assert.Equal("bye", frame.GetProperty("reason").GetString());
        // Closed: the trace is over and the core is back on the null tracer.
        Assert.Same(NullConnectionTracer.Instance, pair.Client.Tracer);
        Assert.Same(NullConnectionTracer.Instance, pair.Server!.Tracer);
    }

    [Fact]
    public void A_clean_close_and_an_idle_timeout_have_their_triggers()
    {
        using (var pair = new TracedCorePair())
        {
            Assert.True(pair.Handshake());
            pair.Client.Close(null, "", pair.Now);
            Assert.True(pair.RunUntil(() => pair.Client.Phase == ConnectionPhase.Closed));
            var closed = QlogReader.Data(Assert.Single(QlogReader.Parse(pair.ClientLog).Named("connectivity:connection_closed")));
            Assert.Equal("clean", closed.GetProperty("trigger").GetString());
            Assert.Equal(0UL, closed.GetProperty("connection_code").GetUInt64());
        }
        using (var pair = new TracedCorePair(idleTimeoutMs: 1_000))
        {
            Assert.True(pair.Handshake());
            long start = pair.Now;
            Assert.True(pair.RunUntil(() => pair.Client.Phase == ConnectionPhase.Closed && pair.Server!.Phase == ConnectionPhase.Closed));
            foreach (var log in new[] { pair.ClientLog, pair.ServerLog })
            {
                var qlog = QlogReader.Parse(log);
                var e = Assert.Single(qlog.Named("connectivity:connection_closed"));
                Assert.Equal("idle_timeout", QlogReader.Data(e).GetProperty("trigger").GetString());
                Assert.Equal("local", QlogReader.Data(e).GetProperty("owner").GetString());
                // Stamped with the timer's time, a second after the last activity, not the time of the last packet.
                double lastPacket = qlog.Events.Where(x => Name(x).StartsWith("transport:packet")).Max(x => x.GetProperty("time").GetDouble());
                Assert.InRange(e.GetProperty("time").GetDouble() - lastPacket, 900, 1_100);
            }
        }
    }

    [Fact]
    public void A_key_update_shows_key_updated_with_local_and_remote_triggers()
    {
        using var pair = new TracedCorePair();
        Assert.True(pair.Handshake());
        pair.Transfer(Payload(5_000, 4)); // confirms the handshake and acknowledges 1-RTT packets
        pair.Client.RequestKeyUpdate();
        pair.Transfer(Payload(20_000, 5));
        Assert.Equal(1UL, pair.Client.KeyUpdateGeneration);
        Assert.Equal(1UL, pair.Server!.KeyUpdateGeneration);

        static List<(string Key, ulong Generation, string Trigger)> Updates(MemoryStream log) => QlogReader.Parse(log)
            .Named("security:key_updated").Select(QlogReader.Data)
            .Select(d => (d.GetProperty("key_type").GetString()!, d.GetProperty("generation").GetUInt64(), d.GetProperty("trigger").GetString()!))
            .Where(u => u.Item2 > 0).ToList();

        // The client started it: its own key first (local), then the server's answer.
        Assert.Equal([("client_1rtt_secret", 1UL, "local_update"), ("server_1rtt_secret", 1UL, "local_update")], Updates(pair.ClientLog));
        // The server saw the client's new key and followed.
        Assert.Equal([("client_1rtt_secret", 1UL, "remote_update"), ("server_1rtt_secret", 1UL, "remote_update")], Updates(pair.ServerLog));
    }

    [Fact]
    public void The_handshake_installs_keys_by_tls_and_discards_initial_and_handshake_keys()
    {
        using var pair = new TracedCorePair();
        Assert.True(pair.Handshake());
        pair.Transfer(Payload(1_000, 6));
        foreach (var log in new[] { pair.ClientLog, pair.ServerLog })
        {
            var qlog = QlogReader.Parse(log);
            var installed = qlog.Named("security:key_updated").Select(QlogReader.Data)
                .Where(d => d.GetProperty("trigger").GetString() == "tls").Select(d => d.GetProperty("key_type").GetString()).ToHashSet();
            Assert.Equal(["client_1rtt_secret", "client_handshake_secret", "client_initial_secret", "server_1rtt_secret",
                "server_handshake_secret", "server_initial_secret"], installed.Order(StringComparer.Ordinal));
            var discarded = qlog.Named("security:key_discarded").Select(QlogReader.Data).Select(d => d.GetProperty("key_type").GetString()).Order().ToList();
            Assert.Equal(["client_handshake_secret", "client_initial_secret", "server_handshake_secret", "server_initial_secret"], discarded);
            // Nothing goes out in the Initial space once its keys are gone.
            int initialGone = qlog.Events.FindIndex(e => Name(e) == "security:key_discarded" && QlogReader.Data(e).GetProperty("key_type").GetString() == "client_initial_secret");
            Assert.DoesNotContain(qlog.Events.Skip(initialGone), e => Name(e) == "transport:packet_sent" && QlogReader.PacketId(e).Type == "initial");
        }
    }

    [Fact]
    public void Transport_parameters_of_each_side_are_set_locally_and_seen_remotely()
    {
        using var pair = new TracedCorePair();
        Assert.True(pair.Handshake());
        var client = QlogReader.Parse(pair.ClientLog).Named("transport:parameters_set").Select(QlogReader.Data).ToList();
        var server = QlogReader.Parse(pair.ServerLog).Named("transport:parameters_set").Select(QlogReader.Data).ToList();
        Assert.Equal(["local", "remote"], client.Select(d => d.GetProperty("owner").GetString()));
        Assert.Equal(["local", "remote"], server.Select(d => d.GetProperty("owner").GetString()));
        foreach (var (local, remote) in new[] { (client[0], server[1]), (server[0], client[1]) })
        {
            foreach (var name in new[] { "initial_max_data", "initial_max_stream_data_bidi_local", "initial_max_streams_bidi", "max_idle_timeout",
                         "active_connection_id_limit", "initial_source_connection_id" })
                Assert.Equal(local.GetProperty(name).GetRawText(), remote.GetProperty(name).GetRawText());
            Assert.False(remote.GetProperty("disable_1rtt_encryption").GetBoolean());
        }
        Assert.Equal(Convert.ToHexStringLower(pair.Client.OriginalDestinationConnectionId.Span),
            server[0].GetProperty("original_destination_connection_id").GetString());
        Assert.Equal(30_000UL, client[0].GetProperty("max_idle_timeout").GetUInt64());
    }

    [Fact]
    public void Metrics_updated_reports_rtt_in_milliseconds_and_only_changed_values_once_per_ack_at_most()
    {
        using var pair = new TracedCorePair(); // 10 ms each way: RTT 20 ms plus ack delay
        Assert.True(pair.Handshake());
        pair.Transfer(Payload(100_000, 7));
        var qlog = QlogReader.Parse(pair.ClientLog);
        var metrics = qlog.Named("recovery:metrics_updated").Select(QlogReader.Data).ToList();
        Assert.NotEmpty(metrics);
        Assert.All(metrics, m => Assert.NotEmpty(m.EnumerateObject()));
        double minRtt = metrics.Where(m => m.TryGetProperty("min_rtt", out _)).Last().GetProperty("min_rtt").GetDouble();
        double smoothed = metrics.Where(m => m.TryGetProperty("smoothed_rtt", out _)).Last().GetProperty("smoothed_rtt").GetDouble();
        Assert.InRange(minRtt, 20.0, 21.0);
        Assert.InRange(smoothed, 20.0, 60.0);
        Assert.Contains(metrics, m => m.TryGetProperty("congestion_window", out var cwnd) && cwnd.GetInt64() >= 12_000);
        Assert.Contains(metrics, m => m.TryGetProperty("bytes_in_flight", out _));
        int acksReceived = qlog.Named("transport:packet_received")
            .Sum(e => QlogReader.Frames(e).Count(f => f.GetProperty("frame_type").GetString() == "ack"));
        Assert.True(metrics.Count <= acksReceived, $"{metrics.Count} metrics_updated for {acksReceived} ACKs");
        // Only changes: two consecutive events never repeat a value for the same field.
        var lastSeen = new Dictionary<string, string>();
        foreach (var m in metrics)
            foreach (var p in m.EnumerateObject())
            {
                Assert.False(lastSeen.TryGetValue(p.Name, out var before) && before == p.Value.GetRawText(), $"{p.Name} repeated {before}");
                lastSeen[p.Name] = p.Value.GetRawText();
            }
    }

    [Fact]
    public void Lost_packets_are_reported_by_the_sender_and_were_sent_but_not_received()
    {
        // Every 9th datagram from the client disappears once the handshake is done.
        bool lossy = false;
        using var pair = new TracedCorePair(lose: (toServer, index) => lossy && toServer && index % 9 == 4);
        Assert.True(pair.Handshake());
        lossy = true;
        pair.Transfer(Payload(300_000, 8));
        var client = QlogReader.Parse(pair.ClientLog);
        var server = QlogReader.Parse(pair.ServerLog);
        var sent = client.Named("transport:packet_sent").Select(QlogReader.PacketId).ToHashSet();
        var received = server.Named("transport:packet_received").Select(QlogReader.PacketId).ToHashSet();
        var lost = client.Named("recovery:packet_lost").Select(QlogReader.PacketId).ToList();
        Assert.NotEmpty(lost);
        Assert.All(lost, l => Assert.Contains(l, sent));
        Assert.Contains(lost, l => !received.Contains(l));
        Assert.All(lost, l => Assert.Equal("1RTT", l.Type));
        // More stream bytes went out than the transfer: the lost ones were sent again.
        ulong streamBytes = client.Named("transport:packet_sent").SelectMany(QlogReader.Frames)
            .Where(f => f.GetProperty("frame_type").GetString() == "stream").Aggregate(0UL, (s, f) => s + f.GetProperty("length").GetUInt64());
        Assert.True(streamBytes > 300_000);
    }
}
