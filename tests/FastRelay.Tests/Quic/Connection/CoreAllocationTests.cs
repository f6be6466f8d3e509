using Xunit;

namespace FastRelay.Tests.Quic.Connection;

/// <summary>
/// The per-packet path of a connection (build, protect, unprotect, parse, streams, ACKs, recovery) allocates nothing.
/// Runs alone: the stream chunk pool is process-wide, and tests moving megabytes next to it would take its arrays.
/// </summary>
[Collection(AllocationMeasurements.Name)]
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
        // Best of four windows: the chunk pool is process-wide, so tests running in parallel can briefly take its arrays.
        long best = long.MaxValue;
        int bestDatagrams = 0;
        for (int window = 0; window < 4; window++)
        {
            datagrams = 0;
            long before = GC.GetAllocatedBytesForCurrentThread();
            Pump(8 << 20);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (allocated < best) (best, bestDatagrams) = (allocated, datagrams);
        }
        Assert.True(bestDatagrams > 3_000, $"only {bestDatagrams} datagrams");
        // Allow a few stray bytes (e.g. a pool growing once), not a per-packet object.
        Assert.True(best < bestDatagrams, $"{best} bytes allocated over {bestDatagrams} datagrams");
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationMeasurements
{
    public const string Name = "Allocation measurements (run alone)";
}
