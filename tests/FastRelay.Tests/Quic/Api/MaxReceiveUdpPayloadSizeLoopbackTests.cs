using FastRelay.Protocols.Quic.Api;
using Xunit;

namespace FastRelay.Tests.Quic.Api;

/// <summary>
/// QuicConnectionOptions.MaxReceiveUdpPayloadSize is advertised as max_udp_payload_size and the peer keeps to it: what a
/// fast-path relay asks of its publishers so that a kernel copy sealed for an encrypted subscriber has room for the tag
/// (RelayFastPath.MaxReceiveUdpPayloadSize, docs/quic-encrypted-fast-path.md).
/// </summary>
public sealed class MaxReceiveUdpPayloadSizeLoopbackTests
{
    [Fact]
    public async Task A_client_sends_no_datagram_larger_than_the_server_advertised()
    {
        const int limit = 1436;
        await using var pair = await LoopbackPair.StartAsync(proxy: true, server: s => s.MaxReceiveUdpPayloadSize = limit);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stream = await pair.Client.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, timeout.Token);
        await stream.WriteAsync(new byte[300_000], completeWrites: true, timeout.Token);
        var incoming = await pair.Server.AcceptInboundStreamAsync(timeout.Token);
        await incoming.CopyToAsync(Stream.Null, timeout.Token);

        var toServer = pair.Proxy!.Snapshot(toServer: true);
        Assert.DoesNotContain(toServer, d => d.Length > limit);
        // Bulk data fills datagrams up to the limit (so the limit, not something smaller, is what held them).
        Assert.Contains(toServer, d => d.Length == limit);
        // The other direction is unchanged: the client advertised nothing smaller than the default.
        Assert.Equal(1452, pair.Server.PathMtu);
    }
}
