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
            // The lost session's connection goes first (on the shared socket its connection ids would stay routed to it).
            if (_connection is not null)
            {
                await _connection.DisposeAsync().ConfigureAwait(false);
                _connection = null;
            }
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
                QlogDirectory = options.QlogDirectory,
                // Only a fast-path edge offers it; an origin without the fast path ignores it and the link stays encrypted.
                Disable1RttEncryption = fastPath is not null,
                // The origin's packets on this link are sealed for the edge's encrypted subscribers: room for the tag.
                MaxReceiveUdpPayloadSize = fastPath is not null ? FastPath.RelayFastPath.MaxReceiveUdpPayloadSize : null,
                // No FastPathUnidirectionalStreams: in a chain the edge subscribes over this link. A track published at the
                // edge that the origin subscribes to goes the other way through the edge's own kernel (the link is a
                // fast-path peer here too, so the origin's connection can get a slot like any subscriber's).
            };
            // An IPv4-only listening socket cannot reach an IPv6 origin: that link gets its own socket, and so stays on
            // userspace at this edge (the origin may still forward to it in its kernel).
            bool shared = fastPath is not null && host.CanConnectFromListener(endpoint);
            if (fastPath is not null && !shared)
                _logger.LogWarning("upstream relay {Address}: the listening socket cannot reach {Endpoint}; the link runs from its own socket, without the kernel fast path at this edge",
                    address, endpoint);
            var connection = shared
                ? await host.ConnectFromListenerAsync(connectionOptions, cancellationToken).ConfigureAwait(false)
                : await QuicConnection.ConnectAsync(connectionOptions, cancellationToken).ConfigureAwait(false);
            var peer = new RelaySessionAdapter(host.Relay, _logger);
            var path = string.IsNullOrEmpty(address.PathAndQuery) || address.PathAndQuery == "/" ? null : address.PathAndQuery;
            // Null when the origin did not agree to 0xBAAD: then this link is served by userspace, as without the fast path.
            var tap = shared ? fastPath!.Attach(peer, connection, upstreamLink: true) : null;
            var sessionOptions = options.RelaySession with { Handler = peer, Path = path, Authority = address.Authority, SubgroupTap = tap };
            MoqSession session;
            try
            {
                session = await MoqSession.ConnectAsync(new QuicMoqTransport(connection, objectReadsOnReceiveThread: false), sessionOptions, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                if (tap is not null) fastPath!.SessionEnded(peer);
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }
            if (tap is not null) fastPath!.SessionStarted(peer, session);
            _connection = connection;
            _session = session;
            _peer = peer;
            _ = RunAsync(peer, session, tap is null ? null : fastPath);
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
