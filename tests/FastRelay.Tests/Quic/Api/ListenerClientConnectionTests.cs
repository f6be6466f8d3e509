using System.Net;
using System.Net.Sockets;
using FastRelay.Protocols.Quic.Api;
using Xunit;

namespace FastRelay.Tests.Quic.Api;

/// <summary>
/// <see cref="QuicListener.ConnectAsync"/>: a client connection from a listener's own UDP socket (an edge relay's upstream
/// link, which the edge's kernel fast path must see on the relay's port), beside the connections the listener accepts.
/// </summary>
public sealed class ListenerClientConnectionTests
{
    private static QuicListenerOptions ListenerOptions(IPEndPoint at, bool disable1Rtt = false) => new()
    {
        ListenEndPoint = at,
        ApplicationProtocols = ["test"],
        ConnectionOptions = new QuicServerConnectionOptions
        {
            ServerCertificate = LoopbackPair.Certificate.Value,
            ApplicationProtocols = ["test"],
            Disable1RttEncryption = disable1Rtt,
        },
    };

    private static QuicClientConnectionOptions ClientOptions(IPEndPoint to, bool disable1Rtt = false) => new()
    {
        RemoteEndPoint = to,
        ApplicationProtocols = ["test"],
        SkipCertificateValidation = true,
        Disable1RttEncryption = disable1Rtt,
    };

    /// <summary>One bidirectional stream: <paramref name="from"/> writes, <paramref name="to"/> echoes it reversed.</summary>
    private static async Task<byte[]> RoundTripAsync(QuicConnection from, QuicConnection to, byte[] payload, CancellationToken cancellationToken)
    {
        var outbound = await from.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, cancellationToken);
        await outbound.WriteAsync(payload, completeWrites: true, cancellationToken);
        var inbound = await to.AcceptInboundStreamAsync(cancellationToken);
        var received = new MemoryStream();
        await inbound.CopyToAsync(received, cancellationToken);
        await inbound.WriteAsync(received.ToArray().Reverse().ToArray(), completeWrites: true, cancellationToken);
        var echoed = new MemoryStream();
        await outbound.CopyToAsync(echoed, cancellationToken);
        return echoed.ToArray();
    }

    [Fact]
    public async Task A_listener_dials_from_its_own_port_while_it_keeps_accepting_and_closes_that_connection_when_it_stops()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var ct = timeout.Token;
        await using var origin = await QuicListener.ListenAsync(ListenerOptions(new IPEndPoint(IPAddress.Loopback, 0), disable1Rtt: true), ct);
        var edge = await QuicListener.ListenAsync(ListenerOptions(new IPEndPoint(IPAddress.Loopback, 0), disable1Rtt: true), ct);
        try
        {
            var originAccept = origin.AcceptConnectionAsync(ct).AsTask();
            await using var upstream = await edge.ConnectAsync(ClientOptions(origin.LocalEndPoint, disable1Rtt: true), ct);
            await using var atOrigin = await originAccept;
            // The origin sees the edge's listening port, not an ephemeral one: the same socket sent it.
            Assert.Equal(edge.LocalEndPoint, upstream.LocalEndPoint);
            Assert.Equal(edge.LocalEndPoint, atOrigin.RemoteEndPoint);
            Assert.True(upstream.Is1RttEncryptionDisabled && atOrigin.Is1RttEncryptionDisabled, "0xBAAD negotiated on the shared socket");

            // A subscriber connects to the edge meanwhile: the endpoint routes both kinds by connection id.
            var edgeAccept = edge.AcceptConnectionAsync(ct).AsTask();
            await using var subscriber = await QuicConnection.ConnectAsync(ClientOptions(edge.LocalEndPoint), ct);
            await using var atEdge = await edgeAccept;

            var big = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7)).ToArray();
            var toOrigin = RoundTripAsync(upstream, atOrigin, big, ct);
            var fromOrigin = RoundTripAsync(atOrigin, upstream, big[..1000], ct);
            var toEdge = RoundTripAsync(subscriber, atEdge, big[..50_000], ct);
            Assert.Equal(big.Reverse(), await toOrigin);
            Assert.Equal(big[..1000].Reverse(), await fromOrigin);
            Assert.Equal(big[..50_000].Reverse(), await toEdge);

            // Stopping the edge's listener closes the connection it dialled too (the origin hears the close).
            await edge.DisposeAsync();
            await atOrigin.Closing.WaitAsync(ct);
            Assert.True(upstream.Closing.IsCompleted);
        }
        finally
        {
            await edge.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_dual_stack_listener_reaches_an_IPv4_peer_and_an_IPv4_listener_refuses_an_IPv6_one()
    {
        if (!Socket.OSSupportsIPv6) return;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var ct = timeout.Token;
        await using var origin = await QuicListener.ListenAsync(ListenerOptions(new IPEndPoint(IPAddress.Loopback, 0)), ct);
        await using var dualStack = await QuicListener.ListenAsync(ListenerOptions(new IPEndPoint(IPAddress.IPv6Any, 0)), ct);
        var accept = origin.AcceptConnectionAsync(ct).AsTask();
        await using var upstream = await dualStack.ConnectAsync(ClientOptions(origin.LocalEndPoint), ct);
        await using var atOrigin = await accept;
        Assert.Equal(origin.LocalEndPoint.Address.MapToIPv6(), upstream.RemoteEndPoint.Address);
        Assert.Equal(dualStack.LocalEndPoint.Port, atOrigin.RemoteEndPoint.Port);
        Assert.Equal(new byte[] { 3, 2, 1 }, await RoundTripAsync(upstream, atOrigin, [1, 2, 3], ct));

        var error = await Assert.ThrowsAsync<QuicException>(async () =>
            await origin.ConnectAsync(ClientOptions(new IPEndPoint(IPAddress.IPv6Loopback, dualStack.LocalEndPoint.Port)), ct));
        Assert.Contains("IPv4 socket", error.Message);
    }
}
