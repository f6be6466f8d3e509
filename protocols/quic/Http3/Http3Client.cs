using System.Buffers;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Http3.Qpack;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Http3;

/// <summary>The outcome of one request: status, body bytes written to the destination, the head's fields.</summary>
public sealed record Http3Response(int StatusCode, long BodyLength, long? ContentLength, IReadOnlyList<HttpField> Headers);

/// <summary>
/// Minimal HTTP/3 client (RFC 9114): one connection, our control stream with SETTINGS, the server's unidirectional
/// streams handled by <see cref="Http3ControlPlane"/>, and any number of concurrent requests, each on its own
/// bidirectional stream (HEADERS with FIN, then HEADERS [DATA...] [trailers] back). A malformed response aborts its
/// stream with H3_MESSAGE_ERROR; frame-sequence and QPACK errors close the connection.
/// </summary>
public sealed class Http3Client : IAsyncDisposable
{
    public const string Alpn = "h3";

    private readonly IHttp3Connection _connection;
    private readonly ILogger? _logger;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly Http3ControlPlane _control;
    private Task _acceptLoop = Task.CompletedTask;

    private Http3Client(IHttp3Connection connection, ILogger? logger)
    {
        _connection = connection;
        _logger = logger;
        _control = new Http3ControlPlane(connection, isServer: false, logger);
    }

    /// <summary>The QUIC connection underneath, when there is a real one (null over in-memory transports).</summary>
    public QuicConnection? QuicConnection => (_connection as QuicHttp3Connection)?.Connection;

    public Task<Http3Settings> PeerSettings => _control.PeerSettings;

    /// <summary>Connects with ALPN "h3" (added to the options when missing) and starts HTTP/3 on the connection.</summary>
    public static async Task<Http3Client> ConnectAsync(QuicClientConnectionOptions options, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        if (!options.ApplicationProtocols.Contains(Alpn))
            options.ApplicationProtocols.Insert(0, Alpn);
        var connection = await QuicConnection.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
        if (connection.NegotiatedApplicationProtocol != Alpn)
        {
            await connection.CloseAsync((long)Http3ErrorCode.VersionFallback, cancellationToken).ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new Http3Exception(Http3ErrorCode.VersionFallback, $"server chose ALPN '{connection.NegotiatedApplicationProtocol}', not h3");
        }
        return await StartAsync(new QuicHttp3Connection(connection), logger, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts HTTP/3 over an established connection (any <see cref="IHttp3Connection"/>).</summary>
    public static async Task<Http3Client> StartAsync(IHttp3Connection connection, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        var client = new Http3Client(connection, logger);
        await client._control.StartAsync(cancellationToken).ConfigureAwait(false);
        client._acceptLoop = client.AcceptLoopAsync();
        return client;
    }

    private async Task AcceptLoopAsync()
    {
        var token = _lifetime.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                var stream = await _connection.AcceptInboundStreamAsync(token).ConfigureAwait(false);
                if (stream.Type == QuicStreamType.Bidirectional)
                {
                    // Servers never open bidirectional streams in HTTP/3 (§6.1).
                    await _control.FailAsync(new Http3Error(Http3ErrorCode.StreamCreationError, "server opened a bidirectional stream")).ConfigureAwait(false);
                    return;
                }
                _ = _control.HandleUnidirectionalAsync(stream, token);
            }
        }
        catch (Exception e) when (e is QuicException or OperationCanceledException or ObjectDisposedException)
        {
            // Connection closed or client disposed.
        }
    }

    public Task<Http3Response> GetAsync(string authority, string path, Stream destination, Action? onFirstBodyBytes = null, CancellationToken cancellationToken = default) =>
        SendAsync("GET", authority, path, destination, onFirstBodyBytes, cancellationToken);

