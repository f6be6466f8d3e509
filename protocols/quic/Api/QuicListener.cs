using System.Net;
using System.Threading.Channels;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Io;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastRelay.Protocols.Quic.Api;

/// <summary>
/// Accepts QUIC connections on one UDP socket, shaped like System.Net.Quic.QuicListener. A connection is handed out
/// once its handshake completed; connections whose handshake fails never appear.
/// </summary>
public sealed class QuicListener : IAsyncDisposable, IConnectionAcceptor
{
    private readonly QuicListenerOptions _options;
    private readonly QuicEndpoint _endpoint;
    private readonly ILogger _log;
    private readonly Channel<QuicConnection> _accepted;
    private readonly HashSet<QuicConnection> _handshaking = [];
    private readonly HashSet<QuicConnection> _live = [];
    private bool _disposed;

    private QuicListener(QuicListenerOptions options)
    {
        if (options.ApplicationProtocols.Count == 0 && options.ConnectionOptions.ApplicationProtocols.Count == 0)
            throw new ArgumentException("at least one application protocol (ALPN) is required", nameof(options));
        _options = options;
        _log = options.ConnectionOptions.LoggerFactory?.CreateLogger("FastRelay.Quic.Server") ?? NullLogger.Instance;
        _accepted = Channel.CreateBounded<QuicConnection>(new BoundedChannelOptions(options.ListenBacklog) { FullMode = BoundedChannelFullMode.DropWrite });
        _endpoint = new QuicEndpoint(options.ListenEndPoint, this, options.RequireAddressValidation, _log,
            receiveCoalescing: options.ReceiveCoalescing, versions: options.ConnectionOptions.QuicVersions);
        // One ticket key per listener: tickets resume only on the listener that issued them (and only until it restarts).
        _tickets = options.ConnectionOptions.EnableSessionTickets ? new Tls.Resumption.SessionTicketProtector() : null;
    }

    private readonly Tls.Resumption.SessionTicketProtector? _tickets;

    public static ValueTask<QuicListener> ListenAsync(QuicListenerOptions options, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(new QuicListener(options));
    }

    public IPEndPoint LocalEndPoint => _endpoint.LocalEndPoint;
    /// <summary>The listening socket's system calls and UDP segmentation offload state (shared by all its connections).</summary>
    public Io.DatagramSocketStatistics SocketStatistics => _endpoint.SocketStatistics;

    /// <summary>
    /// Runs <paramref name="work"/> on the listener's receive thread at every turn of its loop: with every datagram batch
    /// and connection timer, at once after <see cref="WakeReceiveThread"/>, by the time asked with <see cref="RunTurnBy"/>,
    /// at the latest after the loop's safety-net sleep (20 ms), and always before the datagrams read in that turn reach their
    /// connections. For work that must happen before a connection processes what it receives (the kernel fast path's
    /// registration of forwarded packets, before the ACKs that acknowledge them) without a thread of its own. The work
    /// must be short and must never wait for this thread. Dispose the result to stop it.
    /// </summary>
    public IDisposable RunEveryTurn(Action work) => _endpoint.AddTurnWork(work);

    /// <summary>The receive thread's next turn (so the <see cref="RunEveryTurn"/> work) comes by <paramref name="micros"/>
    /// (µs of <see cref="Io.QuicClock"/>) at the latest, whatever else wakes it or not. A request lasts one turn: periodic
    /// work asks again from every turn.</summary>
    public void RunTurnBy(long micros) => _endpoint.TurnBy(micros);

    /// <summary>Ends the receive thread's current wait at once, so the <see cref="RunEveryTurn"/> work runs now.</summary>
    public void WakeReceiveThread() => _endpoint.Wake();

