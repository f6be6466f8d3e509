using Xunit;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Tests.Quic.Api;

namespace FastRelay.Tests.Quic.Versions;

/// <summary>QUIC v2 between our listener and our client over real UDP sockets, checked on the wire by a capturing proxy.</summary>
public sealed class VersionLoopbackTests
{
    private static List<uint> LongHeaderVersions(IEnumerable<byte[]> datagrams, QuicPacketType? type = null)
    {
        var versions = new List<uint>();
        foreach (var d in datagrams)
        {
            var packets = new CoalescedPackets(d, 8);
            while (packets.TryGetNext(out var header, out _))
                if (header.IsLongHeader && (type is null || header.Type == type)) versions.Add(header.Version);
        }
        return versions;
    }

    private static async Task EchoAsync(LoopbackPair pair, int length)
    {
        var payload = new byte[length];
        new Random(length).NextBytes(payload);
        var stream = await pair.Client.OpenOutboundStreamAsync(QuicStreamType.Bidirectional);
        await stream.WriteAsync(payload, completeWrites: true);
        var incoming = await pair.Server.AcceptInboundStreamAsync();
        var received = new MemoryStream();
        await incoming.CopyToAsync(received);
        Assert.Equal(payload, received.ToArray());
    }

    [Fact]
    public async Task A_client_offering_v2_is_upgraded_by_the_default_listener()
    {
        await using var pair = await LoopbackPair.StartAsync(proxy: true, client: c => c.QuicVersions = [QuicVersion.V2, QuicVersion.V1]);
        Assert.Equal(QuicVersion.V2, pair.Client.NegotiatedVersion);
        Assert.Equal(QuicVersion.V2, pair.Server.NegotiatedVersion);
        await EchoAsync(pair, 300_000);
        var toServer = pair.Proxy!.Snapshot(toServer: true);
        var toClient = pair.Proxy.Snapshot(toServer: false);
        Assert.Equal(QuicVersion.V1, LongHeaderVersions(toServer, QuicPacketType.Initial)[0]);   // first flight: v1
        Assert.All(LongHeaderVersions(toClient), v => Assert.Equal(QuicVersion.V2, v));          // every server long header: v2
        Assert.All(LongHeaderVersions(toServer, QuicPacketType.Handshake), v => Assert.Equal(QuicVersion.V2, v));
    }

    [Fact]
    public async Task The_default_client_stays_on_v1()
    {
        await using var pair = await LoopbackPair.StartAsync(proxy: true);
        Assert.Equal(QuicVersion.V1, pair.Client.NegotiatedVersion);
        Assert.All(LongHeaderVersions(pair.Proxy!.Snapshot(toServer: false)), v => Assert.Equal(QuicVersion.V1, v));
    }

    [Fact]
    public async Task A_v2_first_flight_with_retry_completes_in_v2()
    {
        // Retry in the original version (v2 here, RFC 9369 §4) with v2's integrity key, then the handshake in v2.
        await using var pair = await LoopbackPair.StartAsync(proxy: true, retry: true,
            client: c => { c.QuicVersions = [QuicVersion.V2]; });
        Assert.Equal(QuicVersion.V2, pair.Client.NegotiatedVersion);
        var toClient = pair.Proxy!.Snapshot(toServer: false);
        Assert.True(PacketHeaderParser.TryParse(toClient[0], 8, out var first, out _));
        Assert.Equal(QuicPacketType.Retry, first.Type);
        Assert.Equal(QuicVersion.V2, first.Version);
        await EchoAsync(pair, 10_000);
    }

    /// <summary>RFC 9000 §6.2: the server refuses the first flight's version (v1) with Version Negotiation listing v2; the
    /// client, which also speaks v2, connects again in v2 instead of failing.</summary>
    [Fact]
    public async Task After_version_negotiation_the_client_tries_again_in_a_version_the_server_listed()
    {
        await using var pair = await LoopbackPair.StartAsync(proxy: true,
            client: c => { c.QuicVersions = [QuicVersion.V1, QuicVersion.V2]; c.HandshakeTimeout = TimeSpan.FromSeconds(20); },
            server: s => s.QuicVersions = [QuicVersion.V2]);
        Assert.Equal(QuicVersion.V2, pair.Client.NegotiatedVersion);
        Assert.Equal(QuicVersion.V2, pair.Server.NegotiatedVersion);
        await EchoAsync(pair, 100_000);
        var initials = LongHeaderVersions(pair.Proxy!.Snapshot(toServer: true), QuicPacketType.Initial);
        Assert.Equal(QuicVersion.V1, initials[0]);                       // the first attempt
        Assert.Contains(QuicVersion.V2, initials);                        // the second
        Assert.Contains(pair.Proxy.Snapshot(toServer: false), d => d.Length > 5 && (d[0] & 0x80) != 0 && d[1] == 0 && d[2] == 0 && d[3] == 0 && d[4] == 0);
    }

    [Fact]
    public async Task A_listener_without_v2_answers_a_v2_first_flight_with_version_negotiation()
    {
        var error = await Assert.ThrowsAsync<QuicException>(async () =>
        {
            await using var pair = await LoopbackPair.StartAsync(proxy: true,
                client: c => { c.QuicVersions = [QuicVersion.V2]; c.HandshakeTimeout = TimeSpan.FromSeconds(10); },
                server: s => s.QuicVersions = [QuicVersion.V1]);
        });
        Assert.Contains("version", error.Message, StringComparison.OrdinalIgnoreCase);
    }
}
