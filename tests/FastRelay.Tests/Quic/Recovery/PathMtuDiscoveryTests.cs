using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Tests.Quic.Connection;
using Xunit;

namespace FastRelay.Tests.Quic.Recovery;

/// <summary>DPLPMTUD (RFC 8899, RFC 9000 §14.3): the search alone, then two cores over a path with a simulated MTU.</summary>
public sealed class PathMtuDiscoveryTests
{
    /// <summary>Runs the search against a path that carries datagrams up to <paramref name="path"/> bytes.</summary>
    private static (int Size, int Probes) Search(int start, int localMax, ulong peerMax, int path)
    {
        var d = new PathMtuDiscovery(start, localMax);
        d.Start(peerMax, 0);
        long now = 0;
        while (d.TryGetProbeSize(now, out int size))
        {
            if (size <= path) d.OnProbeAcknowledged(size);
            else d.OnProbeLost(size);
            now += 1000;
        }
        return (d.CurrentSize, d.ProbesSent);
    }

    [Theory]
    [InlineData(1500, 9000)]
    [InlineData(1472, 65507)]
    [InlineData(4000, 8972)]
    [InlineData(1452, 1500)]
    public void Search_converges_just_below_the_path_mtu(int path, int localMax)
    {
        var (size, probes) = Search(1452, localMax, 65527, path);
        Assert.InRange(size, Math.Min(path, localMax) - PathMtuDiscovery.SearchResolution, Math.Min(path, localMax));
        Assert.True(probes < 60, $"{probes} probes");
    }

    [Fact]
    public void The_first_probe_is_the_maximum_and_the_peer_bounds_it()
    {
        var d = new PathMtuDiscovery(1452, 65507);
        d.Start(peerMaxUdpPayloadSize: 4000, 0);
        Assert.True(d.TryGetProbeSize(0, out int size));
        Assert.Equal(4000, size);
        d.OnProbeAcknowledged(size);
        Assert.Equal(4000, d.CurrentSize);
        Assert.False(d.TryGetProbeSize(1, out _)); // nothing above the peer's limit
    }

    [Fact]
    public void A_probe_is_abandoned_only_after_three_losses_and_the_search_restarts_after_the_raise_interval()
    {
        var d = new PathMtuDiscovery(1452, 9000);
        d.Start(65527, 0);
        for (int i = 0; i < PathMtuDiscovery.MaxProbes; i++)
        {
            Assert.True(d.TryGetProbeSize(i, out int size));
            Assert.Equal(9000, size);
            d.OnProbeLost(size);
        }
        Assert.True(d.TryGetProbeSize(10, out int next));
        Assert.True(next < 9000 && next > 1452);
        // Finish the search on a 1452-byte path, then nothing until the raise timer.
        d.OnProbeLost(next);
        long now = 10;
        while (d.TryGetProbeSize(++now, out int s)) d.OnProbeLost(s);
        Assert.Equal(1452, d.CurrentSize);
        Assert.False(d.TryGetProbeSize(now + 1, out _));
        Assert.True(d.TryGetProbeSize(now + (long)PathMtuDiscovery.DefaultRaiseInterval.TotalMicroseconds + 1, out _));
    }

    [Fact]
    public void A_search_that_settled_low_tries_the_maximum_again_after_the_configured_raise_interval()
    {
        var d = new PathMtuDiscovery(1452, 9000, raiseInterval: TimeSpan.FromSeconds(2));
        d.Start(65527, 0);
        long now = 0;
        // Every probe lost (as congestion can make them): the search settles at the starting size.
        while (d.TryGetProbeSize(++now, out int s)) d.OnProbeLost(s);
        Assert.Equal(1452, d.CurrentSize);
        Assert.False(d.TryGetProbeSize(now + 1_999_999, out _));
        Assert.True(d.TryGetProbeSize(now + 2_000_000, out int again));
        Assert.Equal(9000, again);
        d.OnProbeAcknowledged(again);
        Assert.Equal(9000, d.CurrentSize);
    }

