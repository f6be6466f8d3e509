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
/// <para>With the kernel fast path (<see cref="RelayHostOptions.FastPath"/>) the link is a fast-path link at both ends, as
/// relay-to-relay links inside an operator's network are meant to be: the connection offers disable_1rtt_encryption
/// (0xBAAD), so the origin puts this edge on a kernel slot like any fast-path subscriber; it is opened from the host's
/// own listening socket (<see cref="QuicListener.ConnectAsync"/>), so the origin's packets arrive at the port this edge's
/// kernel programs know as the relay's (an ephemeral client port would be invisible to them); and its session gets the
/// fast path's subgroup tap, so its subgroup streams are forwarded in the kernel exactly like a local fast-path
/// publisher's.</para>
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
            var fastPath = host.FastPath;
            var connectionOptions = new QuicClientConnectionOptions
            {
                RemoteEndPoint = endpoint,
                TargetHost = address.IdnHost,
                ApplicationProtocols = [QuicMoqTransport.Alpn],
                TrustedCertificates = options.UpstreamTrust,
                SkipCertificateValidation = options.UpstreamInsecure,
                MaxInboundUnidirectionalStreams = options.MaxInboundUnidirectionalStreams,
                MaxInboundBidirectionalStreams = options.MaxInboundBidirectionalStreams,
                LoggerFactory = options.Relay.LoggerFactory,
                // Only a fast-path edge offers it; an origin without the fast path ignores it and the link stays encrypted.
                Disable1RttEncryption = fastPath is not null,
                // Our own packets to the origin carry nothing its kernel forwards (we only subscribe): no layout needed.
            };
            var connection = fastPath is not null
                ? await host.ConnectFromListenerAsync(connectionOptions, cancellationToken).ConfigureAwait(false)
                : await QuicConnection.ConnectAsync(connectionOptions, cancellationToken).ConfigureAwait(false);
            var peer = new RelaySessionAdapter(host.Relay, _logger);
            var path = string.IsNullOrEmpty(address.PathAndQuery) || address.PathAndQuery == "/" ? null : address.PathAndQuery;
            // Null when the origin did not agree to 0xBAAD: then this link is served by userspace, as without the fast path.
            var tap = fastPath?.Attach(peer, connection);
            var sessionOptions = options.Session with { Handler = peer, Path = path, Authority = address.Authority };
            if (tap is not null) sessionOptions = sessionOptions with { SubgroupTap = tap };
            MoqSession session;
            try
            {
                session = await MoqSession.ConnectAsync(new QuicMoqTransport(connection), sessionOptions, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                fastPath?.SessionEnded(peer);
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }
            fastPath?.SessionStarted(peer, session);
            _connection = connection;
            _session = session;
            _peer = peer;
            _ = RunAsync(peer, session, fastPath);
            await Task.Yield();
            _logger.LogInformation("upstream relay {Address}: session {Peer} set up{FastPath}", address, peer.Name,
                tap is null ? "" : " (kernel fast path: 1-RTT in clear, subgroup streams tapped)");
            return peer;
        }
        finally
        {
            _connecting.Release();
        }
    }

    /// <summary>The session joins the relay until it ends; then the fast path drops its slot and stream mappings.</summary>
    private async Task RunAsync(RelaySessionAdapter peer, MoqSession session, FastPath.RelayFastPath? fastPath)
    {
        try
        {
            await host.RunSessionAsync(peer, session).ConfigureAwait(false);
        }
        finally
        {
            fastPath?.SessionEnded(peer);
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