    public async ValueTask<QuicConnection> AcceptConnectionAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _accepted.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new ObjectDisposedException(nameof(QuicListener));
        }
    }

    /// <summary>
    /// Opens a client connection from this listener's own UDP socket (local address and port), like quic-go's Transport
    /// that dials and listens on one socket. The endpoint routes by connection id, so the client connection lives beside
    /// the accepted ones. Why: a TC program that knows traffic by the listener's port (the relay fast path) then sees this
    /// connection's packets as it sees every peer's — an edge relay's upstream link to its origin. The listener's socket
    /// settings apply (receive coalescing, segmentation offload, family: a dual-stack listener reaches IPv4 peers through
    /// mapped addresses, an IPv4 one cannot reach IPv6); <see cref="QuicClientConnectionOptions.LocalEndPoint"/> and
    /// <see cref="QuicClientConnectionOptions.ReceiveCoalescing"/> are ignored. The listener closes it when it stops.
    /// </summary>
    public async ValueTask<QuicConnection> ConnectAsync(QuicClientConnectionOptions options, CancellationToken cancellationToken = default)
    {
        lock (_handshaking) ObjectDisposedException.ThrowIf(_disposed, this);
        return await QuicConnection.ConnectOnAsync(_endpoint, options, OnClosed, connection =>
        {
            lock (_handshaking)
            {
                // Raced with DisposeAsync: the socket is gone, so the handshake times out and that failure path disposes it.
                if (!_disposed) _live.Add(connection);
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    IEndpointConnection? IConnectionAcceptor.Accept(in ServerHandshakeContext context, IPEndPoint remote, long now)
    {
        lock (_handshaking)
        {
            if (_disposed || _handshaking.Count >= _options.ListenBacklog) return null;
        }
        var protocols = _options.ApplicationProtocols.Count > 0 ? _options.ApplicationProtocols : _options.ConnectionOptions.ApplicationProtocols;
        var settings = SettingsFactory.ForServer(_options.ConnectionOptions, protocols, _endpoint.ResetKey, _log, _tickets, _endpoint.SupportsEcn);
        var connection = QuicConnection.CreateServer(_endpoint, remote, settings, context, _log, OnHandshakeCompleted, OnClosed,
            _options.ConnectionOptions.AllowSegmentationOffload);
        lock (_handshaking)
        {
            _handshaking.Add(connection);
            _live.Add(connection);
        }
        return connection;
    }

    private void OnHandshakeCompleted(QuicConnection connection)
    {
        lock (_handshaking) _handshaking.Remove(connection);
        if (!_accepted.Writer.TryWrite(connection)) _ = connection.DisposeAsync();
    }

    private void OnClosed(QuicConnection connection)
    {
        lock (_handshaking)
        {
            _handshaking.Remove(connection);
            _live.Remove(connection);
        }
    }

    /// <summary>
    /// Accepts connections until <paramref name="cancellationToken"/> fires or the listener is disposed, running
    /// <paramref name="serve"/> for each one concurrently; a failed handshake concerns that client only (logged at Debug).
    /// Returns once every <paramref name="serve"/> task has ended.
    /// </summary>
    public async Task ServeConnectionsAsync(Func<QuicConnection, Task> serve, CancellationToken cancellationToken)
    {
        var serving = new List<Task>();
        try
        {
            while (true)
            {
                QuicConnection connection;
                try
                {
                    connection = await AcceptConnectionAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (QuicException e)
                {
                    _log.LogDebug("connection attempt failed: {Message}", e.Message);
                    continue;
                }
                serving.RemoveAll(t => t.IsCompleted);
                serving.Add(Task.Run(() => serve(connection), CancellationToken.None));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or ChannelClosedException)
        {
        }
        await Task.WhenAll(serving).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        QuicConnection[] live;
        lock (_handshaking)
        {
            if (_disposed) return;
            _disposed = true;
            live = [.. _live];
        }
        _accepted.Writer.TryComplete();
        foreach (var connection in live) await connection.DisposeAsync().ConfigureAwait(false);
        _endpoint.Dispose();
        // Connections still closing when the socket went away never reach Closed: finish their qlog files now.
        foreach (var connection in live) connection.CompleteTrace();
    }
}
