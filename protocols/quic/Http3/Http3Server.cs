using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Http3.Qpack;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Http3;

/// <summary>
/// Minimal HTTP/3 file server (RFC 9114): a <see cref="QuicListener"/> with ALPN "h3"; per connection our control
/// stream with SETTINGS, the client's unidirectional streams via <see cref="Http3ControlPlane"/>, and each
/// bidirectional stream one request: GET or HEAD of a file under the root (<see cref="Http3StaticFiles"/>), others
/// 405. Bodies are streamed from disk in DATA frames. On shutdown every connection gets GOAWAY, in-flight requests
/// finish (bounded), then the connection is closed with H3_NO_ERROR.
/// </summary>
public sealed class Http3Server : IAsyncDisposable
{
    public const string Alpn = "h3";
    private const int ChunkSize = 256 * 1024;

    private readonly Http3StaticFiles _files;
    private readonly ILogger? _logger;
    private readonly ConcurrentDictionary<Http3ServerConnection, byte> _connections = new();
    private QuicListener? _listener;

    public Http3Server(string root, ILogger? logger = null)
    {
        _files = new Http3StaticFiles(root);
        _logger = logger;
    }

    public string Root => _files.Root;

    public IPEndPoint LocalEndPoint => _listener?.LocalEndPoint ?? throw new InvalidOperationException("not listening");

