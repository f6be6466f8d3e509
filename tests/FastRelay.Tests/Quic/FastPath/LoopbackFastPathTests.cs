using System.Buffers.Binary;
using System.Diagnostics;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Quic.Api;
using Xunit;

namespace FastRelay.Tests.Quic.FastPath;

/// <summary>
/// The fast-path API of <see cref="QuicConnection"/> / <see cref="QuicStream"/> over real UDP sockets on loopback, with a
/// capturing proxy in the middle. On the relay side the proxy hosts the <see cref="KernelStandIn"/> (a test double of
/// the TC egress program, built in parallel by another helper): it renumbers the relay's datagrams on their way and
/// injects the copies, and a drain loop reports to the relay's connection with kernel-clock (ns) timestamps.
/// </summary>
public sealed class LoopbackFastPathTests
{
    private static byte[] Bytes(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static bool DrainedAndAcknowledged(KernelStandIn kernel, QuicConnection relay)
    {
        kernel.Drain(relay);
        return relay.GetPathStatistics().BytesInFlight == 0;
    }

    /// <summary>A 0xBAAD pair through the proxy, the stand-in numbering the relay's (server's) packets on their way, and
    /// numbering moved to it once HANDSHAKE_DONE settled (the relay switches on a quiet, confirmed connection).</summary>
    private static async Task<LoopbackPair> StartKernelNumberedAsync(KernelStandIn kernel, Action<UdpCapturingProxy>? proxy = null)
    {
        var pair = await LoopbackPair.StartAsync(proxy: true,
            client: c => c.Disable1RttEncryption = true, server: s => s.Disable1RttEncryption = true,
            configureProxy: p =>
            {
                p.RewriteToClient = d => kernel.Egress(d, Stopwatch.GetTimestamp());
                proxy?.Invoke(p);
            });
        Assert.True(pair.Server.Is1RttEncryptionDisabled);
        await Task.Delay(50);
        kernel.Activate(pair.Server.BeginExternalPacketNumbering());
        return pair;
    }

    private static async Task<byte[]> ReadAllAsync(QuicStream stream, CancellationToken token)
    {
        var into = new MemoryStream();
        await stream.CopyToAsync(into, token);
        return into.ToArray();
    }

    [Fact]
    public async Task In_a_send_coalescing_scope_a_kernel_numbered_connection_sends_at_its_end_and_an_encrypted_one_at_once()
    {
        var kernel = new KernelStandIn();
        await using var numbered = await StartKernelNumberedAsync(kernel);
        await using var encrypted = await LoopbackPair.StartAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var draining = Task.Factory.StartNew(() =>
        {
            while (!timeout.IsCancellationRequested)
            {
                kernel.Drain(numbered.Server);
                Thread.Sleep(1);
            }
        }, TaskCreationOptions.LongRunning);
        var numberedStream = await numbered.Server.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
        var encryptedStream = await encrypted.Server.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
        var header = Bytes(40, 71);
        var other = Bytes(40, 72);
        var readNumbered = Task.Run(async () => await ReadAllAsync(await numbered.Client.AcceptInboundStreamAsync(timeout.Token), timeout.Token));
        var readEncrypted = Task.Run(async () => await ReadAllAsync(await encrypted.Client.AcceptInboundStreamAsync(timeout.Token), timeout.Token));

        int keptBefore, keptAfterNumbered, keptAfterEncrypted;
        using (var scope = Protocols.Quic.Io.SendCoalescing.Begin())
        {
            // Writes that need no wait complete on this thread, their send pass inside the call.
            keptBefore = scope.Kept;
            Assert.True(numberedStream.WriteAsync(header, completeWrites: true, timeout.Token).IsCompletedSuccessfully);
            keptAfterNumbered = scope.Kept;
            Assert.True(encryptedStream.WriteAsync(other, completeWrites: true, timeout.Token).IsCompletedSuccessfully);
            keptAfterEncrypted = scope.Kept;
        }
        // The numbered connection's packet waited for the scope's end (its number is written on the way out); the
        // encrypted one's, numbered already, left at once: held back it could arrive after a later packet of its own.
        Assert.True(keptAfterNumbered > keptBefore, $"kept {keptBefore} then {keptAfterNumbered}");
        Assert.Equal(keptAfterNumbered, keptAfterEncrypted);
        Assert.Equal(header, await readNumbered);
        Assert.Equal(other, await readEncrypted);
        timeout.Cancel();
        await draining;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Publisher_stream_marked_fast_path_crosses_the_wire_in_the_contract_layout(bool byConnectionOption)
    {
        await using var pair = await LoopbackPair.StartAsync(proxy: true,
            client: c =>
            {
                c.Disable1RttEncryption = true;
                c.FastPathUnidirectionalStreams = byConnectionOption;
            },
            server: s => s.Disable1RttEncryption = true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var payload = Bytes(50_000, 60);
        var stream = await pair.Client.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
        if (!byConnectionOption) stream.UseFastPathLayout = true;
        Assert.True(stream.UseFastPathLayout);
        var reading = Task.Run(async () => await ReadAllAsync(await pair.Server.AcceptInboundStreamAsync(timeout.Token), timeout.Token));
        await stream.WriteAsync(payload, completeWrites: true, timeout.Token);
        Assert.Equal(payload, await reading);

        var shortHeader = pair.Proxy!.Snapshot(toServer: true).Where(d => (d[0] & 0x80) == 0).ToList();
        static bool IsFastPathLayout(byte[] d) => d.Length > QuicConnectionCore.FastPathDataOffset && (d[QuicConnectionCore.FastPathFrameOffset] | 1) == 0x0D;
        var covered = new bool[payload.Length];
        long fastPathBytes = 0;
        foreach (var d in shortHeader.Where(IsFastPathLayout))
        {
            Assert.Equal(0x43, d[0] & 0xDB);
            Assert.Equal((ulong)stream.Id, BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(QuicConnectionCore.FastPathStreamIdOffset)) & 0x3FFF_FFFF_FFFF_FFFF);
            int offset = (int)(BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(QuicConnectionCore.FastPathStreamOffsetOffset)) & 0x3FFF_FFFF_FFFF_FFFF);
            var data = d.AsSpan(QuicConnectionCore.FastPathDataOffset);
            Assert.True(data.SequenceEqual(payload.AsSpan(offset, data.Length)));
            Array.Fill(covered, true, offset, data.Length);
            fastPathBytes += data.Length;
        }
        // Retransmissions use ordinary packets (a datagram the loaded proxy or socket dropped is sent again that way):
        // every byte is in a fast-path packet or such a resend, and new data went in the fast-path layout.
        foreach (var d in shortHeader.Where(d => !IsFastPathLayout(d)))
        {
            var h = new CollectingHandler();
            if (!FrameDecoder.TryDecode(d.AsMemory(1 + 8 + (d[0] & 3) + 1), QuicPacketType.OneRtt, ref h, out _, out _)) continue;
            foreach (var f in h.Frames.OfType<StreamFrame>().Where(f => f.StreamId == (ulong)stream.Id && f.Data.Length > 0))
            {
                Assert.True(f.Data.Span.SequenceEqual(payload.AsSpan((int)f.Offset, f.Data.Length)));
                Array.Fill(covered, true, (int)f.Offset, f.Data.Length);
            }
        }
        Assert.True(Array.TrueForAll(covered, c => c), $"bytes at {Array.IndexOf(covered, false)} and on crossed the wire in no packet seen");
        Assert.True(fastPathBytes >= payload.Length / 2, $"fast-path packets carried only {fastPathBytes} of {payload.Length} bytes");
    }

    [Fact]
    public async Task Relay_connection_numbered_by_the_kernel_delivers_a_shadow_stream_with_forwarded_copies()
    {
        var kernel = new KernelStandIn();
        await using var pair = await StartKernelNumberedAsync(kernel);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        // A dedicated thread, like the relay's ring-buffer reader: on the thread pool, tests running in parallel can
        // starve it for longer than the ACK hold time.
        Exception? drainFailure = null;
        var draining = new Thread(() =>
        {
            try
            {
                while (!timeout.IsCancellationRequested)
                {
                    kernel.Drain(pair.Server);
                    Thread.Sleep(1);
                }
            }
            catch (Exception e) { drainFailure = e; }
        }) { IsBackground = true, Name = "ring buffer drain (stand-in)" };
        draining.Start();

        const int header = 9, chunk = 1100, chunks = 30;
        var bytes = Bytes(header + chunks * chunk, 61);
        var relayStream = await pair.Server.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
        relayStream.BeginKernelForwarding(header);
        await relayStream.WriteAsync(bytes.AsMemory(0, header), timeout.Token);
        var reading = Task.Run(async () => await ReadAllAsync(await pair.Client.AcceptInboundStreamAsync(timeout.Token), timeout.Token));
        await Eventually.TrueAsync(() => kernel.SubscriberConnectionId is not null, "the relay's first numbered packet");

        for (int c = 0; c < chunks; c++)
        {
            int offset = header + c * chunk;
            bool last = c == chunks - 1;
            var credit = pair.Server.GetFastPathCredit(relayStream.Id);   // what the glue would write into the kernel's maps
            var copy = kernel.Forward((ulong)relayStream.Id, (ulong)offset, bytes.AsSpan(offset, chunk), last, Stopwatch.GetTimestamp(),
                streamLimit: credit.StreamLimit, connectionCredit: credit.ConnectionRemaining);
            Assert.NotNull(copy);
            if (c != 7) pair.Proxy!.InjectToClient(copy);   // one copy is lost on the way: the relay resends it from its shadow
            await relayStream.WriteAsync(bytes.AsMemory(offset, chunk), completeWrites: last, timeout.Token);
        }
        Assert.Equal(bytes, await reading);
        Assert.Null(drainFailure);
        // The client may have read the last copies before their reports were drained: wait for the reports.
        await Eventually.TrueAsync(() => kernel.PendingEvents == 0 && pair.Server.GetPathStatistics().BytesInFlight == 0,
            "every report drained and every packet of the relay acknowledged");
        var final = pair.Server.GetFastPathCredit(relayStream.Id);   // stream figures are zeros once it is complete and released
        Assert.True(final.ConnectionLimit >= final.ConnectionSent);
        Assert.True(final.ConnectionSent >= (ulong)bytes.Length, $"connection counted {final.ConnectionSent} sent: the kernel's copies count");
        var stats = pair.Server.GetPathStatistics();
        // Kernel timestamps (ns) and the stack's clock (µs) are one clock: a loopback RTT, not a skewed or negative one.
        Assert.True(stats.HasRttSample);
        Assert.InRange(stats.MinRtt, 0, 200_000);
        List<ulong> Numbers() => pair.Proxy!.Snapshot(toServer: false).Where(d => (d[0] & 0x80) == 0)
            .Select(d => (ulong)BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(QuicConnectionCore.FastPathPacketNumberOffset)))
            .Where(n => n >= kernel.WireNumbers[0]).ToList();
        // The copy not injected is the one number the client never saw; everything else went out once. (The proxy
        // numbers a datagram just before it records it: wait for the record rather than race it.)
        await Eventually.TrueAsync(() => Numbers().Count == kernel.WireNumbers.Count - 1, "every numbered datagram recorded once");
        var numbers = Numbers();
        Assert.Equal(numbers.Count, numbers.Distinct().Count());
        timeout.Cancel();
        draining.Join();
        Assert.Null(drainFailure);
    }

