using FastRelay.Protocols.Quic.Api;
using Xunit;

namespace FastRelay.Tests.Quic.Api;

/// <summary>Path MTU discovery over real loopback sockets (MTU 65536, DF set): the probe at the configured maximum fits at once.</summary>
public sealed class PathMtuLoopbackTests
{
    private static readonly TimeSpan RaiseInterval = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task Both_ends_move_to_the_probed_size_and_data_stays_intact()
    {
        await using var pair = await LoopbackPair.StartAsync(proxy: true,
            client: c => { c.MaxPathMtuProbeSize = 20_000; c.PathMtuRaiseInterval = RaiseInterval; },
            server: s => { s.MaxPathMtuProbeSize = 20_000; s.PathMtuRaiseInterval = RaiseInterval; });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var payload = new byte[4_000_000];
        new Random(2).NextBytes(payload);
        var stream = await pair.Client.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, timeout.Token);
        var write = stream.WriteAsync(payload, completeWrites: true, timeout.Token).AsTask();
        var incoming = await pair.Server.AcceptInboundStreamAsync(timeout.Token);
        var received = new MemoryStream();
        await incoming.CopyToAsync(received, timeout.Token);
        await write;
        Assert.Equal(payload, received.ToArray());
        // Under load the proxy drops bulk packets: several large losses in a row look like a black hole (an end falls back
        // to 1200 and searches again), and probes lost to congestion count as too big, so a search can settle low. The
        // short raise interval lets the quiet phase below search again from the maximum, as a path that grew would.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var drain = Task.Run(async () =>
        {
            while (!timeout.IsCancellationRequested)
            {
                var s = await pair.Server.AcceptInboundStreamAsync(timeout.Token);
                await s.CopyToAsync(Stream.Null, timeout.Token);
            }
        });
        // Within the search resolution of the maximum: under bulk load a 20 kB probe can be dropped by a socket buffer
        // (the proxy's), and three such losses make the search settle just below.
        const int Low = 20_000 - FastRelay.Protocols.Quic.Recovery.PathMtuDiscovery.SearchResolution;
        while ((pair.Client.PathMtu < Low || pair.Server.PathMtu < Low) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, timeout.Token);
            // Something to send keeps both ends writing (probes go out when a connection writes).
            var ping = await pair.Client.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
            await ping.WriteAsync(new byte[10], completeWrites: true, timeout.Token);
        }
        Assert.True(pair.Client.PathMtu >= Low, $"client {pair.Client.PathMtu}, server {pair.Server.PathMtu}");
        Assert.True(pair.Server.PathMtu >= Low, $"client {pair.Client.PathMtu}, server {pair.Server.PathMtu}");
        // Datagrams of the probed size crossed the loopback (through the proxy, which forwards them unchanged).
        Assert.Contains(pair.Proxy!.Snapshot(toServer: true), d => d.Length >= Low);
        Assert.DoesNotContain(pair.Proxy.Snapshot(toServer: true), d => d.Length > 20_000);
    }

    [Fact]
    public async Task Off_by_default_nothing_exceeds_1452_bytes()
    {
        await using var pair = await LoopbackPair.StartAsync(proxy: true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stream = await pair.Client.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, timeout.Token);
        await stream.WriteAsync(new byte[500_000], completeWrites: true, timeout.Token);
        var incoming = await pair.Server.AcceptInboundStreamAsync(timeout.Token);
        await incoming.CopyToAsync(Stream.Null, timeout.Token);
        Assert.Equal(1452, pair.Client.PathMtu);
        Assert.DoesNotContain(pair.Proxy!.Snapshot(toServer: true), d => d.Length > 1452);
    }
}
