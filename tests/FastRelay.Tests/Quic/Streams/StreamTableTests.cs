using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Streams;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;
using Xunit;

namespace FastRelay.Tests.Quic.Streams;

[Collection(FastRelay.Tests.Quic.Connection.AllocationMeasurements.Name)] // its allocation check shares the chunk pool
public class StreamTableTests
{
    private static StreamTableSettings Small() => new()
    {
        LocalMaxStreamsBidi = 8,
        LocalMaxStreamsUni = 8,
        LocalInitialMaxData = 96 * 1024,
        LocalMaxStreamDataBidiLocal = 32 * 1024,
        LocalMaxStreamDataBidiRemote = 32 * 1024,
        LocalMaxStreamDataUni = 32 * 1024,
        MaxReceiveWindow = 256 * 1024,
        MaxConnectionReceiveWindow = 512 * 1024,
        SendBufferCapacity = 128 * 1024,
    };

    private static StreamTable Table(bool client, Action<StreamTableSettings>? tweak = null)
    {
        var settings = Small();
        settings.IsClient = client;
        tweak?.Invoke(settings);
        var table = new StreamTable(settings);
        var peer = new TransportParameters();
        Small().ApplyTo(peer);
        table.SetPeerLimits(peer);
        return table;
    }

    private static List<StreamEvent> Drain(StreamTable table)
    {
        var events = new List<StreamEvent>();
        while (table.TryDequeueEvent(out var e)) events.Add(e);
        return events;
    }

    /// <summary>Streams transfer: writers write what is accepted, readers read whatever is available, until done.</summary>
    private sealed class Transfer(ulong id, byte[] data, StreamTable sender, StreamTable receiver)
    {
        public readonly ulong Id = id;
        public readonly byte[] Data = data;
        public readonly StreamTable Sender = sender, Receiver = receiver;
        public int Written;
        public readonly MemoryStream Received = new();
        public bool Finished;

        public void Pump(byte[] scratch)
        {
            if (Written < Data.Length || Written == 0)
            {
                int n = Math.Min(Data.Length - Written, 50_000);
                Written += Sender.Write(Id, Data.AsSpan(Written, n), fin: Written + n == Data.Length);
            }
        }

        public void ReadAvailable(byte[] scratch)
        {
            if (Finished) return;
            try
            {
                while (true)
                {
                    int n = Receiver.Read(Id, scratch, out bool fin);
                    Received.Write(scratch, 0, n);
                    if (fin) { Finished = true; return; }
                    if (n == 0) return;
                }
            }
            catch (InvalidOperationException) when (!Finished)
            {
                // The receiver has not seen the stream yet.
            }
        }
    }

    private static void RunTransfers(TablePair pair, List<Transfer> transfers, int maxSteps = 200_000)
    {
        var scratch = new byte[16 * 1024];
        for (int step = 0; step < maxSteps && !transfers.All(t => t.Finished); step++)
        {
            foreach (var t in transfers) t.Pump(scratch);
            pair.Step();
            foreach (var t in transfers) t.ReadAvailable(scratch);
            Drain(pair.Client);
            Drain(pair.Server);
        }
        foreach (var t in transfers)
        {
            Assert.True(t.Finished, $"stream {t.Id} did not finish ({t.Received.Length}/{t.Data.Length})");
            Assert.Equal(t.Data, t.Received.ToArray());
        }
    }

