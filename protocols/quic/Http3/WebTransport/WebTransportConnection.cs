using System.Collections.Concurrent;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Wire;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Http3.WebTransport;

/// <summary>
/// The connection-wide half of WebTransport over HTTP/3 that server and client share: the HTTP/3 control plane with
/// WebTransport SETTINGS, the demultiplexing of inbound streams (type 0x54 / signal 0x41 + session id) and HTTP
/// datagrams (quarter stream id) onto sessions, and the buffering of streams and datagrams that arrive before their
/// session exists (draft §4.6) — bounded: excess streams are rejected with WT_BUFFERED_STREAM_REJECTED, excess
/// datagrams dropped.
/// </summary>
internal sealed class WebTransportConnection
{
    private readonly Func<PrefixedHttp3Stream, Task>? _onRequestStream;
    private readonly ILogger? _logger;
    private readonly int _maxBufferedStreams;
    private readonly int _maxBufferedDatagrams;
    private readonly object _lock = new();
    private readonly Dictionary<long, WebTransportSession> _sessions = [];
    /// <summary>Ended or refused session ids, so their late streams are reset rather than buffered. Capped: a client
    /// that opens CONNECT after CONNECT must not grow it forever; the oldest ids are forgotten first (a late stream for
    /// one of those is only buffered, which is bounded too).</summary>
    private readonly SortedSet<long> _endedSessions = [];
    private const int MaxRememberedEndedSessions = 1024;
    private readonly Dictionary<long, List<QuicStream>> _bufferedStreams = [];
    private readonly Queue<(long Session, byte[] Payload)> _bufferedDatagrams = new();
    private readonly CancellationTokenSource _lifetime = new();
    private int _bufferedStreamCount;
    private long _nextRequestStreamId; // lowest client bidirectional id not seen yet, for GOAWAY
    private readonly bool _ownsConnection;

    public WebTransportConnection(QuicConnection quic, bool isServer, Http3Settings localSettings, ILogger? logger, int maxBufferedStreams,
        int maxBufferedDatagrams, Func<PrefixedHttp3Stream, Task>? onRequestStream, bool ownsConnection)
    {
        Quic = quic;
        IsServer = isServer;
        _logger = logger;
        _maxBufferedStreams = maxBufferedStreams;
        _maxBufferedDatagrams = maxBufferedDatagrams;
        _onRequestStream = onRequestStream;
        _ownsConnection = ownsConnection;
        Http3 = new QuicHttp3Connection(quic);
        Control = new Http3ControlPlane(Http3, isServer, logger, localSettings);
    }

    public QuicConnection Quic { get; }
    public QuicHttp3Connection Http3 { get; }
    public Http3ControlPlane Control { get; }
    public bool IsServer { get; }
    public CancellationToken Lifetime => _lifetime.Token;

    public int ActiveSessions
    {
        get { lock (_lock) return _sessions.Count; }
    }