    /// <summary>Sends a body-less request and copies the response body to <paramref name="destination"/>.</summary>
    public async Task<Http3Response> SendAsync(string method, string authority, string path, Stream destination, Action? onFirstBodyBytes = null, CancellationToken cancellationToken = default)
    {
        if (_control.Failed.IsCompleted)
            throw new Http3Exception(_control.Failed.Result);
        var stream = await _connection.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, cancellationToken).ConfigureAwait(false);
        try
        {
            var request = new ArrayBufferWriter<byte>(128);
            var section = QpackEncoder.Encode([
                new HttpField(":method", method), new HttpField(":scheme", "https"),
                new HttpField(":authority", authority), new HttpField(":path", path),
                new HttpField("user-agent", "fastrelay"),
            ]);
            Http3FrameCodec.WriteFrame(request, (ulong)Http3FrameType.Headers, section);
            await stream.WriteAsync(request.WrittenMemory, completeWrites: true, cancellationToken).ConfigureAwait(false);
            return await ReadResponseAsync(stream, method == "HEAD", destination, onFirstBodyBytes, cancellationToken).ConfigureAwait(false);
        }
        catch (Http3Exception e) when (e.Code == Http3ErrorCode.MessageError)
        {
            stream.Abort(QuicAbortDirection.Both, (long)Http3ErrorCode.MessageError);
            throw;
        }
        catch (Http3Exception e)
        {
            await _control.FailAsync(new Http3Error(e.Code, e.Message)).ConfigureAwait(false);
            throw;
        }
        catch (OperationCanceledException)
        {
            stream.Abort(QuicAbortDirection.Both, (long)Http3ErrorCode.RequestCancelled);
            throw;
        }
    }

    private async Task<Http3Response> ReadResponseAsync(IHttp3Stream stream, bool isHead, Stream destination, Action? onFirstBodyBytes, CancellationToken cancellationToken)
    {
        var reader = new Http3StreamReader(stream);
        Http3ResponseHead? head = null;
        bool trailersSeen = false;
        long body = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (true)
            {
                var header = await reader.ReadFrameHeaderAsync(cancellationToken).ConfigureAwait(false);
                if (header is null)
                    break;
                var frame = header.Value;
                switch (frame.Type)
                {
                    case (ulong)Http3FrameType.Headers:
                        if (trailersSeen)
                            throw new Http3Exception(Http3ErrorCode.FrameUnexpected, "HEADERS after trailers");
                        var fields = await reader.ReadFieldSectionAsync(frame.Length, cancellationToken).ConfigureAwait(false);
                        if (head is null)
                        {
                            if (!Http3Message.TryValidateResponse(fields, out var candidate, out var error))
                                throw new Http3Exception(error);
                            if (candidate.Status < 200)
                                continue; // interim response (§4.1): the final one follows
                            head = candidate;
                        }
                        else
                        {
                            if (!Http3Message.TryValidateTrailers(fields, out var error))
                                throw new Http3Exception(error);
                            trailersSeen = true;
                        }
                        break;
                    case (ulong)Http3FrameType.Data:
                        if (head is null || trailersSeen)
                            throw new Http3Exception(Http3ErrorCode.FrameUnexpected, "DATA outside the response body");
                        long remaining = frame.Length;
                        while (remaining > 0)
                        {
                            int n = await reader.ReadSomeAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), cancellationToken).ConfigureAwait(false);
                            if (n == 0)
                                throw new Http3Exception(Http3ErrorCode.FrameError, "stream ended inside a DATA frame");
                            if (body == 0)
                                onFirstBodyBytes?.Invoke();
                            body += n;
                            remaining -= n;
                            if (isHead || head.Status is 204 or 304 || (head.ContentLength is { } max && body > max))
                                throw new Http3Exception(Http3ErrorCode.MessageError, "more body than the response allows");
                            await destination.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                        }
                        break;
                    case (ulong)Http3FrameType.PushPromise:
                        throw new Http3Exception(Http3ErrorCode.IdError, "PUSH_PROMISE without MAX_PUSH_ID");
                    case (ulong)Http3FrameType.Settings:
                    case (ulong)Http3FrameType.GoAway:
                    case (ulong)Http3FrameType.MaxPushId:
                    case (ulong)Http3FrameType.CancelPush:
                        throw new Http3Exception(Http3ErrorCode.FrameUnexpected, "control frame on a request stream");
                    default:
                        if (Http3FrameCodec.IsHttp2Only(frame.Type))
                            throw new Http3Exception(Http3ErrorCode.FrameUnexpected, "HTTP/2 frame type");
                        await reader.SkipAsync(frame.Length, cancellationToken).ConfigureAwait(false);
                        break;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        if (head is null)
            throw new Http3Exception(Http3ErrorCode.MessageError, "response stream ended without a response");
        if (!isHead && head.ContentLength is { } expected && expected != body)
            throw new Http3Exception(Http3ErrorCode.MessageError, $"content-length {expected} but {body} body bytes");
        _logger?.LogDebug("stream {Id}: status {Status}, {Bytes} bytes", stream.Id, head.Status, body);
        return new Http3Response(head.Status, body, head.ContentLength, head.Headers);
    }

    /// <summary>Closes the connection with H3_NO_ERROR.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_control.Failed.IsCompleted)
        {
            try
            {
                await _connection.CloseAsync((long)Http3ErrorCode.NoError).ConfigureAwait(false);
            }
            catch (Exception e) when (e is QuicException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }
        _lifetime.Cancel();
        await _acceptLoop.ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
        _lifetime.Dispose();
    }
}