    [Theory]
    [InlineData(1, 0.0)]
    [InlineData(2, 0.05)]
    [InlineData(3, 0.2)]
    public void MegabytesOnSeveralStreamsArriveIdenticalOverALossyChannel(int seed, double loss)
    {
        var pair = new TablePair(Small(), Small(), seed, loss);
        var rng = new Random(seed);
        var transfers = new List<Transfer>();
        byte[] Bytes(int n) { var b = new byte[n]; rng.NextBytes(b); return b; }
        // Client → server on three bidi streams and one uni; server → client on one bidi stream of its own.
        for (int i = 0; i < 3; i++)
        {
            Assert.True(pair.Client.TryOpenStream(true, out ulong id));
            transfers.Add(new Transfer(id, Bytes(1_000_000 + i * 123_457), pair.Client, pair.Server));
        }
        Assert.True(pair.Client.TryOpenStream(false, out ulong uni));
        Assert.Equal(2UL, uni);
        transfers.Add(new Transfer(uni, Bytes(700_001), pair.Client, pair.Server));
        Assert.True(pair.Server.TryOpenStream(true, out ulong serverBidi));
        Assert.Equal(1UL, serverBidi);
        transfers.Add(new Transfer(serverBidi, Bytes(900_000), pair.Server, pair.Client));

        // Every STREAM frame must stay within what the receiver granted (the table would also reject it).
        pair.ToServer.OnStreamObserved = f => Assert.True(f.End <= 4 * 1024 * 1024);
        RunTransfers(pair, transfers);
        if (loss > 0) Assert.True(pair.PacketsLost > 0);

        // Finish the server → client bidi halves in the other direction so every stream can close.
        foreach (var t in transfers.Where(t => !StreamId.IsUnidirectional(t.Id)))
            t.Receiver.Write(t.Id, ReadOnlySpan<byte>.Empty, fin: true);
        var scratch = new byte[1024];
        for (int step = 0; step < 10_000 && (pair.Client.OpenStreamCount > 0 || pair.Server.OpenStreamCount > 0); step++)
        {
            pair.Step();
            foreach (var t in transfers.Where(t => !StreamId.IsUnidirectional(t.Id)))
            {
                try { t.Sender.Read(t.Id, scratch, out _); } catch (InvalidOperationException) { }
            }
        }
        Assert.Equal(0, pair.Client.OpenStreamCount);
        Assert.Equal(0, pair.Server.OpenStreamCount);
    }

    [Fact]
    public void FlowControlWindowsAreNeverExceededAndBlockedFramesAreSent()
    {
        // Slow reader: nothing is read for 60 steps, then only every 20th step. Stream a writes alone first (hits its
        // stream window), then all four (hit the connection window).
        var pair = new TablePair(Small(), Small(), 7, 0.1);
        Assert.True(pair.Client.TryOpenStream(true, out ulong a));
        Assert.True(pair.Client.TryOpenStream(true, out ulong b));
        Assert.True(pair.Client.TryOpenStream(true, out ulong c));
        Assert.True(pair.Client.TryOpenStream(true, out ulong d));
        var data = new byte[300_000];
        new Random(7).NextBytes(data);
        var ids = new[] { a, b, c, d };
        var written = new int[4];
        var received = ids.Select(_ => new MemoryStream()).ToArray();
        ulong peakConnection = 0;
        var scratch = new byte[8192];
        for (int step = 0; step < 100_000 && received.Any(r => r.Length < data.Length); step++)
        {
            for (int i = 0; i < 4; i++)
                if (written[i] < data.Length && (i == 0 || step >= 30))
                    written[i] += pair.Client.Write(ids[i], data.AsSpan(written[i], Math.Min(20_000, data.Length - written[i])), written[i] + Math.Min(20_000, data.Length - written[i]) == data.Length);
            pair.Step();
            // Sender's view: new bytes sent never pass the peer's MAX_DATA.
            Assert.True(pair.Client.ConnectionBytesSent <= pair.Client.PeerMaxData);
            peakConnection = Math.Max(peakConnection, pair.Client.ConnectionBytesSent);
            if (step < 60 || step % 20 != 0) continue;
            for (int i = 0; i < 4; i++)
            {
                if (received[i].Length == data.Length) continue;
                int n;
                try { while ((n = pair.Server.Read(ids[i], scratch, out _)) > 0) received[i].Write(scratch, 0, n); }
                catch (InvalidOperationException) { }
            }
        }
        for (int i = 0; i < 4; i++) Assert.Equal(data, received[i].ToArray());
        Assert.Contains(FrameType.DataBlocked, pair.ToServer.SeenTypes);
        Assert.Contains(FrameType.StreamDataBlocked, pair.ToServer.SeenTypes);
        Assert.Contains(FrameType.MaxData, pair.ToClient.SeenTypes);
        Assert.Contains(FrameType.MaxStreamData, pair.ToClient.SeenTypes);
    }

