using System.Net;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Quic.Api;
using Xunit;

namespace FastRelay.Tests.Quic.Ecn;

/// <summary>
/// ECN end to end between our client and our server over real loopback sockets (RFC 9000 §13.4): marks, counts in
/// ACK_ECN, validation that passes on a clean path and fails on a bleaching one, and ECN-CE from a "congested router"
/// (a relay that re-sends with TOS 0x03) becoming congestion events at the sender.
/// </summary>
public sealed class EcnLoopbackTests
{
    private static async Task<(QuicListener Listener, QuicConnection Client, QuicConnection Server)> ConnectAsync(IPEndPoint? via,
        Func<IPEndPoint, IPEndPoint>? route = null, bool clientEcn = true, IPAddress? address = null)
    {
        var listener = await QuicListener.ListenAsync(new QuicListenerOptions
        {
            ListenEndPoint = new IPEndPoint(address ?? IPAddress.Loopback, 0),
            ApplicationProtocols = ["test"],
            ConnectionOptions = new QuicServerConnectionOptions { ServerCertificate = LoopbackPair.Certificate.Value, ApplicationProtocols = ["test"] },
        });
        var target = route?.Invoke(listener.LocalEndPoint) ?? listener.LocalEndPoint;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var accept = listener.AcceptConnectionAsync(timeout.Token).AsTask();
        var client = await QuicConnection.ConnectAsync(new QuicClientConnectionOptions
        {
            RemoteEndPoint = target, ApplicationProtocols = ["test"], SkipCertificateValidation = true, EnableEcn = clientEcn,
        }, timeout.Token);
        return (listener, client, await accept);
    }

    /// <summary>Client → server bulk data on one stream; returns when the server read all of it.</summary>
    private static async Task UploadAsync(QuicConnection client, QuicConnection server, int length)
    {
        var payload = new byte[length];
        new Random(length).NextBytes(payload);
        var stream = await client.OpenOutboundStreamAsync(QuicStreamType.Bidirectional);
        var write = stream.WriteAsync(payload, completeWrites: true).AsTask();
        var incoming = await server.AcceptInboundStreamAsync();
        var received = new MemoryStream();
        await incoming.CopyToAsync(received);
        await write;
        Assert.Equal(payload, received.ToArray());
    }

    [Fact]
    public async Task On_a_clean_path_both_ends_validate_ecn_and_report_ect0_counts()
    {
        var (listener, client, server) = await ConnectAsync(null);
        await using (listener) await using (client) await using (server)
        {
            await UploadAsync(client, server, 2_000_000);
            await Eventually.TrueAsync(() => client.EcnState == EcnState.Capable, $"client ECN capable (is {client.EcnState})");
            Assert.Equal(EcnState.Capable, client.EcnState);
            // The server counted ECT(0) on the client's 1-RTT packets (at least one per datagram of 2 MB) and no CE.
            var counts = server.ReceivedEcnCounts;
            Assert.NotNull(counts);
            Assert.True(counts!.Value.Ect0 > 1000, $"ECT(0) count {counts.Value.Ect0}");
            Assert.Equal(0UL, counts.Value.EcnCe);
            Assert.Equal(0, client.EcnCongestionEvents);
        }
    }

    [Fact]
    public async Task Over_ipv6_the_traffic_class_carries_the_marks()
    {
        // The client's endpoint is a dual-mode IPv6 socket (IPV6_TCLASS on send, both RECVTOS and RECVTCLASS on receive).
        var (listener, client, server) = await ConnectAsync(null, address: IPAddress.IPv6Loopback);
        await using (listener) await using (client) await using (server)
        {
            await UploadAsync(client, server, 500_000);
            await Eventually.TrueAsync(() => client.EcnState == EcnState.Capable, $"client ECN capable (is {client.EcnState})");
            Assert.True(server.ReceivedEcnCounts is { Ect0: > 100 }, $"server counted {server.ReceivedEcnCounts}");
        }
    }

