using FastRelay.Protocols.Moq.Relay;
using FastRelay.Tests.Moq.Relay.Fakes;
using Xunit;

namespace FastRelay.Tests.Moq.Relay;

/// <summary>
/// The per-object path is the baseline of the kernel fast path: handing an object to one more subscriber allocates
/// nothing in the relay (the object is a struct, its payload shared); what an object costs once (its slot in the cache's
/// list) does not grow with the fan-out.
/// </summary>
public class RelayAllocationTests
{
    private const int Objects = 4000;

    private static async Task<long> AllocatedForAsync(int subscribers)
    {
        var h = new RelayHarness(new RelayOptions { Limits = new RelayLimits { CacheBytesPerTrack = 64L << 20, CacheBytesPerSession = 64L << 20 } });
        var ports = new List<FakeDownstreamPort>();
        for (int i = 0; i < subscribers; i++)
        {
            var (_, port) = await h.SubscribeAsync(h.NewSubscriberPeer());
            port.RecordObjects = false;
            ports.Add(port);
        }
        var stream = h.Publisher.SinkFor(RelayHarness.Video).OpenSubgroup();
        var prepared = Enumerable.Range(0, Objects + 100).Select(i => RelayHarness.Obj(0, (ulong)i, 100)).ToArray();
        for (int i = 0; i < 100; i++) stream.OnObject(prepared[i]); // streams opened, queues sized

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 100; i < prepared.Length; i++) stream.OnObject(prepared[i]);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // Every write completed synchronously on this thread, so all the relay allocated was counted here.
        Assert.All(ports, p => Assert.Equal(Objects + 100, p.Subgroups.Single().Written));
        return allocated;
    }

    [Fact]
    public async Task OneMoreSubscriberCostsNoAllocationPerObject()
    {
        long one = await AllocatedForAsync(1);
        long eight = await AllocatedForAsync(8);
        double perExtraCopy = (double)(eight - one) / Objects / 7;
        Assert.True(perExtraCopy < 2, $"1 subscriber: {one} bytes, 8: {eight} bytes for {Objects} objects = {perExtraCopy:0.00} bytes per extra copy");
        Assert.True(one / Objects < 400, $"{one / Objects} bytes per object at fan-out 1 (the cache list's amortised growth)");
    }
}