    [Fact]
    public void ReceiveWindowGrowsUnderFastConsumption()
    {
        // Updates less than 2 RTTs apart (RTT 50 ms, 1 ms per step) → the window doubles up to its cap.
        var pair = new TablePair(Small(), Small(), 11, 0.0);
        Assert.True(pair.Client.TryOpenStream(true, out ulong id));
        var data = new byte[3_000_000];
        var transfer = new Transfer(id, data, pair.Client, pair.Server);
        var scratch = new byte[64 * 1024];
        for (int step = 0; step < 50_000 && !transfer.Finished; step++)
        {
            transfer.Pump(scratch);
            pair.Step(packetsPerSide: 16, rtt: 50_000);
            transfer.ReadAvailable(scratch);
            if (!transfer.Finished) Assert.True(pair.Server.GetReceiveWindow(id) <= 256 * 1024);
        }
        Assert.True(transfer.Finished);
        Assert.True(pair.Server.LocalMaxData > 96 * 1024 * 2, $"connection limit {pair.Server.LocalMaxData}");
    }

    [Fact]
    public void ReceiveWindowStaysWhenUpdatesAreSlow()
    {
        var fast = new TablePair(Small(), Small(), 12, 0.0);
        var slow = new TablePair(Small(), Small(), 12, 0.0);
        var windows = new List<ulong>();
        foreach (var (pair, rtt) in new[] { (fast, 50_000L), (slow, 1L) })
        {
            Assert.True(pair.Client.TryOpenStream(true, out ulong id));
            var transfer = new Transfer(id, new byte[1_000_000], pair.Client, pair.Server);
            var scratch = new byte[64 * 1024];
            ulong window = 0;
            for (int step = 0; step < 50_000 && !transfer.Finished; step++)
            {
                transfer.Pump(scratch);
                pair.Step(packetsPerSide: 16, rtt: rtt);
                window = Math.Max(window, pair.Server.GetReceiveWindow(id));
                transfer.ReadAvailable(scratch);
            }
            Assert.True(transfer.Finished);
            windows.Add(window);
        }
        Assert.True(windows[0] > 32 * 1024, $"fast window {windows[0]}");
        Assert.Equal(32UL * 1024, windows[1]);
    }

    [Fact]
    public void StreamLimitAndMaxStreamsCredit()
    {
        var server = Small();
        server.LocalMaxStreamsBidi = 2;
        var pair = new TablePair(Small(), server, 21, 0.0);
        Assert.True(pair.Client.TryOpenStream(true, out ulong s0));
        Assert.True(pair.Client.TryOpenStream(true, out ulong s1));
        Assert.Equal((0UL, 4UL), (s0, s1));
        Assert.False(pair.Client.TryOpenStream(true, out _));
        Assert.True(pair.Client.TryOpenStream(false, out _));   // the other type has its own limit
        Drain(pair.Client);

        // Complete both streams both ways; the server then removes them and returns the credit.
        foreach (var id in new[] { s0, s1 }) pair.Client.Write(id, new byte[] { 1, 2, 3 }, fin: true);
        var scratch = new byte[100];
        for (int step = 0; step < 100; step++)
        {
            pair.Step();
            foreach (var id in new[] { s0, s1 })
            {
                try
                {
                    pair.Server.Read(id, scratch, out bool fin);
                    if (fin) pair.Server.Write(id, ReadOnlySpan<byte>.Empty, fin: true);
                }
                catch (InvalidOperationException) { }
                try { pair.Client.Read(id, scratch, out _); } catch (InvalidOperationException) { }
            }
        }
        Assert.Contains(FrameType.StreamsBlockedBidi, pair.ToServer.SeenTypes);
        Assert.Contains(FrameType.MaxStreamsBidi, pair.ToClient.SeenTypes);
        Assert.Equal(0, pair.Server.OpenStreamCount);   // both closed (the client's uni stream is unknown: nothing sent on it)
        Assert.Contains(Drain(pair.Client), e => e.Kind == StreamEventKind.LocalOpenAvailable && e.StreamId == 0);
        Assert.True(pair.Client.TryOpenStream(true, out ulong s2));
        Assert.True(pair.Client.TryOpenStream(true, out ulong s3));
        Assert.Equal((8UL, 12UL), (s2, s3));
        Assert.False(pair.Client.TryOpenStream(true, out _));
    }