    /// <summary>The relay's event consumer sleeps between polls: an ACK of numbers the kernel has not reported yet is the
    /// moment it must drain (the ACK is held and the bytes stay in flight until then), so the connection asks, once per new
    /// hold, through <see cref="QuicConnection.OnRegistrationWanted"/> (it also asks when it sends packets for numbering:
    /// <see cref="A_packet_of_our_own_sent_for_numbering_asks_for_a_drain_without_any_ack"/>).</summary>
    [Fact]
    public async Task An_ack_of_numbers_not_reported_yet_asks_for_a_drain_once_per_new_hold()
    {
        var kernel = new KernelStandIn();
        await using var pair = await StartKernelNumberedAsync(kernel);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var asked = 0;
        pair.Server.OnRegistrationWanted(() => Interlocked.Increment(ref asked));

        var first = Bytes(3000, 62);
        var second = Bytes(3000, 63);
        var relayStream = await pair.Server.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
        var reading = Task.Run(async () => await ReadAllAsync(await pair.Client.AcceptInboundStreamAsync(timeout.Token), timeout.Token));
        // Nothing drains the stand-in's reports: the client's ACKs name numbers the relay has not been told of.
        await relayStream.WriteAsync(first, timeout.Token);
        await Eventually.TrueAsync(() => Volatile.Read(ref asked) > 0, "the held ACK asked for a drain");
        // A drain per ask, as the relay's consumer does (the sends ask too, before the stand-in saw all their packets).
        await Eventually.TrueAsync(() => DrainedAndAcknowledged(kernel, pair.Server), "the held ACK applied once the numbers were reported");

        // The hold was released: the next one asks again.
        var before = Volatile.Read(ref asked);
        await relayStream.WriteAsync(second, completeWrites: true, timeout.Token);
        await Eventually.TrueAsync(() => Volatile.Read(ref asked) > before, "a new hold asked again");
        await Eventually.TrueAsync(() => DrainedAndAcknowledged(kernel, pair.Server), "everything acknowledged after the second drain");
        var received = await reading;
        Assert.Equal(first.Concat(second).ToArray(), received);

        // Stopped: a later hold asks nobody.
        pair.Server.OnRegistrationWanted(null);
        var stopped = Volatile.Read(ref asked);
        await pair.Server.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
        Assert.Equal(stopped, Volatile.Read(ref asked));
    }

