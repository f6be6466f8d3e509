using Xunit;

namespace FastRelay.Tests.Quic.Connection;

/// <summary>The per-packet path of a connection (build, protect, unprotect, parse, streams, ACKs, recovery) allocates nothing.</summary>
public sealed class CoreAllocationTests
{
    [Fact]
    public void A_steady_bulk_transfer_allocates_nothing_per_datagram()
    {
        using var pair = new CorePair();
        Assert.True(pair.RunUntil(() => pair.Client.IsHandshakeComplete && pair.Server?.IsHandshakeComplete == true));
        var client = pair.Client;
        var server = pair.Server!;
        Assert.True(client.Streams.TryOpenStream(false, out ulong id));
        var datagram = new byte[65536];
        var chunk = new byte[16384];
        var sink = new byte[65536];
        long now = pair.Now;
        int datagrams = 0;

        void Pump(long bytes)
        {
            long moved = 0;
            while (moved < bytes)
            {
                now += 20;
                client.Streams.Write(id, chunk, false);
                int n;
                while ((n = client.WriteDatagram(datagram, now)) > 0)
                {
                    server.OnDatagram(datagram.AsMemory(0, n), now);
                    datagrams++;
                }
                try
                {
                    while ((n = server.Streams.Read(id, sink, out _)) > 0) moved += n;
                }
                catch (InvalidOperationException)
                {
                    // not opened on the server yet
                }
                while ((n = server.WriteDatagram(datagram, now)) > 0) client.OnDatagram(datagram.AsMemory(0, n), now);
                // The owner drains events (the API does); left alone, the queues would grow.
                while (client.Streams.TryDequeueEvent(out _) || server.Streams.TryDequeueEvent(out _)) { }
                if (client.NextTimeout <= now) client.OnTimeout(now);
                if (server.NextTimeout <= now) server.OnTimeout(now);
            }
        }

        Pump(48 << 20); // warm-up: pools, windows (auto-tuned) and JIT settle
        datagrams = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        Pump(32 << 20);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(datagrams > 10_000, $"only {datagrams} datagrams");
        // Allow a few stray bytes (e.g. a pool growing once), not a per-packet object.
        Assert.True(allocated < datagrams, $"{allocated} bytes allocated over {datagrams} datagrams");
    }
}