    [Fact]
    public void PeerStreamsOpenImplicitlyInOrder()
    {
        var server = Table(client: false);
        Assert.True(server.TryOnStream(new StreamFrame(StreamId.Create(2, client: true, uni: false), 0, new byte[] { 9 }, false), out var error), error.ToString());
        var events = Drain(server);
        Assert.Equal(new[] { 0UL, 4UL, 8UL }, events.Where(e => e.Kind == StreamEventKind.PeerOpened).Select(e => e.StreamId));
        Assert.Contains(events, e => e.Kind == StreamEventKind.Readable && e.StreamId == 8);
        Assert.Equal(3, server.OpenStreamCount);
    }

    [Fact]
    public void StreamOnOurSendOnlyStreamIsStreamStateError()
    {
        var server = Table(client: false);
        Assert.True(server.TryOpenStream(false, out ulong uni));
        Assert.False(server.TryOnStream(new StreamFrame(uni, 0, new byte[1], false), out var error));
        Assert.Equal(QuicTransportError.StreamStateError, error.Code);
    }

    [Fact]
    public void StreamOnUnopenedLocalStreamIsStreamStateError()
    {
        var client = Table(client: true);
        Assert.False(client.TryOnStream(new StreamFrame(0, 0, new byte[1], false), out var error));
        Assert.Equal(QuicTransportError.StreamStateError, error.Code);
        Assert.True(client.TryOpenStream(true, out _));
        Assert.True(client.TryOnStream(new StreamFrame(0, 0, new byte[1], false), out error), error.ToString());
    }

    [Fact]
    public void MaxStreamDataOnReceiveOnlyStreamIsStreamStateError()
    {
        var client = Table(client: true);
        Assert.False(client.TryOnMaxStreamData(new MaxStreamDataFrame(StreamId.Create(0, client: false, uni: true), 1000), out var error));
        Assert.Equal(QuicTransportError.StreamStateError, error.Code);
    }

    [Fact]
    public void StopSendingOnReceiveOnlyStreamIsStreamStateError()
    {
        var client = Table(client: true);
        Assert.False(client.TryOnStopSending(new StopSendingFrame(3, 1), out var error));
        Assert.Equal(QuicTransportError.StreamStateError, error.Code);
    }

    [Fact]
    public void ResetOnOurSendOnlyStreamIsStreamStateError()
    {
        var client = Table(client: true);
        Assert.True(client.TryOpenStream(false, out ulong uni));
        Assert.False(client.TryOnResetStream(new ResetStreamFrame(uni, 1, 0), out var error));
        Assert.Equal(QuicTransportError.StreamStateError, error.Code);
    }