    /// <summary>A batch of reports skips its send pass unless it changed what the connection may send: a registration whose
    /// number the peer had already acknowledged frees congestion window. Here the relay's whole window waits on such held
    /// ACKs (nothing drains until the connection asks); if the batch that applies them did not send, the blocked rest of the
    /// stream would wait for a datagram or timer that never comes (the peer has acknowledged everything it received).</summary>
    [Fact]
    public async Task A_report_batch_that_applies_held_acks_sends_what_waited_for_the_window()
    {
        var kernel = new KernelStandIn();
        await using var pair = await StartKernelNumberedAsync(kernel);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var asked = 0;
        pair.Server.OnRegistrationWanted(() => Interlocked.Increment(ref asked));
        var bytes = Bytes(400_000, 64);   // many initial windows: most of it waits for window freed by held ACKs
        var relayStream = await pair.Server.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
        var reading = Task.Run(async () => await ReadAllAsync(await pair.Client.AcceptInboundStreamAsync(timeout.Token), timeout.Token));
        var writing = relayStream.WriteAsync(bytes, completeWrites: true, timeout.Token).AsTask();
        int drainedAt = 0, batches = 0;
        while (!reading.IsCompleted && !timeout.IsCancellationRequested)
        {
            // Drain only when asked (a held ACK or a packet sent for numbering), one batch per ask, like the relay's consumer.
            int now = Volatile.Read(ref asked);
            if (now != drainedAt)
            {
                drainedAt = now;
                if (kernel.DrainBatch(pair.Server) > 0) batches++;
            }
            await Task.WhenAny(reading, Task.Delay(1));
        }
        Assert.Equal(bytes, await reading);
        await writing;
        Assert.True(batches > 1, $"{batches} batches: the window was refilled by applied held ACKs more than once");
    }

