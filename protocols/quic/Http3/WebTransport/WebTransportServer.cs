using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Threading.Channels;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Http3.Qpack;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Http3.WebTransport;

/// <summary>Limits of a <see cref="WebTransportServer"/>, per connection.</summary>
public sealed class WebTransportServerOptions
{
    /// <summary>Sessions a client may have open at once on one connection (advertised as WT_MAX_SESSIONS); more get 429.</summary>
    public int MaxSessionsPerConnection { get; set; } = 4;
    /// <summary>Streams held for sessions whose CONNECT has not been processed yet; more are rejected.</summary>
    public int MaxBufferedStreamsPerConnection { get; set; } = 16;
    /// <summary>Datagrams held for sessions not established yet; more drop the oldest.</summary>
    public int MaxBufferedDatagramsPerConnection { get; set; } = 32;
    /// <summary>How long a CONNECT waits for the client's SETTINGS (which must come first, draft §3.1).</summary>
    public TimeSpan PeerSettingsTimeout { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>What a path accepts.</summary>
public sealed class WebTransportPathOptions
{
    /// <summary>Application protocols this path speaks (WT-Protocol candidates), e.g. <c>moqt-19</c>. Empty: no negotiation.</summary>
    public IReadOnlyList<string> Protocols { get; init; } = [];
    /// <summary>Refuse (400) a client that offers none of <see cref="Protocols"/> or sends no WT-Available-Protocols.</summary>
    public bool RequireProtocol { get; init; }
    /// <summary>Optional check of the request (Origin, authority, headers): return 2xx to accept, another status to refuse.</summary>
    public Func<WebTransportConnectRequest, int>? Authorize { get; init; }
}

/// <summary>What a path's <see cref="WebTransportPathOptions.Authorize"/> sees.</summary>
public sealed record WebTransportConnectRequest(Http3Request Request, IReadOnlyList<string> OfferedProtocols, string? ChosenProtocol, IPEndPoint RemoteEndPoint)
{
    public string Path => Request.Path;
    public string Authority => Request.Authority;
    public string? Origin => Request.Header("origin");
}

/// <summary>
/// WebTransport over HTTP/3 server (draft-ietf-webtrans-http3, as Chromium speaks it): a QUIC listener with ALPN h3 and
/// DATAGRAM, SETTINGS with extended CONNECT, H3_DATAGRAM and WT_MAX_SESSIONS, and extended CONNECT requests with
/// :protocol <c>webtransport</c> (or the editors' copy's <c>webtransport-h3</c>) accepted for registered paths. Other
/// requests get 404; unknown paths 404; when the client offers protocols the first it lists that the path speaks is
/// answered in WT-Protocol. Accepted sessions come out of <see cref="AcceptSessionAsync"/>.
/// </summary>
public sealed class WebTransportServer : IAsyncDisposable
{
    public const string Alpn = "h3";

    private readonly WebTransportServerOptions _options;
    private readonly ILogger? _logger;
    private readonly ConcurrentDictionary<string, WebTransportPathOptions> _paths = new(StringComparer.Ordinal);
    private readonly Channel<WebTransportSession> _sessions = Channel.CreateUnbounded<WebTransportSession>();
    private readonly CancellationTokenSource _lifetime = new();
    private readonly ConcurrentDictionary<WebTransportConnection, byte> _connections = new();
    private QuicListener? _listener;
    private Task _run = Task.CompletedTask;

    public WebTransportServer(WebTransportServerOptions? options = null, ILogger? logger = null)
    {
        _options = options ?? new WebTransportServerOptions();
        _logger = logger;
    }

    public IPEndPoint LocalEndPoint => _listener?.LocalEndPoint ?? throw new InvalidOperationException("not listening");

    /// <summary>Accepts WebTransport sessions on <paramref name="path"/> (exact match, query ignored).</summary>
    public void Map(string path, WebTransportPathOptions? options = null)
    {
        if (!path.StartsWith('/')) throw new ArgumentException("paths start with '/'", nameof(path));
        _paths[path] = options ?? new WebTransportPathOptions();
    }

    /// <summary>Listens (ALPN h3 and max_datagram_frame_size added when missing) and serves connections in the background.</summary>
    public async Task StartAsync(QuicListenerOptions options, CancellationToken cancellationToken = default)
    {
        if (!options.ApplicationProtocols.Contains(Alpn)) options.ApplicationProtocols.Insert(0, Alpn);
        if (!options.ConnectionOptions.ApplicationProtocols.Contains(Alpn)) options.ConnectionOptions.ApplicationProtocols.Insert(0, Alpn);
        options.ConnectionOptions.MaxDatagramFrameSize ??= WebTransportSettings.MaxDatagramFrameSize;
        _listener = await QuicListener.ListenAsync(options, cancellationToken).ConfigureAwait(false);
        _run = AcceptConnectionsAsync(_listener, _lifetime.Token);
    }

    /// <summary>
    /// Graceful shutdown, step one: GOAWAY on every connection. No new sessions are accepted on them, and every session
    /// sees <see cref="WebTransportSession.Draining"/> complete at its peer; the application then closes them.
    /// </summary>
    public async Task GoAwayAsync(CancellationToken cancellationToken = default)
    {
        foreach (var wt in _connections.Keys)
        {
            try
            {
                await wt.SendGoAwayAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is QuicException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }
    }

    /// <summary>The next accepted session (any path; <see cref="WebTransportSession.Path"/> says which).</summary>
    public ValueTask<WebTransportSession> AcceptSessionAsync(CancellationToken cancellationToken = default) =>
        _sessions.Reader.ReadAsync(cancellationToken);

    private Task AcceptConnectionsAsync(QuicListener listener, CancellationToken cancellationToken) =>
        listener.ServeConnectionsAsync(connection => ServeConnectionAsync(connection, cancellationToken), cancellationToken);

    /// <summary>Serves WebTransport on an accepted h3 connection until it closes or <paramref name="cancellationToken"/> fires.</summary>
    public async Task ServeConnectionAsync(QuicConnection connection, CancellationToken cancellationToken)
    {
        WebTransportConnection? wt = null;
        wt = new WebTransportConnection(connection, isServer: true, WebTransportSettings.ForServer(_options.MaxSessionsPerConnection), _logger,
            _options.MaxBufferedStreamsPerConnection, _options.MaxBufferedDatagramsPerConnection, stream => HandleRequestAsync(wt!, stream), ownsConnection: false);
        _connections.TryAdd(wt, 0);
        try
        {
            await wt.StartAsync(cancellationToken).ConfigureAwait(false);
            await Task.WhenAny(connection.Closed, Task.Delay(Timeout.Infinite, cancellationToken)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            _connections.TryRemove(wt, out _);
            if (!connection.Closed.IsCompleted)
            {
                try
                {
                    _ = connection.CloseAsync((long)Http3ErrorCode.NoError); // the endpoint finishes the closing period
                }
                catch (Exception e) when (e is QuicException or ObjectDisposedException or InvalidOperationException)
                {
                }
            }
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task HandleRequestAsync(WebTransportConnection wt, PrefixedHttp3Stream stream)
    {
        var token = wt.Lifetime;
        var reader = new Http3StreamReader(stream);
        Http3Request request;
        try
        {
            request = await ReadRequestHeadAsync(reader, token).ConfigureAwait(false);
        }
        catch (Http3Exception e) when (e.Code is Http3ErrorCode.MessageError or Http3ErrorCode.RequestIncomplete)
        {
            stream.Abort(QuicAbortDirection.Both, (long)e.Code);
            return;
        }
        catch (Http3Exception e)
        {
            await wt.FailAsync(new Http3Error(e.Code, e.Message)).ConfigureAwait(false);
            return;
        }
        catch (Exception e) when (e is QuicException or OperationCanceledException or ObjectDisposedException)
        {
            return;
        }
        _logger?.LogDebug("request {Method} {Protocol} {Path} on stream {Id}: {Headers}", request.Method, request.Protocol, request.Path, stream.Id,
            string.Join(", ", request.Headers.Select(h => $"{h.Name}: {h.Value}")));

        if (request.Method != "CONNECT" || request.Protocol is not ("webtransport" or "webtransport-h3"))
        {
            await RespondAsync(stream, request.Method == "CONNECT" ? 501 : 404, [], finish: true, token).ConfigureAwait(false);
            return;
        }
        long sessionId = stream.Id;
        var decision = await DecideAsync(wt, request, token).ConfigureAwait(false);
        if (decision.Status is < 200 or >= 300)
        {
            _logger?.LogDebug("session {Id} on {Path} refused: {Status}", sessionId, request.Path, decision.Status);
            wt.MarkEnded(sessionId);
            await RespondAsync(stream, decision.Status, [], finish: true, token).ConfigureAwait(false);
            return;
        }
        var session = new WebTransportSession(wt, stream.QuicStream, reader, request, decision.Protocol, _logger);
        var headers = new List<HttpField> { new("sec-webtransport-http3-draft", "draft02") };
        if (decision.Protocol is { } protocol)
            headers.Add(new HttpField("wt-protocol", StructuredFieldStrings.SerializeString(protocol)));
        // Established from our side once the 2xx is sent (draft §3.2); register first so nothing slips between.
        wt.AddSession(session);
        try
        {
            await RespondAsync(stream, 200, headers, finish: false, token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicException or OperationCanceledException or ObjectDisposedException)
        {
            session.Abort(Http3ErrorCode.RequestCancelled);
            return;
        }
        _logger?.LogDebug("session {Id} on {Path} established, protocol {Protocol}", sessionId, request.Path, decision.Protocol);
        _sessions.Writer.TryWrite(session);
        await session.RunConnectStreamAsync(token).ConfigureAwait(false);
    }

    private readonly record struct Decision(int Status, string? Protocol);

    private async Task<Decision> DecideAsync(WebTransportConnection wt, Http3Request request, CancellationToken cancellationToken)
    {
        // Draft §3.1: no WebTransport request is processed before the client's SETTINGS.
        Http3Settings peer;
        try
        {
            peer = await wt.Control.PeerSettings.WaitAsync(_options.PeerSettingsTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return new Decision(400, null);
        }
        if (WebTransportSettings.MissingOnClient(peer) is { } missing)
        {
            _logger?.LogDebug("client SETTINGS unfit for WebTransport: {Missing}", missing);
            return new Decision(400, null);
        }
        string path = request.Path;
        int query = path.IndexOf('?');
        if (query >= 0) path = path[..query];
        if (!_paths.TryGetValue(path, out var options))
            return new Decision(404, null);
        if (wt.ActiveSessions >= _options.MaxSessionsPerConnection)
            return new Decision(429, null);
        var offered = OfferedProtocols(request);
        string? chosen = offered.FirstOrDefault(p => options.Protocols.Contains(p));
        if (chosen is null && options.RequireProtocol)
            return new Decision(400, null);
        int status = options.Authorize?.Invoke(new WebTransportConnectRequest(request, offered, chosen, wt.Quic.RemoteEndPoint)) ?? 200;
        return new Decision(status, chosen);
    }

    /// <summary>WT-Available-Protocols as a list of strings; a malformed field is ignored (no protocols offered).</summary>
    public static IReadOnlyList<string> OfferedProtocols(Http3Request request)
    {
        var field = request.Header("wt-available-protocols");
        return field is not null && StructuredFieldStrings.TryParseList(field, out var list) ? list : [];
    }

    /// <summary>Frames up to the request's HEADERS; the rest of the stream belongs to the session.</summary>
    private static async Task<Http3Request> ReadRequestHeadAsync(Http3StreamReader reader, CancellationToken cancellationToken)
    {
        while (true)
        {
            var frame = await reader.ReadFrameHeaderAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new Http3Exception(Http3ErrorCode.RequestIncomplete, "request stream ended without HEADERS");
            switch (frame.Type)
            {
                case (ulong)Http3FrameType.Headers:
                    var fields = await reader.ReadFieldSectionAsync(frame.Length, cancellationToken).ConfigureAwait(false);
                    if (!Http3Message.TryValidateRequest(fields, out var request, out var error, allowExtendedConnect: true))
                        throw new Http3Exception(error);
                    return request;
                case (ulong)Http3FrameType.Data:
                case (ulong)Http3FrameType.PushPromise:
                case (ulong)Http3FrameType.Settings:
                case (ulong)Http3FrameType.GoAway:
                case (ulong)Http3FrameType.MaxPushId:
                case (ulong)Http3FrameType.CancelPush:
                    throw new Http3Exception(Http3ErrorCode.FrameUnexpected, "frame not allowed before the request's HEADERS");
                default:
                    if (Http3FrameCodec.IsHttp2Only(frame.Type))
                        throw new Http3Exception(Http3ErrorCode.FrameUnexpected, "HTTP/2 frame type");
                    await reader.SkipAsync(frame.Length, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
    }

    private static ValueTask RespondAsync(IHttp3Stream stream, int status, List<HttpField> extra, bool finish, CancellationToken cancellationToken)
    {
        var output = new ArrayBufferWriter<byte>(64);
        var section = QpackEncoder.Encode([
            new HttpField(":status", status.ToString(CultureInfo.InvariantCulture)),
            new HttpField("server", "fastrelay"),
            .. extra,
        ]);
        Http3FrameCodec.WriteFrame(output, (ulong)Http3FrameType.Headers, section);
        return stream.WriteAsync(output.WrittenMemory, finish, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        _lifetime.Cancel();
        if (_listener is not null)
            await _listener.DisposeAsync().ConfigureAwait(false);
        await _run.ConfigureAwait(false);
        _sessions.Writer.TryComplete();
        _lifetime.Dispose();
    }
}