    public Task AcceptLoop { get; private set; } = Task.CompletedTask;
    public Task DatagramLoop { get; private set; } = Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await Control.StartAsync(cancellationToken).ConfigureAwait(false);
        AcceptLoop = AcceptStreamsAsync(_lifetime.Token);
        DatagramLoop = ReceiveDatagramsAsync(_lifetime.Token);
        _ = Quic.Closed.ContinueWith(_ => OnConnectionClosed(), TaskScheduler.Default);
        _ = Control.Failed.ContinueWith(_ => OnConnectionClosed(), TaskScheduler.Default);
        // GOAWAY asks every session of the connection to wind down (draft §4.7).
        _ = Control.PeerGoAway.ContinueWith(_ =>
        {
            List<WebTransportSession> sessions;
            lock (_lock) sessions = [.. _sessions.Values];
            foreach (var session in sessions)
                session.OnGoAway();
        }, TaskScheduler.Default);
    }

    public Task FailAsync(Http3Error error) => Control.FailAsync(error);

    /// <summary>Registers an established session and hands it whatever was buffered for its id.</summary>
    public void AddSession(WebTransportSession session)
    {
        List<QuicStream>? streams;
        var datagrams = new List<byte[]>();
        lock (_lock)
        {
            _sessions[session.SessionId] = session;
            if (_bufferedStreams.Remove(session.SessionId, out streams))
                _bufferedStreamCount -= streams.Count;
            int count = _bufferedDatagrams.Count;
            for (int i = 0; i < count; i++)
            {
                var d = _bufferedDatagrams.Dequeue();
                if (d.Session == session.SessionId) datagrams.Add(d.Payload);
                else _bufferedDatagrams.Enqueue(d);
            }
        }
        foreach (var stream in streams ?? [])
            session.OnPeerStream(stream);
        foreach (var d in datagrams)
            session.OnDatagram(d);
    }

    /// <summary>A CONNECT that will never become a session (refused, or ended): its buffered streams are reset.</summary>
    public void MarkEnded(long sessionId)
    {
        List<QuicStream>? streams;
        lock (_lock)
        {
            _endedSessions.Add(sessionId);
            if (_endedSessions.Count > MaxRememberedEndedSessions)
                _endedSessions.Remove(_endedSessions.Min);
            _sessions.Remove(sessionId);
            if (_bufferedStreams.Remove(sessionId, out streams))
                _bufferedStreamCount -= streams.Count;
        }
        foreach (var stream in streams ?? [])
            Reject(stream, WebTransportHttp3Error.SessionGone);
    }

    public void OnSessionEnded(WebTransportSession session) => MarkEnded(session.SessionId);

    public async ValueTask OnSessionDisposedAsync(WebTransportSession session)
    {
        if (!_ownsConnection)
            return;
        // A client owns its connection: give the peer a moment to see WT_CLOSE_SESSION and answer with its FIN
        // before CONNECTION_CLOSE can overtake it (draft §6).
        await Task.WhenAny(PeerFinishedConnectStream(session), Task.Delay(TimeSpan.FromMilliseconds(200))).ConfigureAwait(false);
        try
        {
            // Starts CONNECTION_CLOSE now; waiting out the closing period (3 PTO) is the endpoint's business, not ours.
            _ = Quic.CloseAsync((long)Http3ErrorCode.NoError);
        }
        catch (Exception e) when (e is QuicException or ObjectDisposedException or InvalidOperationException)
        {
        }
        _lifetime.Cancel();
        await Quic.DisposeAsync().ConfigureAwait(false);
    }

    private static Task PeerFinishedConnectStream(WebTransportSession session) => session.ConnectStreamReadsClosed;

    private void OnConnectionClosed()
    {
        List<WebTransportSession> sessions;
        lock (_lock) sessions = [.. _sessions.Values];
        foreach (var session in sessions)
            session.OnConnectionLost();
        _lifetime.Cancel();
    }

    private async Task AcceptStreamsAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                var stream = await Quic.AcceptInboundStreamAsync(cancellationToken).ConfigureAwait(false);
                _ = ClassifyStreamAsync(stream, cancellationToken);
            }
        }
        catch (Exception e) when (e is QuicException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Reads a stream's first varint (and the session id for WebTransport streams) and hands it on.</summary>
    private async Task ClassifyStreamAsync(QuicStream stream, CancellationToken cancellationToken)
    {
        try
        {
            var first = await StreamHeaderReader.ReadVarintAsync(stream, cancellationToken).ConfigureAwait(false);
            if (first is null)
                return; // ended before its type: nothing to act on
            var (type, raw) = first.Value;
            bool bidirectional = stream.Type == QuicStreamType.Bidirectional;
            if (bidirectional)
                InterlockedMax(ref _nextRequestStreamId, stream.Id + 4);
            if (bidirectional ? type == WebTransportStreamType.BidirectionalSignal : type == WebTransportStreamType.Unidirectional)
            {
                var session = await StreamHeaderReader.ReadVarintAsync(stream, cancellationToken).ConfigureAwait(false);
                if (session is null)
                    return;
                await RouteStreamAsync((long)session.Value.Value, stream).ConfigureAwait(false);
                return;
            }
            if (!bidirectional)
            {
                await Control.HandleUnidirectionalAsync(Http3.Wrap(stream), type, cancellationToken).ConfigureAwait(false);
                return;
            }
            if (_onRequestStream is null)
            {
                // Servers open bidirectional streams only for WebTransport (the signal comes first).
                await Control.FailAsync(new Http3Error(Http3ErrorCode.StreamCreationError, "server opened a bidirectional stream that is not WebTransport")).ConfigureAwait(false);
                return;
            }
            await _onRequestStream(new PrefixedHttp3Stream(stream, raw)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Server: GOAWAY with the first request stream id we have not seen; sessions stay usable (draft §4.7).</summary>
    public Task SendGoAwayAsync(CancellationToken cancellationToken) =>
        Control.SendGoAwayAsync((ulong)Interlocked.Read(ref _nextRequestStreamId), cancellationToken);

    private static void InterlockedMax(ref long target, long value)
    {
        long current;
        while ((current = Interlocked.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    private async Task RouteStreamAsync(long sessionId, QuicStream stream)
    {
        // Session ids are client-initiated bidirectional stream ids (draft §4).
        if (sessionId % 4 != 0)
        {
            await Control.FailAsync(new Http3Error(Http3ErrorCode.IdError, "session id is not a client-initiated bidirectional stream")).ConfigureAwait(false);
            return;
        }
        WebTransportSession? target;
        long rejectCode = 0;
        lock (_lock)
        {
            if (!_sessions.TryGetValue(sessionId, out target))
            {
                if (_endedSessions.Contains(sessionId))
                    rejectCode = WebTransportHttp3Error.SessionGone;
                else if (_bufferedStreamCount >= _maxBufferedStreams)
                    rejectCode = WebTransportHttp3Error.BufferedStreamRejected;
                else
                {
                    if (!_bufferedStreams.TryGetValue(sessionId, out var list))
                        _bufferedStreams[sessionId] = list = [];
                    list.Add(stream);
                    _bufferedStreamCount++;
                    _logger?.LogDebug("stream {Stream} buffered for session {Session} (not established yet)", stream.Id, sessionId);
                    return;
                }
            }
        }
        if (target is not null)
            target.OnPeerStream(stream);
        else
            Reject(stream, rejectCode);
    }

    private static void Reject(QuicStream stream, long code)
    {
        try
        {
            stream.Abort(QuicAbortDirection.Both, code);
        }
        catch (Exception e) when (e is QuicException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    private async Task ReceiveDatagramsAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                var datagram = await Quic.ReceiveDatagramAsync(cancellationToken).ConfigureAwait(false);
                if (!QuicVarint.TryRead(datagram.Span, out ulong quarter, out int length) || quarter > (1UL << 60))
                {
                    // RFC 9297 §2.1: a datagram without a valid quarter stream id is H3_DATAGRAM_ERROR.
                    await Control.FailAsync(new Http3Error((Http3ErrorCode)0x33, "HTTP datagram without a quarter stream id")).ConfigureAwait(false);
                    return;
                }
                long sessionId = (long)(quarter * 4);
                var payload = datagram[length..];
                WebTransportSession? target;
                lock (_lock)
                {
                    if (!_sessions.TryGetValue(sessionId, out target))
                    {
                        if (!_endedSessions.Contains(sessionId))
                        {
                            if (_bufferedDatagrams.Count >= _maxBufferedDatagrams)
                                _bufferedDatagrams.Dequeue();
                            _bufferedDatagrams.Enqueue((sessionId, payload.ToArray()));
                        }
                        continue;
                    }
                }
                target.OnDatagram(payload);
            }
        }
        catch (Exception e) when (e is QuicException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }
}