    /// <summary>A packet of the relay's own on a kernel-numbered connection is in no sent history until the kernel's
    /// report of its number is consumed: if it is lost, nothing but that report arms its recovery. So the connection asks
    /// for a drain when it sends one, not only when an ACK names it (here every ACK from the client is dropped).</summary>
    [Fact]
    public async Task A_packet_of_our_own_sent_for_numbering_asks_for_a_drain_without_any_ack()
    {
        var kernel = new KernelStandIn();
        var dropAcks = false;
        await using var pair = await StartKernelNumberedAsync(kernel, p => p.DropToServer = _ => Volatile.Read(ref dropAcks));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Volatile.Write(ref dropAcks, true);
        var asked = 0;
        pair.Server.OnRegistrationWanted(() => Interlocked.Increment(ref asked));

        var relayStream = await pair.Server.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
        await relayStream.WriteAsync(Bytes(3000, 64), timeout.Token);

        // No ACK reaches the relay, so no held ACK can be what asks: the send alone does.
        await Eventually.TrueAsync(() => Volatile.Read(ref asked) > 0, "the send asked for a drain");
        // The real kernel's report is in the ring before the send returns; the stand-in (a proxy) numbers a moment later.
        await Eventually.TrueAsync(() => kernel.Drain(pair.Server) > 0, "the stand-in numbered the packets the drain was asked for");
    }
}