    [Fact]
    public async Task A_path_that_bleaches_the_marks_fails_validation_and_marking_stops()
    {
        EcnRelay? proxy = null;
        var (listener, client, server) = await ConnectAsync(null, server => (proxy = new EcnRelay(server, _ => 0, _ => 0)).EndPoint);
        await using (listener) await using (client) await using (server)
        using (proxy)
        {
            await UploadAsync(client, server, 500_000);
            // The server received Not-ECT only, so its ACKs carry no ECN counts: the client's validation fails.
            Assert.Null(server.ReceivedEcnCounts);
            await Eventually.TrueAsync(() => client.EcnState == EcnState.Failed, $"client ECN failed (is {client.EcnState})");
            // The transfer itself is unaffected, and a failed connection sends Not-ECT from then on.
            await UploadAsync(client, server, 100_000);
            Assert.Equal(EcnState.Failed, client.EcnState);
        }
    }

    [Fact]
    public async Task Ecn_ce_marks_are_congestion_events_at_the_sender()
    {
        // A congested router on the way to the server: what arrives ECT(0) leaves ECN-CE (Not-ECT stays Not-ECT).
        EcnRelay? proxy = null;
        var (listener, client, server) = await ConnectAsync(null, server => (proxy = new EcnRelay(server, e => e == 0 ? (byte)0 : (byte)3, e => e)).EndPoint);
        await using (listener) await using (client) await using (server)
        using (proxy)
        {
            await UploadAsync(client, server, 2_000_000);
            var counts = server.ReceivedEcnCounts;
            Assert.NotNull(counts);
            Assert.True(counts!.Value.EcnCe > 100, $"CE count {counts.Value.EcnCe}");
            // CE on marked packets is valid feedback (ECT(0) + CE rose as much as we marked): still capable, and every
            // rise of the CE count was a congestion signal (at most one reduction per round trip, RFC 9002 §7.3.2).
            await Eventually.TrueAsync(() => client.EcnCongestionEvents > 0, "a congestion event from ECN-CE");
            Assert.Equal(EcnState.Capable, client.EcnState);
            // Without a single loss, the window was cut by the marks alone: far below what an unmarked run reaches.
            long window = client.GetPathStatistics().CongestionWindow;
            Assert.True(window < 200_000, $"cwnd {window}");
        }
    }

    [Fact]
    public async Task A_path_that_drops_marked_packets_costs_ecn_not_the_connection()
    {
        // Every ECT(0) datagram vanishes: the handshake is never marked, the first ten 1-RTT packets (the testing period)
        // are lost, the unmarked ones after them get through, the marked ones are declared lost, and marking stops
        // (RFC 9000 §13.4.2.1).
        EcnRelay? proxy = null;
        var (listener, client, server) = await ConnectAsync(null, server => (proxy = new EcnRelay(server, e => e == 0 ? 0 : null, e => e == 0 ? 0 : null)).EndPoint);
        await using (listener) await using (client) await using (server)
        using (proxy)
        {
            await UploadAsync(client, server, 300_000);
            Assert.True(proxy!.Dropped > 0);
            await Eventually.TrueAsync(() => client.EcnState == EcnState.Failed, $"client ECN failed (is {client.EcnState})");
            await Eventually.TrueAsync(() => server.EcnState == EcnState.Failed, $"server ECN failed (is {server.EcnState})");
        }
    }

    [Fact]
    public async Task With_ecn_off_nothing_is_marked_but_received_marks_are_still_reported()
    {
        var (listener, client, server) = await ConnectAsync(null, clientEcn: false);
        await using (listener) await using (client) await using (server)
        {
            await UploadAsync(client, server, 200_000);
            Assert.Equal(EcnState.Disabled, client.EcnState);
            Assert.Null(server.ReceivedEcnCounts);                   // the client marked nothing
            // The server marks its packets (ECN on by default), and the client still counts them for its ACKs (§13.4.1).
            Assert.NotNull(client.ReceivedEcnCounts);
        }
    }
}