    [Fact]
    public void PeerStreamBeyondGrantedLimitIsStreamLimitError()
    {
        var server = Table(client: false, s => s.LocalMaxStreamsUni = 3);
        Assert.True(server.TryOnStream(new StreamFrame(StreamId.Create(2, true, true), 0, new byte[1], false), out _));
        Assert.False(server.TryOnStream(new StreamFrame(StreamId.Create(3, true, true), 0, new byte[1], false), out var error));
        Assert.Equal(QuicTransportError.StreamLimitError, error.Code);
        Assert.False(server.TryOnStreamDataBlocked(new StreamDataBlockedFrame(StreamId.Create(3, true, true), 0), out error));
        Assert.Equal(QuicTransportError.StreamLimitError, error.Code);
    }

    [Fact]
    public void StreamDataBeyondStreamWindowIsFlowControlError()
    {
        var server = Table(client: false);
        Assert.True(server.TryOnStream(new StreamFrame(0, 32 * 1024 - 1, new byte[1], false), out var error), error.ToString());
        Assert.False(server.TryOnStream(new StreamFrame(0, 32 * 1024, new byte[1], false), out error));
        Assert.Equal(QuicTransportError.FlowControlError, error.Code);
    }

    [Fact]
    public void StreamDataBeyondConnectionWindowIsFlowControlError()
    {
        var server = Table(client: false);   // 96 KiB connection, 32 KiB per stream
        for (ulong i = 0; i < 3; i++)
            Assert.True(server.TryOnStream(new StreamFrame(StreamId.Create(i, true, false), 0, new byte[32 * 1024], false), out _));
        Assert.False(server.TryOnStream(new StreamFrame(StreamId.Create(3, true, false), 0, new byte[1], false), out var error));
        Assert.Equal(QuicTransportError.FlowControlError, error.Code);
    }

    [Fact]
    public void ResetFinalSizeBeyondConnectionWindowIsFlowControlError()
    {
        var server = Table(client: false);
        for (ulong i = 0; i < 3; i++)
            Assert.True(server.TryOnStream(new StreamFrame(StreamId.Create(i, true, false), 0, new byte[30 * 1024], false), out _));
        Assert.False(server.TryOnResetStream(new ResetStreamFrame(StreamId.Create(3, true, false), 7, 10 * 1024), out var error));
        Assert.Equal(QuicTransportError.FlowControlError, error.Code);
    }

    [Fact]
    public void DataBeyondFinalSizeIsFinalSizeError()
    {
        var server = Table(client: false);
        Assert.True(server.TryOnStream(new StreamFrame(0, 0, new byte[10], true), out _));
        Assert.False(server.TryOnStream(new StreamFrame(0, 10, new byte[1], false), out var error));
        Assert.Equal(QuicTransportError.FinalSizeError, error.Code);
    }

    [Fact]
    public void ResetWithDifferentFinalSizeIsFinalSizeError()
    {
        var server = Table(client: false);
        Assert.True(server.TryOnStream(new StreamFrame(0, 0, new byte[10], true), out _));
        Assert.False(server.TryOnResetStream(new ResetStreamFrame(0, 1, 11), out var error));
        Assert.Equal(QuicTransportError.FinalSizeError, error.Code);
    }

    [Fact]
    public void ResetBelowReceivedDataIsFinalSizeError()
    {
        var server = Table(client: false);
        Assert.True(server.TryOnStream(new StreamFrame(0, 100, new byte[10], false), out _));
        Assert.False(server.TryOnResetStream(new ResetStreamFrame(0, 1, 50), out var error));
        Assert.Equal(QuicTransportError.FinalSizeError, error.Code);
    }

    [Fact]
    public void MaxStreamsAbove2To60IsFrameEncodingError()
    {
        var client = Table(client: true);
        Assert.False(client.TryOnMaxStreams(new MaxStreamsFrame(true, (1UL << 60) + 1), out var error));
        Assert.Equal(QuicTransportError.FrameEncodingError, error.Code);
    }

