using System.Text.Json;
using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Qlog;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;
using Xunit;

namespace FastRelay.Tests.Quic.Qlog;

/// <summary>The writer on its own: frame fields from known payloads, file naming, failure handling, zero cost when off.</summary>
[Collection(FastRelay.Tests.Quic.Connection.AllocationMeasurements.Name)] // its allocation check shares the chunk pool
public sealed class QlogTracerTests
{
    private static readonly ConnectionId Odcid = new([0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08]);

    private static JsonElement SingleEvent(MemoryStream log) => Assert.Single(QlogReader.Parse(log).Events);

    [Fact]
    public void Frames_of_a_known_payload_are_written_with_their_fields()
    {
        var payload = new byte[200];
        int n = AckFrame.Write(payload, [new AckRange(5, 9), new AckRange(0, 2)], ackDelay: 100);
        n += new StreamFrame(4, 10, new byte[7], Fin: true).Write(payload.AsSpan(n));
        n += new CryptoFrame(300, new byte[5]).Write(payload.AsSpan(n));
        n += new MaxDataFrame(123_456).Write(payload.AsSpan(n));
        n += new PingFrame().Write(payload.AsSpan(n));
        n += new ConnectionCloseFrame(true, 0x42, 0, "why"u8.ToArray()).Write(payload.AsSpan(n));
        n += 3; // trailing padding (zeros)

        using var log = new MemoryStream();
        using (var tracer = new QlogTracer(log, QuicPerspective.Client, Odcid, leaveOpen: true))
        {
            tracer.AdvanceTime(5_000_000);
            tracer.AdvanceTime(5_001_500);
            tracer.PacketSent(QuicPacketType.OneRtt, 42, Odcid.Span, n + 30, payload.AsSpan(0, n));
        }
        var e = SingleEvent(log);
        Assert.Equal("transport:packet_sent", e.GetProperty("name").GetString());
        Assert.Equal(1.5, e.GetProperty("time").GetDouble());
        var data = e.GetProperty("data");
        Assert.Equal("1RTT", data.GetProperty("header").GetProperty("packet_type").GetString());
        Assert.Equal(42, data.GetProperty("header").GetProperty("packet_number").GetInt32());
        Assert.False(data.GetProperty("header").TryGetProperty("dcid", out _)); // short header: no dcid
        Assert.Equal(n + 30, data.GetProperty("raw").GetProperty("length").GetInt32());
        var frames = data.GetProperty("frames").EnumerateArray().ToList();
        Assert.Equal(["ack", "stream", "crypto", "max_data", "ping", "connection_close", "padding"],
            frames.Select(f => f.GetProperty("frame_type").GetString()));
        Assert.Equal("[[5,9],[0,2]]", frames[0].GetProperty("acked_ranges").GetRawText());
        Assert.Equal(0.8, frames[0].GetProperty("ack_delay").GetDouble()); // 100 << 3 µs
        Assert.Equal("""{"frame_type":"stream","stream_id":4,"offset":10,"length":7,"fin":true}""", frames[1].GetRawText());
        Assert.Equal("""{"frame_type":"crypto","offset":300,"length":5}""", frames[2].GetRawText());
        Assert.Equal(123_456, frames[3].GetProperty("maximum").GetInt32());
        Assert.Equal("application", frames[5].GetProperty("error_space").GetString());
        Assert.Equal(0x42, frames[5].GetProperty("error_code").GetInt32());
        Assert.Equal("why", frames[5].GetProperty("reason").GetString());
        Assert.Equal(3, frames[6].GetProperty("length").GetInt32());
    }

    [Fact]
    public void Long_headers_carry_the_dcid_and_retry_has_no_packet_number()
    {
        using var log = new MemoryStream();
        using (var tracer = new QlogTracer(log, QuicPerspective.Server, Odcid, leaveOpen: true))
        {
            tracer.PacketReceived(QuicPacketType.Initial, 0, Odcid.Span, 1200, [0x01]);
            tracer.PacketReceived(QuicPacketType.Retry, 0, Odcid.Span, 60, default);
        }
        var events = QlogReader.Parse(log).Events;
        var initial = events[0].GetProperty("data").GetProperty("header");
        Assert.Equal("initial", initial.GetProperty("packet_type").GetString());
        Assert.Equal("8394c8f03e515708", initial.GetProperty("dcid").GetString());
        Assert.Equal(0, events[0].GetProperty("time").GetDouble()); // no time given yet
        var retry = events[1].GetProperty("data");
        Assert.Equal("retry", retry.GetProperty("header").GetProperty("packet_type").GetString());
        Assert.False(retry.GetProperty("header").TryGetProperty("packet_number", out _));
        Assert.False(retry.TryGetProperty("frames", out _));
    }

