using System.Collections.Concurrent;
using System.Net;
using FastRelay.Protocols.Moq.Relay.FastPath;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Sessions;
using FastRelay.Protocols.Moq.Relay.Status;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Transport;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Http3.WebTransport;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Moq.Relay;

/// <summary>
/// Runs a <see cref="MoqRelay"/> on one UDP port: accepts QUIC connections with ALPN <c>moqt-19</c> (raw QUIC) and h3
/// (WebTransport sessions on <see cref="RelayHostOptions.WebTransportPath"/> with WT-Protocol <c>moqt-19</c>), sets up a
/// MoQ session over each, and joins it to the relay: both arrive as an <see cref="IMoqTransport"/>. A timer (once per status interval, 1 s) ends idle upstream subscriptions and rewrites the status file. Start one in-process with
/// <see cref="StartAsync"/> on any endpoint (tests use 127.0.0.1:0); dispose to stop.
/// </summary>
public sealed class RelayHost : IAsyncDisposable
{
    private readonly RelayHostOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<RelaySessionAdapter, MoqSession> _sessions = new(ReferenceEqualityComparer.Instance);
    private readonly QuicUpstreamRelay? _upstream;
    private QuicListener? _listener;
    private WebTransportServer? _webTransport;
    private Task _webTransportLoop = Task.CompletedTask;
    private Task _acceptLoop = Task.CompletedTask;
    private ITimer? _timer;
    private RelayFastPath? _fastPath;

    private RelayHost(RelayHostOptions options)
    {
        _options = options;
        var relayOptions = options.Relay;
        if (options.Upstream is { } upstream)
        {
            _upstream = new QuicUpstreamRelay(upstream, options, this);
            relayOptions = relayOptions with { Upstream = _upstream };
        }
        Relay = new MoqRelay(relayOptions);
        _logger = relayOptions.LoggerFactory.CreateLogger<RelayHost>();
    }

    public MoqRelay Relay { get; }

    public IPEndPoint LocalEndPoint => _listener?.LocalEndPoint ?? throw new InvalidOperationException("not listening");

    public RelayHostOptions Options => _options;

    /// <summary>The kernel fast path when <see cref="RelayHostOptions.FastPath"/> is set, else null.</summary>
    public RelayFastPath? FastPath => _fastPath;

    /// <summary>Whether the listening socket can send to <paramref name="remote"/> (an IPv4 socket cannot reach IPv6).</summary>
    internal bool CanConnectFromListener(IPEndPoint remote) =>
        _listener is { } l && !(l.LocalEndPoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork &&
                                remote.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6);

    /// <summary>A client connection from the listening socket (same local port): an edge's fast-path upstream link.</summary>
    internal ValueTask<QuicConnection> ConnectFromListenerAsync(QuicClientConnectionOptions options, CancellationToken cancellationToken) =>
        (_listener ?? throw new InvalidOperationException("not listening")).ConnectAsync(options, cancellationToken);

    /// <summary>Sessions set up now (relay peers), for tests and diagnostics.</summary>
    public int SessionCount => _sessions.Count;

