using System.Net;
using Xunit;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Tls.Handshake;
using FastRelay.Protocols.Quic.Tls.Resumption;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Tests.Quic.Api;

namespace FastRelay.Tests.Quic.Versions;

/// <summary>
/// Session tickets belong to the QUIC version of the connection that issued them (RFC 9369 §5); after compatible
/// negotiation that is the negotiated version, and 0-RTT still travels in the original one (§4).
/// </summary>
public sealed class VersionResumptionTests
{
    private static async Task<QuicListener> ListenAsync() => await QuicListener.ListenAsync(new QuicListenerOptions
    {
        ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
        ApplicationProtocols = ["test"],
        ConnectionOptions = new QuicServerConnectionOptions
        {
            ServerCertificate = LoopbackPair.Certificate.Value, ApplicationProtocols = ["test"], EnableEarlyData = true,
        },
    });

    private static QuicClientConnectionOptions Client(IPEndPoint server, SessionTicketCache cache, List<uint> versions) => new()
    {
        RemoteEndPoint = server, ApplicationProtocols = ["test"], SkipCertificateValidation = true, SessionTickets = cache,
        EnableEarlyData = true, QuicVersions = versions,
    };

    private static async Task<SessionTicket> FirstConnectionAsync(QuicListener listener, IPEndPoint target, SessionTicketCache cache,
        List<uint> versions, CancellationToken token)
    {
        var accept = listener.AcceptConnectionAsync(token).AsTask();
        await using var client = await QuicConnection.ConnectAsync(Client(target, cache, versions), token);
        await using var server = await accept;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (cache.Count == 0 && DateTime.UtcNow < deadline) await Task.Delay(10, token);
        Assert.True(cache.TryTake(SessionTicketCache.KeyFor(target.Address.ToString(), target.Port), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), out var ticket));
        cache.Add(SessionTicketCache.KeyFor(target.Address.ToString(), target.Port), ticket!);
        return ticket!;
    }

    [Fact]
    public async Task A_ticket_from_an_upgraded_connection_is_a_v2_ticket_and_resumes_with_0rtt_sent_in_v1()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var listener = await ListenAsync();
        using var proxy = new UdpCapturingProxy(listener.LocalEndPoint);
        var cache = new SessionTicketCache();
        List<uint> versions = [QuicVersion.V2, QuicVersion.V1];
        var ticket = await FirstConnectionAsync(listener, proxy.EndPoint, cache, versions, timeout.Token);
        Assert.Equal(QuicVersion.V2, ticket.QuicVersion);
        // The file format keeps it.
        Assert.True(SessionTicket.TryDeserialize(ticket.Serialize(), out var reread));
        Assert.Equal(QuicVersion.V2, reread!.QuicVersion);

        int before = proxy.Snapshot(toServer: true).Count;
        var accept = listener.AcceptConnectionAsync(timeout.Token).AsTask();
        await using var client = await QuicConnection.ConnectAsync(Client(proxy.EndPoint, cache, versions), timeout.Token);
        var stream = await client.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, timeout.Token);
        await stream.WriteAsync(new byte[500], completeWrites: true, timeout.Token);
        await using var server = await accept;
        await client.WaitForHandshakeAsync(timeout.Token);
        Assert.True(client.IsResumed);
        Assert.Equal(QuicVersion.V2, client.NegotiatedVersion);
        // Every 0-RTT packet on the wire is in the original version (v1 type bits 0b01, version 1).
        var zeroRtt = new List<uint>();
        foreach (var d in proxy.Snapshot(toServer: true).Skip(before))
        {
            var packets = new CoalescedPackets(d, 8);
            while (packets.TryGetNext(out var header, out _))
                if (header.Type == QuicPacketType.ZeroRtt) zeroRtt.Add(header.Version);
        }
        Assert.All(zeroRtt, v => Assert.Equal(QuicVersion.V1, v));
        Assert.Equal(EarlyDataState.Accepted, client.EarlyDataState);   // the server took v1 0-RTT under a v2 ticket
    }

    [Fact]
    public async Task A_v1_ticket_does_not_resume_a_connection_the_server_upgrades_to_v2()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var listener = await ListenAsync();
        var cache = new SessionTicketCache();
        var ticket = await FirstConnectionAsync(listener, listener.LocalEndPoint, cache, [QuicVersion.V1], timeout.Token);
        Assert.Equal(QuicVersion.V1, ticket.QuicVersion);

        var accept = listener.AcceptConnectionAsync(timeout.Token).AsTask();
        await using var client = await QuicConnection.ConnectAsync(Client(listener.LocalEndPoint, cache, [QuicVersion.V2, QuicVersion.V1]), timeout.Token);
        await using var server = await accept;
        await client.WaitForHandshakeAsync(timeout.Token);
        Assert.Equal(QuicVersion.V2, client.NegotiatedVersion);
        Assert.False(client.IsResumed);               // the server refused the v1 ticket: a full handshake
        Assert.NotEqual(EarlyDataState.Accepted, client.EarlyDataState);
    }
}