    [Fact]
    public void A_malformed_payload_keeps_the_frames_before_the_error_and_the_record_stays_valid()
    {
        using var log = new MemoryStream();
        using (var tracer = new QlogTracer(log, QuicPerspective.Client, Odcid, leaveOpen: true))
        {
            // PING, then a STREAM frame whose length runs past the end.
            tracer.PacketReceived(QuicPacketType.OneRtt, 1, default, 40, [0x01, 0x0a, 0x04, 0x3f, 0x01]);
            // Unknown frame type first.
            tracer.PacketReceived(QuicPacketType.OneRtt, 2, default, 40, [0x3f, 0x00]);
        }
        var events = QlogReader.Parse(log).Events;
        Assert.Equal(["ping"], events[0].GetProperty("data").GetProperty("frames").EnumerateArray().Select(f => f.GetProperty("frame_type").GetString()));
        Assert.Empty(events[1].GetProperty("data").GetProperty("frames").EnumerateArray());
    }

    [Fact]
    public void Times_stay_non_decreasing_when_the_clock_goes_back()
    {
        using var log = new MemoryStream();
        using (var tracer = new QlogTracer(log, QuicPerspective.Client, Odcid, leaveOpen: true))
        {
            foreach (long t in new long[] { 100, 2_100, 1_100, 3_100 })
            {
                tracer.AdvanceTime(t);
                tracer.PacketLost(QuicPacketType.Handshake, (ulong)t);
            }
        }
        Assert.Equal([0.0, 2.0, 2.0, 3.0], QlogReader.Parse(log).Events.Select(e => e.GetProperty("time").GetDouble()));
    }

