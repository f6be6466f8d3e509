using FastRelay.Protocols.CustomUdp.Relay;
using Xunit;

namespace FastRelay.Tests.CustomUdp;

/// <summary>The relay's per-channel cache used to allocate all its slots (8192 × 2 KiB = 16 MiB) the moment a channel was
/// named, by anyone who passed the cookie handshake, and to keep them for the relay's lifetime. It now costs memory only
/// for the packets it holds, and gives it back when it is cleared.</summary>
public sealed class ChannelCacheTests
{
    [Fact]
    public void A_cache_costs_memory_only_for_the_packets_it_holds()
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var cache = new ChannelCache(8192);
        var packet = Enumerable.Range(0, 300).Select(i => (byte)i).ToArray();
        for (ulong sequence = 0; sequence < 10; sequence++)
            cache.Add(sequence, packet, 1000 + (long)sequence);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.InRange(allocated, 0, 1 << 20); // a 16 MiB slab before
        var copy = new byte[ChannelCache.SlotBytes];
        Assert.True(cache.TryCopy(7, copy, out var length));
        Assert.Equal(packet, copy[..length]);
        Assert.False(cache.TryCopy(8000, copy, out _));
        Assert.Equal(Enumerable.Range(5, 5).Select(i => (ulong)i), cache.SequencesSince(1005));
    }

    [Fact]
    public void Clearing_forgets_every_packet_and_what_it_held_and_the_cache_still_works()
    {
        var cache = new ChannelCache(1024);
        var packet = new byte[100];
        for (ulong sequence = 0; sequence < 1024; sequence++)
            cache.Add(sequence, packet, 1);
        Assert.True(cache.HeldBytes >= 1024 * 100);

        cache.Clear();

        Assert.Equal(0, cache.HeldBytes);
        Assert.False(cache.TryCopy(3, new byte[ChannelCache.SlotBytes], out _));
        cache.Add(3, packet, 2);
        Assert.True(cache.TryCopy(3, new byte[ChannelCache.SlotBytes], out var length));
        Assert.Equal(100, length);
    }
}