    public static async Task<RelayHost> StartAsync(RelayHostOptions options, CancellationToken cancellationToken = default)
    {
        var host = new RelayHost(options);
        try
        {
            await host.ListenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await host.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return host;
    }

    private async Task ListenAsync(CancellationToken cancellationToken)
    {
        var alpns = new List<string> { QuicMoqTransport.Alpn };
        if (_options.WebTransportPath is { } path)
        {
            _webTransport = new WebTransportServer(new WebTransportServerOptions(), _options.Relay.LoggerFactory.CreateLogger<WebTransportServer>());
            _webTransport.Map(path, new WebTransportPathOptions { Protocols = [QuicMoqTransport.Alpn] });
            alpns.Add(WebTransportServer.Alpn);
        }
        _listener = await QuicListener.ListenAsync(new QuicListenerOptions
        {
            ListenEndPoint = _options.ListenEndPoint,
            ApplicationProtocols = alpns,
            ConnectionOptions = new QuicServerConnectionOptions
            {
                ServerCertificate = _options.Certificate,
                ApplicationProtocols = alpns,
                MaxInboundUnidirectionalStreams = _options.MaxInboundUnidirectionalStreams,
                MaxInboundBidirectionalStreams = _options.MaxInboundBidirectionalStreams,
                MaxDatagramFrameSize = _webTransport is null ? null : WebTransportSettings.MaxDatagramFrameSize,
                LoggerFactory = _options.Relay.LoggerFactory,
                QlogDirectory = _options.QlogDirectory,
                // Offered only with the fast path; effective only with peers that offer it too (everyone else stays encrypted).
                Disable1RttEncryption = _options.FastPath is not null,
                // Room in every datagram a publisher sends us for the tag the kernel adds to a sealed copy of it.
                MaxReceiveUdpPayloadSize = _options.FastPath is not null ? RelayFastPath.MaxReceiveUdpPayloadSize : null,
            },
            // The relay's stack must see each upstream packet as the kernel did (one per datagram) for the coverage check.
            ReceiveCoalescing = _options.FastPath is null,
        }, cancellationToken).ConfigureAwait(false);
        if (_options.FastPath is { } fastPath)
        {
            _fastPath = RelayFastPath.Start(fastPath, Relay, _listener.LocalEndPoint, _logger);
            // Registration events are consumed by the thread that processes the subscribers' ACKs, before it does.
            _fastPath.Plane.ConsumeOnTurnsOf(_listener);
            _logger.LogInformation("MoQ relay {Name}: QUIC kernel fast path on {Interfaces}", _options.Name,
                fastPath.Interfaces is { Count: > 0 } list ? string.Join(", ", list) : "every interface that is up");
        }
        _acceptLoop = AcceptLoopAsync();
        if (_webTransport is not null)
            _webTransportLoop = AcceptWebTransportLoopAsync(_webTransport);
        // One wake-up per status interval (1 s) does both jobs: an idle relay should cost next to nothing, and a
        // linger of 2 s ending within 3 s is precise enough.
        _timer = _options.Relay.TimeProvider.CreateTimer(_ => Tick(), null, TimeSpan.Zero, _options.StatusInterval);
        _logger.LogInformation("MoQ relay {Name} listening on {Endpoint} (ALPN {Alpns})", _options.Name, _listener.LocalEndPoint, string.Join(", ", alpns));
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            QuicConnection connection;
            try
            {
                connection = await _listener!.AcceptConnectionAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (Exception e)
            {
                _logger.LogDebug("accept failed: {Error}", e.Message);
                continue;
            }
            _ = Task.Run(() => ServeConnectionAsync(connection));
        }
    }

    private async Task ServeConnectionAsync(QuicConnection connection)
    {
        if (connection.NegotiatedApplicationProtocol == QuicMoqTransport.Alpn)
        {
            // Object streams are read on the thread pool, not on the receive thread. Inline, a fast-path publisher's chunks
            // cost one thread hand-off less (session 13 A/B at fan-out 16/64: syscalls -17/-25 %), but the receive thread,
            // busy with a key object's chunks, answered the subscribers' ACKs later: in `fastrelay demo` the kernel left
            // twice as many copies to userspace (budget) and p99 rose from 3-25 ms to 60-90 ms in 6 runs of 6. A userspace
            // fan-out inline cost the userspace relay 10-17 % CPU per copy and 16-22 % p50 at fan-out 16/64.
            await ServeTransportAsync(new QuicMoqTransport(connection, objectReadsOnReceiveThread: false), connection).ConfigureAwait(false);
            return;
        }
        if (_webTransport is not null && connection.NegotiatedApplicationProtocol == WebTransportServer.Alpn)
        {
            // HTTP/3: its WebTransport sessions come out of AcceptWebTransportLoopAsync.
            await _webTransport.ServeConnectionAsync(connection, _stop.Token).ConfigureAwait(false);
            return;
        }
        await connection.CloseAsync(0).ConfigureAwait(false);
        await connection.DisposeAsync().ConfigureAwait(false);
    }

    private async Task AcceptWebTransportLoopAsync(WebTransportServer server)
    {
        while (!_stop.IsCancellationRequested)
        {
            WebTransportSession session;
            try
            {
                session = await server.AcceptSessionAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or System.Threading.Channels.ChannelClosedException)
            {
                return;
            }
            _ = Task.Run(() => ServeTransportAsync(new WebTransportMoqTransport(session)));
        }
    }

    /// <summary>
    /// Runs a MoQ session over <paramref name="transport"/> (raw QUIC or WebTransport, server side) as a relay peer until
    /// it ends. Nothing is held for the peer before its SETUP completed.
    /// </summary>
    public Task ServeTransportAsync(IMoqTransport transport) => ServeTransportAsync(transport, null);

    /// <param name="quic">The raw QUIC connection under <paramref name="transport"/>, if any: with the fast path on,
    /// one that negotiated disable_1rtt_encryption gets the subgroup tap and may be put on a kernel slot.</param>
    private async Task ServeTransportAsync(IMoqTransport transport, QuicConnection? quic)
    {
        var adapter = new RelaySessionAdapter(Relay, _logger);
        var tap = quic is not null ? _fastPath?.Attach(adapter, quic) : null;
        // A browser's session: a subscriber the kernel may serve (its streams carry the WebTransport header first).
        if (quic is null && transport is WebTransportMoqTransport webTransport)
            _fastPath?.AttachWebTransport(adapter, webTransport.Session);
        MoqSession session;
        try
        {
            var options = _options.RelaySession with { Handler = adapter, SubgroupTap = tap };
            session = await MoqSession.AcceptAsync(transport, options, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _logger.LogDebug("{Remote}: no MoQ session: {Error}", transport.RemoteEndPoint, e.Message);
            _fastPath?.SessionEnded(adapter);
            await transport.DisposeAsync().ConfigureAwait(false);
            return;
        }
        _fastPath?.SessionStarted(adapter, session);
        try
        {
            await RunSessionAsync(adapter, session).ConfigureAwait(false);
        }
        finally
        {
            _fastPath?.SessionEnded(adapter);
        }
        await transport.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Joins a set-up session (accepted, or our own to an upstream relay) to the relay until it terminates.</summary>
    internal async Task RunSessionAsync(RelaySessionAdapter adapter, MoqSession session)
    {
        if (!adapter.Start(session))
        {
            await session.CloseAsync(MoqSessionError.InternalError, "relay at its session limit").ConfigureAwait(false);
            adapter.End();
            return;
        }
        _sessions[adapter] = session;
        try
        {
            await Task.WhenAny(session.Terminated, Task.Delay(Timeout.Infinite, _stop.Token)).ConfigureAwait(false);
        }
        finally
        {
            _sessions.TryRemove(adapter, out _);
            adapter.End();
            if (!session.Terminated.IsCompleted)
                await session.CloseAsync(MoqSessionError.NoError, "relay stopping").ConfigureAwait(false);
            await session.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void Tick()
    {
        try
        {
            Relay.SweepIdleTracks();
            if (_options.StatusFile is { } file)
                WriteStatus(file);
        }
        catch (Exception e)
        {
            _logger.LogWarning("status/sweep failed: {Error}", e.Message);
        }
    }

    public MoqRelayStatus Snapshot() =>
        Relay.Snapshot(_options.Name, Listening, _options.Upstream?.ToString()) with { FastPath = _fastPath?.Snapshot() };

    /// <summary>What clients connect to, e.g. "moqt://127.0.0.1:4443" and "https://127.0.0.1:4443/moq".</summary>
    public IReadOnlyList<string> Listening
    {
        get
        {
            if (_listener is null) return [];
            var at = _listener.LocalEndPoint;
            var host = at.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{at.Address}]" : at.Address.ToString();
            var urls = new List<string> { $"moqt://{host}:{at.Port}" };
            if (_options.WebTransportPath is { } path) urls.Add($"https://{host}:{at.Port}{path}");
            return urls;
        }
    }

    /// <summary>Rewrites the status file now, between the timer's rewrites (the CLI does it on SIGUSR1: a reader that
    /// wants the figures of one instant, such as the bench at its window's edges, asks instead of making every relay
    /// rewrite the file many times a second). False when the host has no status file.</summary>
    public bool WriteStatusNow()
    {
        if (_options.StatusFile is not { } file) return false;
        WriteStatus(file);
        return true;
    }

    /// <summary>Writes the snapshot atomically (temp file + rename), so a reader never sees half a file. One writer at a
    /// time: the timer's and an asked-for rewrite share the temp file.</summary>
    private void WriteStatus(string file)
    {
        lock (_statusWriteLock)
        {
            var temp = file + ".tmp";
            File.WriteAllText(temp, Snapshot().ToJson());
            File.Move(temp, file, overwrite: true);
        }
    }

    private readonly object _statusWriteLock = new();

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _timer?.Dispose();
        try { await _acceptLoop.ConfigureAwait(false); } catch { /* stopping */ }
        try { await _webTransportLoop.ConfigureAwait(false); } catch { /* stopping */ }
        foreach (var (adapter, session) in _sessions)
        {
            try { await session.CloseAsync(MoqSessionError.NoError, "relay stopping").ConfigureAwait(false); } catch { /* gone */ }
        }
        if (_upstream is not null) await _upstream.DisposeAsync().ConfigureAwait(false);
        _fastPath?.Dispose();
        if (_webTransport is not null) await _webTransport.DisposeAsync().ConfigureAwait(false);
        if (_listener is not null) await _listener.DisposeAsync().ConfigureAwait(false);
        if (_options.StatusFile is { } file)
            try { File.Delete(file); } catch (IOException) { }
    }
}
