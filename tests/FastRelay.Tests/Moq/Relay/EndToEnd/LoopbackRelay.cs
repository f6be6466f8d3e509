using System.Net;
using FastRelay.Protocols.Moq.Publisher;
using FastRelay.Protocols.Moq.Relay;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Transport;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Http3.WebTransport;
using FastRelay.Tests.Quic.Api;

namespace FastRelay.Tests.Moq.Relay.EndToEnd;

/// <summary>Relays and client sessions over our QUIC on loopback (ALPN moqt-19).</summary>
internal static class LoopbackRelay
{
    public static Task<RelayHost> StartAsync(RelayOptions? relay = null, Uri? upstream = null, string? statusFile = null) =>
        RelayHost.StartAsync(new RelayHostOptions
        {
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            Certificate = LoopbackPair.Certificate.Value,
            Relay = relay ?? new RelayOptions(),
            Upstream = upstream,
            UpstreamInsecure = true,
            StatusFile = statusFile,
        });

    public static Uri UrlOf(RelayHost host) => new($"moqt://127.0.0.1:{host.LocalEndPoint.Port}");

    /// <summary>A client session to <paramref name="host"/>; <paramref name="handler"/> answers the relay's requests (a publisher).</summary>
    public static async Task<ClientSession> ConnectAsync(RelayHost host, IMoqRequestHandler? handler = null, string? setupToken = null, CancellationToken cancellationToken = default)
    {
        var connection = await QuicConnection.ConnectAsync(new QuicClientConnectionOptions
        {
            RemoteEndPoint = host.LocalEndPoint,
            ApplicationProtocols = [QuicMoqTransport.Alpn],
            SkipCertificateValidation = true,
            MaxInboundUnidirectionalStreams = 256,
            MaxInboundBidirectionalStreams = 64,
        }, cancellationToken);
        var options = new MoqSessionOptions { Handler = handler };
        if (setupToken is not null)
            options = options with { SetupAuthorizationTokens = [MoqAuthToken.UseValue(0, System.Text.Encoding.UTF8.GetBytes(setupToken))] };
        var session = await MoqSession.ConnectAsync(new QuicMoqTransport(connection), options, cancellationToken);
        return new ClientSession(connection, session);
    }

    /// <summary>A client session over WebTransport (what a browser does): https://127.0.0.1:PORT/moq, WT-Protocol moqt-19.</summary>
    public static async Task<ClientSession> ConnectWebTransportAsync(RelayHost host, CancellationToken cancellationToken = default)
    {
        var wt = await WebTransportClient.ConnectAsync(new Uri($"https://127.0.0.1:{host.LocalEndPoint.Port}/moq"), new WebTransportClientOptions
        {
            Protocols = [QuicMoqTransport.Alpn],
            RequireProtocol = true,
            SkipCertificateValidation = true,
            ConfigureQuic = q => q.MaxInboundUnidirectionalStreams = 256,
        }, cancellationToken);
        var session = await MoqSession.ConnectAsync(new WebTransportMoqTransport(wt), new MoqSessionOptions(), cancellationToken);
        return new ClientSession(null, session);
    }

    public static MoqMessageParameters Token(string token)
    {
        var p = new MoqMessageParameters();
        p.AuthorizationTokens.Add(MoqAuthToken.UseValue(0, System.Text.Encoding.UTF8.GetBytes(token)));
        return p;
    }
}

internal sealed class ClientSession(QuicConnection? connection, MoqSession session) : IAsyncDisposable
{
    public MoqSession Session { get; } = session;

    public async ValueTask DisposeAsync()
    {
        try { await Session.CloseAsync(); } catch { /* already gone */ }
        await Session.DisposeAsync();
        if (connection is not null) await connection.DisposeAsync();
        else await Session.Transport.DisposeAsync();
    }
}

/// <summary>A publisher's request handler: accepts every SUBSCRIBE from the relay and hands over the publication.</summary>
internal sealed class AcceptingPublisher : IMoqRequestHandler
{
    private readonly object _lock = new();
    private readonly List<MoqTrackPublication> _publications = [];
    private TaskCompletionSource<MoqTrackPublication> _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int SubscribeCount { get { lock (_lock) return _publications.Count; } }

    public async Task OnSubscribeAsync(MoqIncomingSubscribe request, CancellationToken cancellationToken)
    {
        var publication = await request.AcceptAsync(Largest);
        lock (_lock)
        {
            _publications.Add(publication);
            _next.TrySetResult(publication);
        }
    }

    public Protocols.Moq.Wire.MoqLocation? Largest { get; set; }

    public Task<MoqTrackPublication> FirstSubscription
    {
        get { lock (_lock) return _next.Task; }
    }

    /// <summary>The next SUBSCRIBE from the relay completes <see cref="FirstSubscription"/> anew.</summary>
    public void Reset()
    {
        lock (_lock) _next = new TaskCompletionSource<MoqTrackPublication>(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Writes whole groups: one subgroup stream per group, payloads that spell their location.</summary>
    public static async Task PublishGroupsAsync(MoqTrackPublication publication, ulong firstGroup, int groups, int objects, int bytes)
    {
        for (ulong g = firstGroup; g < firstGroup + (ulong)groups; g++)
        {
            var stream = await publication.OpenSubgroupAsync(g);
            for (ulong o = 0; o < (ulong)objects; o++)
                await stream.WriteObjectAsync(o, Payload(g, o, bytes));
            await stream.CompleteAsync();
        }
    }

    public static byte[] Payload(ulong group, ulong obj, int bytes)
    {
        var payload = new byte[bytes];
        for (int i = 0; i < bytes; i++) payload[i] = (byte)(group * 131 + obj * 17 + (ulong)i);
        return payload;
    }
}
