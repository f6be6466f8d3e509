using FastRelay.Protocols.Moq.Publisher;
using FastRelay.Protocols.Moq.Wire;
using Xunit;

namespace FastRelay.Tests.Moq.Session;

/// <summary>The publisher's per-object write path (MoqSubgroupStream.WriteObjectAsync) allocates nothing in steady state.</summary>
public sealed class MoqSubgroupStreamAllocationTests
{
    [Theory]
    [InlineData(null)]
    [InlineData(5000UL)] // SUBGROUP_DELIVERY_TIMEOUT: each write arms the reused timer
    public async Task Steady_state_object_writes_do_not_allocate(ulong? deliveryTimeoutMs)
    {
        var published = new TaskCompletionSource<MoqTrackPublication>(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new DelegateHandler { Subscribe = async r => published.SetResult(await r.AcceptAsync()) };
        await using var pair = await MoqSessionPair.StartAsync(serverHandler: handler);
        var track = new MoqFullTrackName(MoqTrackNamespace.FromStrings("alloc"), "t");
        await pair.Client.SubscribeAsync(track, new MoqMessageParameters { SubgroupDeliveryTimeoutMs = deliveryTimeoutMs });
        var publication = await published.Task.WaitAsync(MoqSessionPair.Timeout);
        pair.ServerTransport.DiscardNewUnidirectionalStreams = true;
        var stream = await publication.OpenSubgroupAsync(0);
        var payload = new byte[1000];

        ulong id = 0;
        for (int i = 0; i < 2000; i++) await stream.WriteObjectAsync(id++, payload); // warm up (JIT, tiering)
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++) await stream.WriteObjectAsync(id++, payload);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;

        var sink = Assert.IsType<MemoryMoqTransport.DiscardingStream>(pair.ServerTransport.OpenedStreams[^1]);
        Assert.True(sink.BytesWritten > 12_000L * payload.Length, $"{sink.BytesWritten} bytes written"); // the objects really went out
        // Before: a header array per object (at least 32 bytes each, 320 KB here); now nothing per object.
        Assert.True(allocated < 1024, $"{allocated} bytes allocated for 10,000 objects");
    }
}