    [Fact]
    public void Black_hole_falls_back_to_1200_and_an_acknowledged_large_packet_resets_the_count()
    {
        var d = new PathMtuDiscovery(1452, 9000);
        d.Start(65527, 0);
        for (int i = 0; i < PathMtuDiscovery.BlackHoleLosses - 1; i++) Assert.False(d.OnPacketLost(1452, 10 + i));
        d.OnPacketAcknowledged(1452, sentAt: 100);
        // A burst lost before a large packet that got through is congestion, not a black hole.
        for (int i = 0; i < 3 * PathMtuDiscovery.BlackHoleLosses; i++) Assert.False(d.OnPacketLost(1452, 50 + i));
        for (int i = 0; i < PathMtuDiscovery.BlackHoleLosses - 1; i++) Assert.False(d.OnPacketLost(1452, 200 + i));
        Assert.False(d.OnPacketLost(1100, 300)); // small packets say nothing about the MTU
        Assert.True(d.OnPacketLost(1452, 301));
        Assert.Equal(PathMtuDiscovery.BasePlpmtu, d.CurrentSize);
        Assert.Equal(1, d.BlackHolesDetected);
    }

    [Fact]
    public void Two_cores_find_a_simulated_path_mtu_and_then_send_bulk_data_in_it()
    {
        using var pair = new CorePair(c => c.MaxPathMtuProbeSize = 9000, s => s.MaxPathMtuProbeSize = 9000) { PathMtu = 3000 };
        Assert.True(pair.Handshake());
        var payload = new byte[2_000_000];
        new Random(8).NextBytes(payload);
        Assert.Equal(payload, pair.Transfer(payload).Received);
        // The server sends mostly ACKs, so its lost probes are found by its PTO: give both searches virtual time to end.
        const int Low = 3000 - PathMtuDiscovery.SearchResolution;
        Assert.True(pair.RunUntil(() => pair.Server!.PathMtu >= Low && pair.Client.PathMtu >= Low, 60_000_000),
            $"client at {pair.Client.PathMtu}, server at {pair.Server!.PathMtu}");
        Assert.InRange(pair.Server!.PathMtu, Low, 3000);
        Assert.InRange(pair.Client.PathMtu, Low, 3000);
        // Now a transfer uses the discovered size: most client datagrams are above the old 1452-byte limit.
        int before = pair.ServerBound.Count;
        Assert.Equal(payload, pair.Transfer(payload).Received);
        var second = pair.ServerBound.Skip(before).ToList();
        Assert.True(second.Count(d => d.Length >= Low) > second.Count / 2, $"{second.Count(d => d.Length >= Low)} of {second.Count} at the discovered size");
    }

    [Fact]
    public void A_path_that_shrinks_is_detected_as_a_black_hole_and_the_transfer_completes()
    {
        using var pair = new CorePair(c => c.MaxPathMtuProbeSize = 9000, s => s.MaxPathMtuProbeSize = 9000) { PathMtu = 3000 };
        Assert.True(pair.Handshake());
        var payload = new byte[1_000_000];
        new Random(9).NextBytes(payload);
        Assert.Equal(payload, pair.Transfer(payload).Received);
        Assert.True(pair.RunUntil(() => pair.Client.PathMtu >= 2900, 60_000_000));
        pair.PathMtu = 1400; // a route change: everything above 1400 bytes now vanishes
        Assert.Equal(payload, pair.Transfer(payload).Received);
        Assert.True(pair.Client.PathMtuDiscovery.BlackHolesDetected >= 1);
        Assert.True(pair.Client.PathMtu <= 1400, $"client still at {pair.Client.PathMtu}");
    }

    [Fact]
    public void Probes_stop_at_the_peers_max_udp_payload_size()
    {
        using var pair = new CorePair(c => { c.MaxPathMtuProbeSize = 65507; c.MaxUdpPayloadSize = 5000; },
            s => s.MaxPathMtuProbeSize = 65507);
        Assert.True(pair.Handshake());
        pair.Transfer(new byte[500_000]);
        Assert.Equal(5000, pair.Server!.PathMtu);
        Assert.DoesNotContain(pair.ClientBound, d => d.Length > 5000);
        Assert.Contains(pair.ClientBound, d => d.Length == 5000);
    }

    [Fact]
    public void Without_discovery_nothing_exceeds_1452_bytes()
    {
        using var pair = new CorePair();
        Assert.True(pair.Handshake());
        pair.Transfer(new byte[300_000]);
        Assert.DoesNotContain(pair.ServerBound, d => d.Length > 1452);
        Assert.DoesNotContain(pair.ClientBound, d => d.Length > 1452);
        Assert.Equal(1452, pair.Server!.PathMtu);
    }
}