    [Fact]
    public void ApplicationMisuseThrows()
    {
        var client = Table(client: true);
        Assert.Throws<InvalidOperationException>(() => client.Write(0, new byte[1], false));            // never opened
        Assert.True(client.TryOnStream(new StreamFrame(3, 0, new byte[1], false), out _));              // server uni
        Assert.Throws<InvalidOperationException>(() => client.Write(3, new byte[1], false));            // receive-only
        Assert.True(client.TryOpenStream(false, out ulong uni));
        Assert.Throws<InvalidOperationException>(() => client.Read(uni, new byte[1], out _));          // send-only
        client.Write(uni, new byte[1], fin: true);
        Assert.Throws<InvalidOperationException>(() => client.Write(uni, new byte[1], false));          // after FIN
        Assert.True(client.TryOpenStream(true, out ulong bidi));
        client.ResetStream(bidi, 5);
        Assert.Throws<InvalidOperationException>(() => client.Write(bidi, new byte[1], false));         // after reset
    }

    [Fact]
    public void ResetAndStopSendingReachThePeer()
    {
        var pair = new TablePair(Small(), Small(), 31, 0.3);
        Assert.True(pair.Client.TryOpenStream(true, out ulong a));
        Assert.True(pair.Client.TryOpenStream(true, out ulong b));
        pair.Client.Write(a, new byte[5000], false);
        pair.Client.Write(b, new byte[5000], false);
        for (int i = 0; i < 20; i++) pair.Step();
        pair.Client.ResetStream(a, 77);
        pair.Server.StopSending(b, 88);
        var clientEvents = new List<StreamEvent>();
        var serverEvents = new List<StreamEvent>();
        for (int i = 0; i < 200; i++)
        {
            pair.Step();
            clientEvents.AddRange(Drain(pair.Client));
            serverEvents.AddRange(Drain(pair.Server));
        }
        Assert.Contains(new StreamEvent(StreamEventKind.PeerReset, a, 77), serverEvents);
        Assert.Contains(new StreamEvent(StreamEventKind.PeerStopSending, b, 88), clientEvents);
        // STOP_SENDING is answered with RESET_STREAM carrying the same code.
        Assert.Contains(new StreamEvent(StreamEventKind.PeerReset, b, 88), serverEvents);
        Assert.Throws<InvalidOperationException>(() => pair.Server.Read(a, new byte[10], out _));
        // Discarded and reset data returned its connection credit: a new stream can use the full window again.
        Assert.True(pair.Client.PeerMaxData >= pair.Client.ConnectionBytesSent + 96 * 1024 / 2);
    }

    [Fact]
    public void WriterCutShortIsWokenOnlyOnceAQuarterOfTheSendBufferIsFree()
    {
        // Waking the writer at the first acknowledged byte cost a thread-pool wake-up and a lock fight per ACK.
        var client = Table(client: true);
        Assert.True(client.TryOpenStream(bidirectional: true, out ulong id));
        Assert.Equal(128 * 1024, client.Write(id, new byte[200 * 1024], fin: false));   // the 128 KB buffer is full
        Assert.Empty(Drain(client).Where(e => e.Kind == StreamEventKind.Writable));

        // The peer's 32 KB stream window lets 32 KB go: a quarter of the buffer, the threshold.
        var frames = new List<SentFrame>();
        var packet = new byte[1200];
        while (client.WriteFrames(packet, frames) > 0) { }
        var data = frames.Where(f => f.FrameType == FrameType.Stream).ToList();
        Assert.Equal(32UL * 1024, (ulong)data.Sum(f => (long)f.Length));

        for (int i = 0; i < data.Count - 1; i++)
        {
            client.OnFrameAcked(data[i]);
            Assert.DoesNotContain(Drain(client), e => e.Kind == StreamEventKind.Writable);
        }
        client.OnFrameAcked(data[^1]);
        Assert.Single(Drain(client), e => e.Kind == StreamEventKind.Writable && e.StreamId == id);
        Assert.Equal(32 * 1024, client.Write(id, new byte[200 * 1024], fin: false));
    }

