using System.Net;
using System.Net.Sockets;
using FastRelay.Protocols.CustomUdp.Relay;
using FastRelay.Relay;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Runtime;
using Xunit;
using G = FastRelay.Protocols.CustomUdp.CustomUdpHeaderFastPath;

namespace FastRelay.Tests.Packets;

/// <summary>The custom-UDP relay's reads of the kernel cache (KernelDataPlane): what a repair or a late joiner gets.</summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class KernelDataPlaneCacheTests(GeneratedObjects objects)
{
    private sealed class NoSink : IRegistrationSink
    {
        public void OnSent(int slot, ulong subscriberSequence, ulong publisherSequence) { }
        public void OnRegistrationsLost() { }
    }

    private sealed class Plane : IDisposable
    {
        private readonly RelaySession _session;
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);

        public Plane(GeneratedObjects objects)
        {
            _session = new RelaySession(objects, CustomUdpProtocol.Instance);
            _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            Data = new KernelDataPlane(_session.Object, _socket, new NoSink());
            Maps = new G.Maps(_session.Object);
        }

        public KernelDataPlane Data { get; }
        public G.Maps Maps { get; }

        /// <summary>Writes an entry as upstream ingress would, into the channel's ring.</summary>
        public void Put(ushort channel, ulong sequence, byte[] payload, ulong receivedNs, ulong? key = null)
        {
            var ring = Maps.Channels.Lookup(new G.ChannelKey { Id = channel }).CacheBase;
            var entry = new G.CacheEntry { UpstreamPacketNumber = key ?? sequence, ReceivedNs = receivedNs, Length = (uint)payload.Length };
            payload.CopyTo(entry.Data);
            Maps.Cache.Update(ring + (uint)(sequence % G.KernelCachePackets), entry);
        }

        public byte[]? Copy(ushort channel, ulong sequence)
        {
            var buffer = new byte[2048];
            return Data.TryCopy(channel, sequence, buffer, out var length) ? buffer[..length] : null;
        }

        public void Dispose()
        {
            Data.Dispose();
            _socket.Dispose();
            _session.Dispose();
        }
    }

    private static readonly IPEndPoint Upstream = new(IPAddress.Parse("10.9.0.2"), 7400);

    [BpfFact]
    public void Kernel_counters_for_metrics_are_every_fr_stats_field_summed_over_cpus()
    {
        using var plane = new Plane(objects);
        var cpus = plane.Maps.Stats.LookupPerCpu(0u).Length;
        var perCpu = Enumerable.Range(0, cpus).Select(cpu => new G.Stats { Clones = (ulong)(cpu + 1), EventsLost = 2 }).ToArray();
        plane.Maps.Stats.Map.UpdatePerCpu(0u, perCpu.AsSpan());

        var counters = plane.Data.PlaneCounters();

        Assert.Equal((ulong)(cpus * (cpus + 1) / 2), counters["clones"]);
        Assert.Equal((ulong)(2 * cpus), counters["events_lost"]);
        Assert.Equal(0UL, counters["upstream_seen"]);
        Assert.Equal(typeof(G.Stats).GetFields().Count(f => f.FieldType == typeof(ulong)), counters.Count);
    }

    [BpfFact]
    public void Repairs_read_the_channels_own_ring_and_only_whole_entries_with_the_right_key()
    {
        using var plane = new Plane(objects);
        plane.Data.SetChannel(1, Upstream, []);
        plane.Data.SetChannel(2, Upstream, []);
        Assert.NotEqual(plane.Maps.Channels.Lookup(new G.ChannelKey { Id = 1 }).CacheBase, plane.Maps.Channels.Lookup(new G.ChannelKey { Id = 2 }).CacheBase);

        plane.Put(2, 40, [1, 2, 3], 100);
        plane.Put(2, 41, [4, 5], 100, key: G.CacheWriting);       // the kernel is rewriting it
        plane.Put(2, 42 + G.KernelCachePackets, [6], 100);          // the ring has wrapped over 42

        Assert.Equal(new byte[] { 1, 2, 3 }, plane.Copy(2, 40));
        Assert.Null(plane.Copy(1, 40));                             // another channel's ring
        Assert.Null(plane.Copy(2, 41));
        Assert.Null(plane.Copy(2, 42));
        Assert.Equal(new byte[] { 6 }, plane.Copy(2, 42 + G.KernelCachePackets));
        Assert.Null(plane.Copy(3, 40));                             // a channel the relay never set up
    }

    [BpfFact]
    public void History_lists_what_arrived_since_and_a_takeover_forgets_everything()
    {
        using var plane = new Plane(objects);
        plane.Data.SetChannel(5, Upstream, []);
        plane.Put(5, 7, [7], receivedNs: 1_000);
        plane.Put(5, 8, [8], receivedNs: 2_000);
        plane.Put(5, 9, [9], receivedNs: 3_000, key: G.CacheWriting);

        var since = new List<ulong>();
        plane.Data.AddSince(5, 2_000, since);
        Assert.Equal([8UL], since);

        plane.Data.Forget(5);
        Assert.Null(plane.Copy(5, 8));
        since.Clear();
        plane.Data.AddSince(5, 0, since);
        Assert.Empty(since);
    }
}
