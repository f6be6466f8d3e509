using FastRelay.Protocols.Moq.Wire;
using System.Net;
using System.Net.Sockets;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Protocols.Moq.Relay.Sessions;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Transport;
using FastRelay.Protocols.Quic.Api;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Moq.Relay;

/// <summary>
/// The upstream relay of an edge (--upstream moqt://HOST:PORT[/PATH]): one raw QUIC MoQ session, opened on first need
/// and again after it was lost; the session is a relay peer like any other (its requests are served too).
/// </summary>
internal sealed class QuicUpstreamRelay(Uri address, RelayHostOptions options, RelayHost host) : IUpstreamRelay, IAsyncDisposable
{
    private readonly SemaphoreSlim _connecting = new(1, 1);
    private readonly ILogger _logger = options.Relay.LoggerFactory.CreateLogger<QuicUpstreamRelay>();
    private RelaySessionAdapter? _peer;
    private MoqSession? _session;
    private QuicConnection? _connection;

    public string Address => address.ToString();

    public async ValueTask<IRelayPeer> GetPeerAsync(CancellationToken cancellationToken)
    {
        await _connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_peer is not null && _session is not null && !_session.Terminated.IsCompleted)
                return _peer;
            var endpoint = await ResolveAsync(cancellationToken).ConfigureAwait(false);
            var connection = await QuicConnection.ConnectAsync(new QuicClientConnectionOptions
            {
                RemoteEndPoint = endpoint,
                TargetHost = address.IdnHost,
                ApplicationProtocols = [QuicMoqTransport.Alpn],
                TrustedCertificates = options.UpstreamTrust,
                SkipCertificateValidation = options.UpstreamInsecure,
                MaxInboundUnidirectionalStreams = options.MaxInboundUnidirectionalStreams,
                MaxInboundBidirectionalStreams = options.MaxInboundBidirectionalStreams,
                LoggerFactory = options.Relay.LoggerFactory,
            }, cancellationToken).ConfigureAwait(false);
            var peer = new RelaySessionAdapter(host.Relay, _logger);
            var path = string.IsNullOrEmpty(address.PathAndQuery) || address.PathAndQuery == "/" ? null : address.PathAndQuery;
            var session = await MoqSession.ConnectAsync(new QuicMoqTransport(connection),
                options.Session with { Handler = peer, Path = path, Authority = address.Authority }, cancellationToken).ConfigureAwait(false);
            _connection = connection;
            _session = session;
            _peer = peer;
            _ = host.RunSessionAsync(peer, session);
            await Task.Yield();
            _logger.LogInformation("upstream relay {Address}: session {Peer} set up", address, peer.Name);
            return peer;
        }
        finally
        {
            _connecting.Release();
        }
    }

    private async Task<IPEndPoint> ResolveAsync(CancellationToken cancellationToken)
    {
        int port = address.IsDefaultPort || address.Port <= 0 ? 443 : address.Port;
        if (IPAddress.TryParse(address.Host.Trim('[', ']'), out var ip))
            return new IPEndPoint(ip, port);
        var addresses = await Dns.GetHostAddressesAsync(address.IdnHost, cancellationToken).ConfigureAwait(false);
        var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
            ?? throw new InvalidOperationException($"{address.Host} has no address");
        return new IPEndPoint(chosen, port);
    }

    public async ValueTask DisposeAsync()
    {
        if (_session is not null)
            try { await _session.CloseAsync(MoqSessionError.NoError, "relay stopping").ConfigureAwait(false); } catch { /* gone */ }
        if (_connection is not null)
            await _connection.DisposeAsync().ConfigureAwait(false);
    }
}