    [Fact]
    public void LostControlFramesAreResentWithCurrentValues()
    {
        var server = Table(client: false);
        Assert.True(server.TryOnStream(new StreamFrame(0, 0, new byte[20 * 1024], false), out _));
        server.Read(0, new byte[20 * 1024], out _);
        var frames = new List<SentFrame>();
        var buffer = new byte[1200];
        int n = server.WriteFrames(buffer, frames);
        Assert.True(n > 0);
        var sent = frames.Single(f => f.FrameType == FrameType.MaxStreamData);
        Assert.Equal(20UL * 1024 + 32 * 1024, sent.Value);
        // More is read (the limit rises) before the loss is detected: the resend carries the new limit.
        Assert.True(server.TryOnStream(new StreamFrame(0, 20 * 1024, new byte[32 * 1024], false), out _));
        server.Read(0, new byte[32 * 1024], out _);
        frames.Clear();
        server.WriteFrames(buffer, frames);
        var newer = frames.Single(f => f.FrameType == FrameType.MaxStreamData);
        server.OnFrameLost(sent);
        frames.Clear();
        server.WriteFrames(buffer, frames);
        Assert.Equal(newer.Value, frames.Single(f => f.FrameType == FrameType.MaxStreamData).Value);
        // Once acknowledged, a loss of an older copy does not resend.
        server.OnFrameAcked(frames[0]);
        server.OnFrameLost(newer);
        Assert.False(server.HasPendingFrames);
    }

    [Fact]
    public void SteadyStateDataPathDoesNotAllocate()
    {
        var clientSettings = Small();
        clientSettings.IsClient = true;
        var serverSettings = Small();
        var client = new StreamTable(clientSettings);
        var server = new StreamTable(serverSettings);
        var p = new TransportParameters();
        Small().ApplyTo(p);
        client.SetPeerLimits(p);
        server.SetPeerLimits(p);
        var toServer = new TableFrameHandler(server) { Record = false };
        var toClient = new TableFrameHandler(client) { Record = false };
        Assert.True(client.TryOpenStream(true, out ulong id));
        var chunk = new byte[1100];
        var packet = new byte[1200];
        var readBuffer = new byte[4096];
        var sent = new List<SentFrame>(16);
        var sentBack = new List<SentFrame>(16);

        void Round()
        {
            client.Write(id, chunk, false);
            sent.Clear();
            int n = client.WriteFrames(packet, sent);
            if (n > 0)
            {
                Assert.True(FrameDecoder.TryDecode(packet.AsMemory(0, n), QuicPacketType.OneRtt, ref toServer, out _, out _));
                foreach (var f in sent) client.OnFrameAcked(f);
            }
            while (server.Read(id, readBuffer, out _) > 0) { }
            sentBack.Clear();
            n = server.WriteFrames(packet, sentBack);
            if (n > 0)
            {
                Assert.True(FrameDecoder.TryDecode(packet.AsMemory(0, n), QuicPacketType.OneRtt, ref toClient, out _, out _));
                foreach (var f in sentBack) server.OnFrameAcked(f);
            }
            while (client.TryDequeueEvent(out _)) { }
            while (server.TryDequeueEvent(out _)) { }
        }

        for (int i = 0; i < 2000; i++) Round();
        ulong before = server.LocalMaxData;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5000; i++) Round();
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        Assert.True(server.LocalMaxData > before + 4_000_000);   // data really flowed (≈5.5 MB)
        // Per round, even one small object would be over 100 KB in 5000 rounds. Two 4 KB chunks are tolerated: the chunk pool is
        // process-wide, and a connection some earlier test left running can empty its bucket just as this test rents
        // (seen once in CI: 5112 bytes).
        Assert.True(allocated < 2 * 4096 + 1024, $"{allocated} bytes allocated");
    }
}