    /// <summary>Starts the QUIC listener (ALPN "h3" is added to both option lists when missing).</summary>
    public async Task ListenAsync(QuicListenerOptions options, CancellationToken cancellationToken = default)
    {
        if (!options.ApplicationProtocols.Contains(Alpn))
            options.ApplicationProtocols.Insert(0, Alpn);
        if (!options.ConnectionOptions.ApplicationProtocols.Contains(Alpn))
            options.ConnectionOptions.ApplicationProtocols.Insert(0, Alpn);
        _listener = await QuicListener.ListenAsync(options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Accepts and serves connections until cancelled, then shuts every connection down gracefully.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var listener = _listener ?? throw new InvalidOperationException("call ListenAsync first");
        await listener.ServeConnectionsAsync(connection =>
        {
            _logger?.LogDebug("connection from {Remote}", connection.RemoteEndPoint);
            return ServeConnectionAsync(new QuicHttp3Connection(connection), cancellationToken);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Serves one connection until it closes or <paramref name="cancellationToken"/> asks for shutdown
    /// (GOAWAY, drain, close). Usable over any <see cref="IHttp3Connection"/>.</summary>
    public async Task ServeConnectionAsync(IHttp3Connection connection, CancellationToken cancellationToken)
    {
        var served = new Http3ServerConnection(this, connection);
        _connections.TryAdd(served, 0);
        try
        {
            await served.RunAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _connections.TryRemove(served, out _);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_listener is not null)
            await _listener.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class Http3ServerConnection(Http3Server server, IHttp3Connection connection)
    {
        private readonly Http3ControlPlane _control = new(connection, isServer: true, server._logger);
        private readonly ConcurrentDictionary<Task, byte> _requests = new();
        private long _nextStreamId; // lowest client bidirectional id not yet accepted, for GOAWAY

        public async Task RunAsync(CancellationToken shutdown)
        {
            using var lifetime = new CancellationTokenSource();
            try
            {
                await _control.StartAsync(shutdown).ConfigureAwait(false);
                var accept = AcceptLoopAsync(lifetime.Token);
                var finished = await Task.WhenAny(accept, _control.Failed, Task.Delay(Timeout.Infinite, shutdown)).ConfigureAwait(false);
                if (finished != accept && !_control.Failed.IsCompleted)
                {
                    // Graceful shutdown (§5.2): no request with an id at or above GOAWAY's is processed.
                    await _control.SendGoAwayAsync((ulong)Interlocked.Read(ref _nextStreamId), CancellationToken.None).ConfigureAwait(false);
                    await Task.WhenAny(Task.WhenAll(_requests.Keys), Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
                    await connection.CloseAsync((long)Http3ErrorCode.NoError).ConfigureAwait(false);
                }
                lifetime.Cancel();
                await accept.ConfigureAwait(false);
            }
            catch (Exception e) when (e is QuicException or ObjectDisposedException or OperationCanceledException)
            {
                server._logger?.LogDebug("connection ended: {Message}", e.Message);
            }
            finally
            {
                await Task.WhenAll(_requests.Keys).ConfigureAwait(false);
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }

        private async Task AcceptLoopAsync(CancellationToken cancellationToken)
        {
            try
            {
                while (true)
                {
                    var stream = await connection.AcceptInboundStreamAsync(cancellationToken).ConfigureAwait(false);
                    if (stream.Type == QuicStreamType.Unidirectional)
                    {
                        _ = _control.HandleUnidirectionalAsync(stream, cancellationToken);
                        continue;
                    }
                    InterlockedMax(ref _nextStreamId, stream.Id + 4);
                    var request = HandleRequestAsync(stream, cancellationToken);
                    _requests.TryAdd(request, 0);
                    _ = request.ContinueWith(t => _requests.TryRemove(t, out _), TaskScheduler.Default);
                }
            }
            catch (Exception e) when (e is QuicException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }

        private static void InterlockedMax(ref long target, long value)
        {
            long current;
            while ((current = Interlocked.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
            {
            }
        }

        private async Task HandleRequestAsync(IHttp3Stream stream, CancellationToken cancellationToken)
        {
            try
            {
                var request = await ReadRequestAsync(stream, cancellationToken).ConfigureAwait(false);
                await server.RespondAsync(stream, request, cancellationToken).ConfigureAwait(false);
            }
            catch (Http3Exception e) when (e.Code is Http3ErrorCode.MessageError or Http3ErrorCode.RequestIncomplete)
            {
                server._logger?.LogDebug("stream {Id}: {Message}", stream.Id, e.Message);
                stream.Abort(QuicAbortDirection.Both, (long)e.Code);
            }
            catch (Http3Exception e)
            {
                await _control.FailAsync(new Http3Error(e.Code, e.Message)).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                stream.Abort(QuicAbortDirection.Both, (long)Http3ErrorCode.RequestCancelled);
            }
            catch (Exception e) when (e is QuicException or ObjectDisposedException)
            {
                server._logger?.LogDebug("stream {Id} ended: {Message}", stream.Id, e.Message);
            }
            catch (IOException e)
            {
                server._logger?.LogWarning("stream {Id}: file error {Message}", stream.Id, e.Message);
                stream.Abort(QuicAbortDirection.Both, (long)Http3ErrorCode.InternalError);
            }
        }

        /// <summary>HEADERS, then (ignored) DATA and optional trailers until FIN (§4.1).</summary>
        private static async Task<Http3Request> ReadRequestAsync(IHttp3Stream stream, CancellationToken cancellationToken)
        {
            var reader = new Http3StreamReader(stream);
            Http3Request? request = null;
            bool trailers = false;
            while (true)
            {
                var header = await reader.ReadFrameHeaderAsync(cancellationToken).ConfigureAwait(false);
                if (header is null)
                    break;
                var frame = header.Value;
                switch (frame.Type)
                {
                    case (ulong)Http3FrameType.Headers:
                        if (trailers)
                            throw new Http3Exception(Http3ErrorCode.FrameUnexpected, "HEADERS after trailers");
                        var fields = await reader.ReadFieldSectionAsync(frame.Length, cancellationToken).ConfigureAwait(false);
                        Http3Error error;
                        if (request is null)
                        {
                            if (!Http3Message.TryValidateRequest(fields, out request, out error))
                                throw new Http3Exception(error);
                        }
                        else if (!Http3Message.TryValidateTrailers(fields, out error))
                            throw new Http3Exception(error);
                        else
                            trailers = true;
                        break;
                    case (ulong)Http3FrameType.Data:
                        if (request is null || trailers)
                            throw new Http3Exception(Http3ErrorCode.FrameUnexpected, "DATA before HEADERS");
                        await reader.SkipAsync(frame.Length, cancellationToken).ConfigureAwait(false); // GET/HEAD bodies carry no meaning
                        break;
                    case (ulong)Http3FrameType.PushPromise:
                    case (ulong)Http3FrameType.Settings:
                    case (ulong)Http3FrameType.GoAway:
                    case (ulong)Http3FrameType.MaxPushId:
                    case (ulong)Http3FrameType.CancelPush:
                        throw new Http3Exception(Http3ErrorCode.FrameUnexpected, "frame not allowed on a request stream");
                    default:
                        if (Http3FrameCodec.IsHttp2Only(frame.Type))
                            throw new Http3Exception(Http3ErrorCode.FrameUnexpected, "HTTP/2 frame type");
                        await reader.SkipAsync(frame.Length, cancellationToken).ConfigureAwait(false);
                        break;
                }
            }
            return request ?? throw new Http3Exception(Http3ErrorCode.RequestIncomplete, "request stream ended without HEADERS");
        }
    }

    private async Task RespondAsync(IHttp3Stream stream, Http3Request request, CancellationToken cancellationToken)
    {
        bool head = request.Method == "HEAD";
        if (request.Method is not ("GET" or "HEAD"))
        {
            _logger?.LogDebug("stream {Id}: {Method} {Path} -> 405", stream.Id, request.Method, request.Path);
            await WriteHeadAsync(stream, 405, 0, [new HttpField("allow", "GET, HEAD")], finish: true, cancellationToken).ConfigureAwait(false);
            return;
        }
        int status = _files.Resolve(request.Path, out string? path);
        if (status != 200)
        {
            _logger?.LogDebug("stream {Id}: {Method} {Path} -> {Status}", stream.Id, request.Method, request.Path, status);
            await WriteHeadAsync(stream, status, 0, [], finish: true, cancellationToken).ConfigureAwait(false);
            return;
        }
        // Read with RandomAccess.Read on this (pool) thread: on Linux an "async" file read is the same blocking pread
        // queued to another pool thread, so awaiting it only added a thread hop (two futex wake-ups) per chunk.
        using var file = File.OpenHandle(path!, FileMode.Open, FileAccess.Read, FileShare.Read);
        long length = RandomAccess.GetLength(file);
        _logger?.LogDebug("stream {Id}: {Method} {Path} -> 200, {Length} bytes", stream.Id, request.Method, request.Path, length);
        HttpField[] contentType = [new HttpField("content-type", Http3StaticFiles.ContentTypeFor(path!))];
        if (head || length == 0)
        {
            await WriteHeadAsync(stream, 200, length, contentType, finish: true, cancellationToken).ConfigureAwait(false);
            return;
        }
        await WriteHeadAsync(stream, 200, length, contentType, finish: false, cancellationToken).ConfigureAwait(false);
        // Each chunk goes out as one DATA frame with its header in front; the last one carries FIN.
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize + 16);
        try
        {
            long sent = 0;
            while (sent < length)
            {
                int want = (int)Math.Min(ChunkSize, length - sent);
                int headerLength = Http3FrameCodec.GetHeaderLength((ulong)Http3FrameType.Data, want);
                int read = 0;
                while (read < want)
                {
                    int n = RandomAccess.Read(file, buffer.AsSpan(headerLength + read, want - read), sent + read);
                    if (n == 0)
                        throw new IOException("file shrank while it was being sent");
                    read += n;
                }
                Http3FrameCodec.WriteHeader(buffer, (ulong)Http3FrameType.Data, want);
                sent += want;
                await stream.WriteAsync(buffer.AsMemory(0, headerLength + want), completeWrites: sent == length, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static ValueTask WriteHeadAsync(IHttp3Stream stream, int status, long contentLength, HttpField[] extra, bool finish, CancellationToken cancellationToken)
    {
        var output = new ArrayBufferWriter<byte>(64);
        var section = QpackEncoder.Encode([
            new HttpField(":status", status.ToString(CultureInfo.InvariantCulture)),
            new HttpField("content-length", contentLength.ToString(CultureInfo.InvariantCulture)),
            new HttpField("server", "fastrelay"),
            .. extra,
        ]);
        Http3FrameCodec.WriteFrame(output, (ulong)Http3FrameType.Headers, section);
        return stream.WriteAsync(output.WrittenMemory, finish, cancellationToken);
    }
}
