using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Threading.Channels;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Http3.Qpack;
using FastRelay.Protocols.Quic.Wire;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Http3.WebTransport;

/// <summary>
/// One WebTransport session (draft-ietf-webtrans-http3): the CONNECT stream that established it plus every stream and
/// HTTP datagram that names its session id. Either side may open streams and send datagrams; either side may close it
/// with a 32-bit code and a reason (WT_CLOSE_SESSION, then FIN). When it ends, every stream of the session is reset
/// with WT_SESSION_GONE and <see cref="Closed"/> completes with how it ended.
/// </summary>
public sealed class WebTransportSession : IAsyncDisposable
{
    /// <summary>Inbound datagrams kept for a slow reader; beyond this the oldest is dropped.</summary>
    public const int MaxQueuedDatagrams = 256;

    private readonly WebTransportConnection _connection;
    private readonly QuicStream _connectStream;
    private readonly Http3StreamReader _connectReader;
    private readonly ILogger? _logger;
    private readonly Channel<WebTransportStream> _incoming = Channel.CreateUnbounded<WebTransportStream>();
    private readonly Channel<ReadOnlyMemory<byte>> _datagrams = Channel.CreateBounded<ReadOnlyMemory<byte>>(
        new BoundedChannelOptions(MaxQueuedDatagrams) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly ConcurrentDictionary<long, WebTransportStream> _streams = new();
    private readonly TaskCompletionSource<WebTransportCloseInfo> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _draining = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _connectWrite = new(1, 1);
    private readonly byte[] _datagramPrefix;
    private int _closeSent;

    internal WebTransportSession(WebTransportConnection connection, QuicStream connectStream, Http3StreamReader connectReader, Http3Request request,
        string? protocol, ILogger? logger)
    {
        _connection = connection;
        _connectStream = connectStream;
        _connectReader = connectReader;
        _logger = logger;
        Request = request;
        Protocol = protocol;
        var prefix = new byte[8];
        _datagramPrefix = prefix[..QuicVarint.Write(prefix, (ulong)SessionId / 4)];
    }

    /// <summary>The session id: the stream id of the CONNECT stream.</summary>
    public long SessionId => _connectStream.Id;

    /// <summary>The extended CONNECT request that opened the session (what the client sent).</summary>
    public Http3Request Request { get; }
    public string Path => Request.Path;
    public string Authority => Request.Authority;
    public IReadOnlyList<HttpField> RequestHeaders => Request.Headers;
    public string? Origin => Request.Header("origin");

    /// <summary>The application protocol both agreed on (WT-Protocol), or null when none was negotiated.</summary>
    public string? Protocol { get; }

    public bool IsServer => _connection.IsServer;
    public QuicConnection Connection => _connection.Quic;
    public IPEndPoint RemoteEndPoint => _connection.Quic.RemoteEndPoint;

    /// <summary>Completes once the session ended, with how (never faults).</summary>
    public Task<WebTransportCloseInfo> Closed => _closed.Task;

    /// <summary>Completes when the peer's side of the CONNECT stream has ended (FIN or reset).</summary>
    internal Task ConnectStreamReadsClosed => _connectStream.ReadsClosed;

    /// <summary>Completes when the peer asked to wind the session down (WT_DRAIN_SESSION or GOAWAY).</summary>
    public Task Draining => _draining.Task;

    // ---- streams ----

    public ValueTask<WebTransportStream> OpenUnidirectionalStreamAsync(CancellationToken cancellationToken = default) =>
        OpenStreamAsync(bidirectional: false, cancellationToken);

    public ValueTask<WebTransportStream> OpenBidirectionalStreamAsync(CancellationToken cancellationToken = default) =>
        OpenStreamAsync(bidirectional: true, cancellationToken);

    /// <summary>Opens a stream (waits for QUIC stream credit) and sends its header at once, so the peer learns of it.</summary>
    public async ValueTask<WebTransportStream> OpenStreamAsync(bool bidirectional, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        QuicStream quic;
        try
        {
            quic = await _connection.Quic.OpenOutboundStreamAsync(bidirectional ? QuicStreamType.Bidirectional : QuicStreamType.Unidirectional,
                cancellationToken).ConfigureAwait(false);
            var header = StreamHeaderReader.Encode(bidirectional ? WebTransportStreamType.BidirectionalSignal : WebTransportStreamType.Unidirectional,
                (ulong)SessionId);
            await quic.WriteAsync(header, completeWrites: false, cancellationToken).ConfigureAwait(false);
        }
        catch (QuicException e)
        {
            throw new WebTransportException(WebTransportErrorKind.SessionClosed, $"cannot open a stream: {e.Message}", inner: e);
        }
        var stream = new WebTransportStream(this, quic, locallyOpened: true);
        Track(stream);
        if (_closed.Task.IsCompleted)
        {
            stream.AbortForSessionEnd();
            ThrowIfClosed();
        }
        return stream;
    }

    /// <summary>The next stream the peer opened in this session (either direction).</summary>
    public async ValueTask<WebTransportStream> AcceptStreamAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _incoming.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw ClosedException();
        }
    }

    internal void OnPeerStream(QuicStream quic)
    {
        var stream = new WebTransportStream(this, quic, locallyOpened: false);
        Track(stream);
        if (_closed.Task.IsCompleted || !_incoming.Writer.TryWrite(stream))
            stream.AbortForSessionEnd();
    }

    private void Track(WebTransportStream stream)
    {
        _streams[stream.Id] = stream;
        // Forget streams once both directions are done, so a long session does not accumulate them.
        _ = Task.WhenAll(stream.QuicStream.ReadsClosed, stream.QuicStream.WritesClosed)
            .ContinueWith(_ => _streams.TryRemove(stream.Id, out WebTransportStream? _), TaskScheduler.Default);
    }

    // ---- datagrams ----

    /// <summary>Largest datagram payload <see cref="SendDatagram"/> takes now (the QUIC limit less the quarter stream id).</summary>
    public int MaxDatagramPayload => Math.Max(0, _connection.Quic.MaxDatagramPayload - _datagramPrefix.Length);

    /// <summary>Sends one HTTP datagram (quarter stream id + payload) without waiting; see <see cref="QuicConnection.SendDatagram"/>.</summary>
    public DatagramSendResult SendDatagram(ReadOnlySpan<byte> payload)
    {
        if (_closed.Task.IsCompleted) return DatagramSendResult.Closed;
        if (payload.Length > MaxDatagramPayload) return MaxDatagramPayload == 0 ? DatagramSendResult.NotNegotiated : DatagramSendResult.TooLarge;
        int length = _datagramPrefix.Length + payload.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            _datagramPrefix.CopyTo(buffer, 0);
            payload.CopyTo(buffer.AsSpan(_datagramPrefix.Length));
            return _connection.Quic.SendDatagram(buffer.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The next datagram of this session; throws <see cref="WebTransportException"/> once the session ended.</summary>
    public async ValueTask<ReadOnlyMemory<byte>> ReceiveDatagramAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _datagrams.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw ClosedException();
        }
    }

    internal void OnDatagram(ReadOnlyMemory<byte> payload) => _datagrams.Writer.TryWrite(payload);

    // ---- closing ----

    /// <summary>
    /// Closes the session: WT_CLOSE_SESSION with <paramref name="errorCode"/> and <paramref name="reason"/> (cut to 1024
    /// UTF-8 bytes), FIN on the CONNECT stream, every stream reset with WT_SESSION_GONE. Idempotent.
    /// </summary>
    public async ValueTask CloseAsync(uint errorCode = 0, string reason = "", CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _closeSent, 1) != 0)
            return;
        bool first = _closed.TrySetResult(new WebTransportCloseInfo(errorCode, reason, ByPeer: false));
        var bytes = new ArrayBufferWriter<byte>(64);
        var capsule = new ArrayBufferWriter<byte>(64);
        Capsule.WriteCloseSession(capsule, errorCode, reason);
        Http3FrameCodec.WriteFrame(bytes, (ulong)Http3FrameType.Data, capsule.WrittenSpan);
        try
        {
            await WriteConnectStreamAsync(bytes.WrittenMemory, fin: true, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicException or ObjectDisposedException or InvalidOperationException)
        {
            // The stream or connection is gone: the peer learns of the end that way.
        }
        finally
        {
            // The streams are reset only after the capsule is queued, as QUICHE orders it: a Chromium that saw a stream's
            // WT_SESSION_GONE reset before the session's close info sometimes ended the session as "Connection lost"
            // (suspected cause of a rare full-suite failure in ChromiumWebTransportTests; not reproducible alone).
            if (first) Terminate();
        }
    }

    /// <summary>Asks the peer to wind the session down (WT_DRAIN_SESSION); the session stays usable.</summary>
    public async ValueTask DrainAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        var bytes = new ArrayBufferWriter<byte>(16);
        var capsule = new ArrayBufferWriter<byte>(8);
        Capsule.WriteDrainSession(capsule);
        Http3FrameCodec.WriteFrame(bytes, (ulong)Http3FrameType.Data, capsule.WrittenSpan);
        await WriteConnectStreamAsync(bytes.WrittenMemory, fin: false, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask WriteConnectStreamAsync(ReadOnlyMemory<byte> bytes, bool fin, CancellationToken cancellationToken)
    {
        await _connectWrite.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _connectStream.WriteAsync(bytes, fin, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _connectWrite.Release();
        }
    }

    /// <summary>Reads the CONNECT stream after the session was established: DATA frames carry capsules.</summary>
    internal async Task RunConnectStreamAsync(CancellationToken cancellationToken)
    {
        var parser = new CapsuleStreamParser();
        var capsules = new List<ReceivedCapsule>();
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var header = await _connectReader.ReadFrameHeaderAsync(cancellationToken).ConfigureAwait(false);
                if (header is null)
                {
                    // FIN: without WT_CLOSE_SESSION this means code 0, empty reason (draft §6).
                    if (!parser.AtBoundary)
                        throw new Http3Exception(Http3ErrorCode.MessageError, "CONNECT stream ended inside a capsule");
                    OnPeerClosed(new WebTransportCloseInfo(0, "", ByPeer: true));
                    return;
                }
                var frame = header.Value;
                switch (frame.Type)
                {
                    case (ulong)Http3FrameType.Data:
                        long remaining = frame.Length;
                        while (remaining > 0)
                        {
                            int n = await _connectReader.ReadSomeAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), cancellationToken).ConfigureAwait(false);
                            if (n == 0)
                                throw new Http3Exception(Http3ErrorCode.FrameError, "CONNECT stream ended inside a DATA frame");
                            remaining -= n;
                            capsules.Clear();
                            if (!parser.TryFeed(buffer.AsSpan(0, n), capsules, out var error))
                                throw new Http3Exception(error);
                            foreach (var capsule in capsules)
                                OnCapsule(capsule);
                        }
                        break;
                    case (ulong)Http3FrameType.Headers:
                        // Trailers: nothing in them matters to the session.
                        await _connectReader.ReadFieldSectionAsync(frame.Length, cancellationToken).ConfigureAwait(false);
                        break;
                    case (ulong)Http3FrameType.Settings:
                    case (ulong)Http3FrameType.GoAway:
                    case (ulong)Http3FrameType.MaxPushId:
                    case (ulong)Http3FrameType.CancelPush:
                    case (ulong)Http3FrameType.PushPromise:
                        throw new Http3Exception(Http3ErrorCode.FrameUnexpected, "control frame on a CONNECT stream");
                    default:
                        await _connectReader.SkipAsync(frame.Length, cancellationToken).ConfigureAwait(false);
                        break;
                }
            }
        }
        catch (Http3Exception e) when (e.Code == Http3ErrorCode.MessageError)
        {
            _logger?.LogDebug("session {Id}: {Message}", SessionId, e.Message);
            Abort(Http3ErrorCode.MessageError);
        }
        catch (Http3Exception e)
        {
            _logger?.LogDebug("session {Id}: {Message}", SessionId, e.Message);
            Abort(e.Code);
            await _connection.FailAsync(new Http3Error(e.Code, e.Message)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicException or ObjectDisposedException or OperationCanceledException)
        {
            // CONNECT stream reset or connection gone: the session ends abruptly.
            if (_closed.TrySetResult(new WebTransportCloseInfo(0, e.Message, ByPeer: true, Abrupt: true)))
                Terminate();
        }
    }

    private void OnCapsule(ReceivedCapsule capsule)
    {
        switch (capsule.Type)
        {
            case CapsuleType.CloseSession:
                if (!Capsule.TryReadCloseSession(capsule.Payload, out var close, out var error))
                    throw new Http3Exception(error);
                OnPeerClosed(new WebTransportCloseInfo(close.ErrorCode, close.Message, ByPeer: true));
                break;
            case CapsuleType.DrainSession:
                _draining.TrySetResult();
                break;
            case CapsuleType.Datagram:
                OnDatagram(capsule.Payload);
                break;
        }
    }

    private void OnPeerClosed(WebTransportCloseInfo info)
    {
        if (_closed.TrySetResult(info))
        {
            _logger?.LogDebug("session {Id} closed by the peer: {Info}", SessionId, info);
            Terminate();
        }
        // Answer with our FIN (the peer's WT_CLOSE_SESSION asks us to close the stream too).
        if (Interlocked.Exchange(ref _closeSent, 1) == 0)
        {
            try
            {
                _connectStream.CompleteWrites();
            }
            catch (Exception e) when (e is QuicException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }
    }

    /// <summary>Ends the session abruptly: CONNECT stream reset with <paramref name="code"/>.</summary>
    internal void Abort(Http3ErrorCode code) => Abort((long)code, $"session aborted: {code}");

    internal void Abort(long code, string reason)
    {
        if (_closed.TrySetResult(new WebTransportCloseInfo(0, reason, ByPeer: false, Abrupt: true)))
            Terminate();
        Interlocked.Exchange(ref _closeSent, 1);
        try
        {
            _connectStream.Abort(QuicAbortDirection.Both, code);
        }
        catch (Exception e) when (e is QuicException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    internal void OnGoAway() => _draining.TrySetResult();

    /// <summary>The QUIC connection (or HTTP/3 on it) ended under the session: abrupt, and not our doing.</summary>
    internal void OnConnectionLost()
    {
        if (_closed.TrySetResult(new WebTransportCloseInfo(0, "the connection closed", ByPeer: true, Abrupt: true)))
            Terminate();
    }

    /// <summary>Session termination (draft §6): reset every stream with WT_SESSION_GONE, no more streams or datagrams.</summary>
    private void Terminate()
    {
        _incoming.Writer.TryComplete();
        _datagrams.Writer.TryComplete();
        while (_incoming.Reader.TryRead(out var pending))
            pending.AbortForSessionEnd();
        foreach (var stream in _streams.Values)
            stream.AbortForSessionEnd();
        _connection.OnSessionEnded(this);
    }

    private void ThrowIfClosed()
    {
        if (_closed.Task.IsCompleted)
            throw ClosedException();
    }

    private WebTransportException ClosedException()
    {
        var info = _closed.Task.IsCompleted ? _closed.Task.Result : default;
        return new WebTransportException(WebTransportErrorKind.SessionClosed, $"the session has ended ({info})", info.ErrorCode);
    }

    /// <summary>Closes with code 0 (if still open); a client session also closes the connection it owns.</summary>
    public async ValueTask DisposeAsync()
    {
        await CloseAsync(0, "").ConfigureAwait(false);
        await _connection.OnSessionDisposedAsync(this).ConfigureAwait(false);
    }
}