    [Fact]
    public void Files_are_named_by_odcid_and_vantage_point_and_the_factory_survives_a_bad_directory()
    {
        Assert.Equal("8394c8f03e515708_client.sqlog", QlogTracer.FileNameFor(QuicPerspective.Client, Odcid));
        Assert.Equal("8394c8f03e515708_server.sqlog", QlogTracer.FileNameFor(QuicPerspective.Server, Odcid));

        string dir = Path.Combine(Path.GetTempPath(), "fastrelay-qlog-" + Guid.NewGuid().ToString("N"));
        try
        {
            var tracer = QlogTracer.CreateFactory(Path.Combine(dir, "nested"))(QuicPerspective.Server, Odcid);
            tracer.AdvanceTime(0);
            tracer.ConnectionClosed(new ConnectionCloseInfo(0, false, "", ByPeer: true));
            tracer.Dispose();
            tracer.Dispose(); // twice is fine
            tracer.PacketLost(QuicPacketType.OneRtt, 1); // after disposal: ignored
            var qlog = QlogReader.Parse(File.ReadAllBytes(Path.Combine(dir, "nested", "8394c8f03e515708_server.sqlog")));
            Assert.Equal("server", qlog.Header.GetProperty("trace").GetProperty("vantage_point").GetProperty("type").GetString());
            Assert.Single(qlog.Events);

            // A directory that cannot exist (a file is in the way): the connection goes untraced instead of failing.
            string blocker = Path.Combine(dir, "file");
            File.WriteAllText(blocker, "x");
            Assert.Same(NullConnectionTracer.Instance, QlogTracer.CreateFactory(blocker)(QuicPerspective.Client, Odcid));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>Accepts <paramref name="budget"/> bytes, then every write fails like a full disk.</summary>
    private sealed class FailingStream(int budget) : MemoryStream
    {
        private void Check(int count)
        {
            if (Length + count > budget) throw new IOException("disk full");
        }
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Check(buffer.Length);
            base.Write(buffer.ToArray(), 0, buffer.Length);
        }
        public override void Write(byte[] buffer, int offset, int count)
        {
            Check(count);
            base.Write(buffer, offset, count);
        }
        public override void WriteByte(byte value)
        {
            Check(1);
            base.WriteByte(value);
        }
    }

    [Fact]
    public void A_write_failure_stops_tracing_without_throwing_into_the_connection()
    {
        using var stream = new FailingStream(600);
        var tracer = new QlogTracer(stream, QuicPerspective.Client, Odcid, leaveOpen: true);
        for (ulong i = 0; i < 100; i++) tracer.PacketLost(QuicPacketType.OneRtt, i);
        Assert.False(tracer.IsEnabled);
        tracer.Flush();
        tracer.Dispose();
        long length = stream.Length;
        Assert.InRange(length, 100, 600);
        // What was written before the failure is whole records.
        var bytes = stream.ToArray();
        int lastRecord = Array.LastIndexOf(bytes, (byte)0x1E);
        Assert.True(QlogReader.Parse(bytes[..lastRecord]).Events.Count > 0);
    }

    [Fact]
    public void Without_a_factory_the_core_uses_the_null_tracer_and_the_packet_path_allocates_nothing()
    {
        using var pair = new TracedCorePair(traced: false);
        Assert.True(pair.Handshake());
        pair.Transfer(new byte[10_000]); // settles the handshake: confirmed, spare connection ids issued
        Assert.Same(NullConnectionTracer.Instance, pair.Client.Tracer);
        Assert.Same(NullConnectionTracer.Instance, pair.Server!.Tracer);
        Assert.Equal(0, pair.ClientLog.Length);

        var client = pair.Client;
        var server = pair.Server;
        Assert.True(client.Streams.TryOpenStream(true, out ulong id));
        var chunk = new byte[1000];
        var datagram = new byte[2048];
        var readBuffer = new byte[8192];
        long now = pair.Now;
        int sent = 0;

        void Round()
        {
            now += 100;
            client.Streams.Write(id, chunk, false);
            int n;
            while ((n = client.WriteDatagram(datagram, now)) > 0)
            {
                server.OnDatagram(datagram.AsMemory(0, n), now);
                sent++;
            }
            while (server.Streams.Read(id, readBuffer, out _) > 0) { }
            while ((n = server.WriteDatagram(datagram, now + 30_000)) > 0) client.OnDatagram(datagram.AsMemory(0, n), now + 30_000);
            while (client.Streams.TryDequeueEvent(out _)) { }
            while (server.Streams.TryDequeueEvent(out _)) { }
            while (client.TryDequeueEvent(out _)) { }
            while (server.TryDequeueEvent(out _)) { }
        }

        for (int i = 0; i < 3_000; i++) Round(); // warm-up: pools, rings and windows reach their steady size
        // Several windows, the best one counts: a gen-2 GC (other tests run in parallel) trims ArrayPool.Shared and the
        // next rents allocate again — pool refills, not per-packet work, which would show in every window.
        var windows = new List<(long Bytes, int Packets)>();
        for (int w = 0; w < 4; w++)
        {
            int sentBefore = sent;
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 2_000; i++) Round();
            windows.Add((GC.GetAllocatedBytesForCurrentThread() - before, sent - sentBefore));
        }
        Assert.All(windows, w => Assert.True(w.Packets > 1_500, $"{w.Packets} packets"));
        Assert.True(windows.Min(w => w.Bytes) < 1_000, string.Join(", ", windows.Select(w => $"{w.Bytes} bytes for {w.Packets} packets")));
    }

    [Fact]
    public void The_null_tracer_allocates_nothing_on_any_call()
    {
        IConnectionTracer tracer = NullConnectionTracer.Instance;
        var rtt = new FastRelay.Protocols.Quic.Recovery.RttEstimator();
        var cc = new FastRelay.Protocols.Quic.Recovery.NewRenoCongestionController(1200);
        var parameters = new TransportParameters();
        var info = new ConnectionCloseInfo(1, true, "x", false);
        var payload = new byte[64];
        void Calls(long i)
        {
            tracer.AdvanceTime(i);
            tracer.PacketSent(QuicPacketType.OneRtt, (ulong)i, Odcid.Span, 100, payload);
            tracer.PacketReceived(QuicPacketType.Initial, (ulong)i, Odcid.Span, 100, payload);
            tracer.PacketLost(QuicPacketType.OneRtt, (ulong)i);
            tracer.MetricsUpdated(rtt, cc);
            tracer.KeyUpdated(TracedKeyType.Client1RttSecret, 1, KeyUpdateTrigger.LocalUpdate);
            tracer.KeyDiscarded(TracedKeyType.ClientInitialSecret, 0);
            tracer.ParametersSet(true, parameters);
            tracer.ConnectionStarted(Odcid, Odcid);
            tracer.ConnectionClosed(info);
        }
        for (int i = 0; i < 100; i++) Calls(i);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100_000; i++) Calls(i);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.False(tracer.IsEnabled);
    }
}
