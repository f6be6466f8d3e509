using System.Buffers;
using FastRelay.Protocols.Quic.Api;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Http3;

/// <summary>
/// The connection-wide part of HTTP/3 that client and server share: our control stream (type 0x00, SETTINGS first),
/// the peer's unidirectional streams (RFC 9114 §6.2) and connection errors. Exactly one control stream each way; the
/// QPACK encoder/decoder streams are drained (our table capacity is 0, so nothing on them matters); push streams are
/// refused because we never send MAX_PUSH_ID; unknown stream types get STOP_SENDING H3_STREAM_CREATION_ERROR.
/// </summary>
public sealed class Http3ControlPlane
{
    private readonly IHttp3Connection _connection;
    private readonly bool _isServer;
    private readonly ILogger? _logger;
    private readonly TaskCompletionSource<Http3Settings> _peerSettings = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<Http3Error> _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _controlWrite = new(1, 1);
    private readonly TaskCompletionSource _peerGoAway = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IHttp3Stream? _control;
    private int _peerControl, _peerEncoder, _peerDecoder;
    private long _goAwayId = -1;

    private readonly Http3Settings _localSettings;

    /// <param name="localSettings">Our SETTINGS; <see cref="Http3Settings.Ours"/> when null (extensions such as
    /// WebTransport add their identifiers).</param>
    public Http3ControlPlane(IHttp3Connection connection, bool isServer, ILogger? logger, Http3Settings? localSettings = null)
    {
        _connection = connection;
        _isServer = isServer;
        _logger = logger;
        _localSettings = localSettings ?? Http3Settings.Ours;
    }

    /// <summary>Completes with the peer's SETTINGS (client: before the first response is interpreted).</summary>
    public Task<Http3Settings> PeerSettings => _peerSettings.Task;

    /// <summary>Completes when the connection failed with an HTTP/3 error (we closed it).</summary>
    public Task<Http3Error> Failed => _failed.Task;

    /// <summary>Completes at the peer's first GOAWAY (WebTransport sessions start draining on it).</summary>
    public Task PeerGoAway => _peerGoAway.Task;

    /// <summary>The stream/push id of the peer's last GOAWAY, or -1.</summary>
    public long PeerGoAwayId => Interlocked.Read(ref _goAwayId);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _control = await _connection.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, cancellationToken).ConfigureAwait(false);
        var bytes = new ArrayBufferWriter<byte>(64);
        Http3FrameCodec.WriteVarint(bytes, (ulong)Http3StreamType.Control);
        _localSettings.WriteFrame(bytes);
        await _control.WriteAsync(bytes.WrittenMemory, completeWrites: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>GOAWAY on our control stream (server: the first request stream id we will not process).</summary>
    public async Task SendGoAwayAsync(ulong id, CancellationToken cancellationToken)
    {
        if (_control is null)
            return;
        var bytes = new ArrayBufferWriter<byte>(16);
        Http3FrameCodec.WriteSingleVarintFrame(bytes, Http3FrameType.GoAway, id);
        await _controlWrite.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _control.WriteAsync(bytes.WrittenMemory, completeWrites: false, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _controlWrite.Release();
        }
    }

    /// <summary>Closes the connection with an HTTP/3 error; the first error wins.</summary>
    public async Task FailAsync(Http3Error error)
    {
        if (!_failed.TrySetResult(error))
            return;
        _logger?.LogWarning("HTTP/3 connection error {Error}", error);
        _peerSettings.TrySetException(new Http3Exception(error));
        try
        {
            await _connection.CloseAsync((long)error.Code).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicException or ObjectDisposedException or InvalidOperationException)
        {
            // Already closed: nothing more to tell the peer.
        }
    }

    /// <summary>Handles one inbound unidirectional stream until it ends (runs for the connection's lifetime for the
    /// critical streams).</summary>
    public Task HandleUnidirectionalAsync(IHttp3Stream stream, CancellationToken cancellationToken) =>
        HandleUnidirectionalAsync(stream, knownType: null, cancellationToken);

    /// <summary>Same, for a stream whose type varint an extension already read (and did not claim).</summary>
    public Task HandleUnidirectionalAsync(IHttp3Stream stream, ulong streamType, CancellationToken cancellationToken) =>
        HandleUnidirectionalAsync(stream, (ulong?)streamType, cancellationToken);

    private async Task HandleUnidirectionalAsync(IHttp3Stream stream, ulong? knownType, CancellationToken cancellationToken)
    {
        var reader = new Http3StreamReader(stream);
        try
        {
            var type = knownType ?? await reader.ReadVarintAsync(cancellationToken).ConfigureAwait(false);
            if (type is null)
                return; // ended before its type: nothing to act on (§6.2)
            switch (type.Value)
            {
                case (ulong)Http3StreamType.Control:
                    if (Interlocked.Exchange(ref _peerControl, 1) != 0)
                        throw new Http3Exception(Http3ErrorCode.StreamCreationError, "second control stream");
                    await ReadControlStreamAsync(reader, cancellationToken).ConfigureAwait(false);
                    break;
                case (ulong)Http3StreamType.QpackEncoder:
                case (ulong)Http3StreamType.QpackDecoder:
                    if (!MarkQpackStream(type.Value == (ulong)Http3StreamType.QpackEncoder))
                        throw new Http3Exception(Http3ErrorCode.StreamCreationError, "second QPACK encoder/decoder stream");
                    await reader.DrainAsync(cancellationToken).ConfigureAwait(false);
                    throw new Http3Exception(Http3ErrorCode.ClosedCriticalStream, "peer closed a QPACK stream");
                case (ulong)Http3StreamType.Push:
                    // Only servers push, and only up to a MAX_PUSH_ID we never sent (§4.6, §6.2.2).
                    throw _isServer
                        ? new Http3Exception(Http3ErrorCode.StreamCreationError, "client opened a push stream")
                        : new Http3Exception(Http3ErrorCode.IdError, "push stream without MAX_PUSH_ID");
                default:
                    stream.Abort(QuicAbortDirection.Read, (long)Http3ErrorCode.StreamCreationError);
                    break;
            }
        }
        catch (Http3Exception e)
        {
            await FailAsync(new Http3Error(e.Code, e.Message)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicException or OperationCanceledException or ObjectDisposedException)
        {
            // The connection is going away; its owner reports that.
        }
    }

    private bool MarkQpackStream(bool encoder) =>
        Interlocked.Exchange(ref encoder ? ref _peerEncoder : ref _peerDecoder, 1) == 0;

    private async Task ReadControlStreamAsync(Http3StreamReader reader, CancellationToken cancellationToken)
    {
        bool first = true;
        while (true)
        {
            var header = await reader.ReadFrameHeaderAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new Http3Exception(Http3ErrorCode.ClosedCriticalStream, "peer closed its control stream");
            if (first && header.Type != (ulong)Http3FrameType.Settings)
                throw new Http3Exception(Http3ErrorCode.MissingSettings, "control stream does not start with SETTINGS");
            switch (header.Type)
            {
                case (ulong)Http3FrameType.Settings:
                    if (!first)
                        throw new Http3Exception(Http3ErrorCode.FrameUnexpected, "second SETTINGS frame");
                    var payload = await reader.ReadPayloadAsync(header.Length, cancellationToken).ConfigureAwait(false);
                    if (!Http3Settings.TryParse(payload, out var settings, out var error))
                        throw new Http3Exception(error);
                    _logger?.LogDebug("peer SETTINGS: qpack capacity {Capacity}, blocked {Blocked}, max field section {Max}, other {Other}",
                        settings.QpackMaxTableCapacity, settings.QpackBlockedStreams, settings.MaxFieldSectionSize,
                        string.Join(" ", settings.Other.Select(p => $"0x{p.Key:x}={p.Value}")));
                    _peerSettings.TrySetResult(settings);
                    break;
                case (ulong)Http3FrameType.GoAway:
                    var goAway = await reader.ReadPayloadAsync(header.Length, cancellationToken).ConfigureAwait(false);
                    if (!Http3FrameCodec.TryReadSingleVarint(goAway, out ulong id, out var goAwayError))
                        throw new Http3Exception(goAwayError);
                    // A server's GOAWAY carries a client-initiated bidirectional stream id (§5.2); ids only decrease.
                    if (!_isServer && id % 4 != 0)
                        throw new Http3Exception(Http3ErrorCode.IdError, "GOAWAY id is not a client bidirectional stream id");
                    long previous = PeerGoAwayId;
                    if (previous >= 0 && (long)id > previous)
                        throw new Http3Exception(Http3ErrorCode.IdError, "GOAWAY id increased");
                    Interlocked.Exchange(ref _goAwayId, (long)id);
                    _peerGoAway.TrySetResult();
                    _logger?.LogDebug("peer GOAWAY {Id}", id);
                    break;
                case (ulong)Http3FrameType.MaxPushId:
                    if (!_isServer)
                        throw new Http3Exception(Http3ErrorCode.FrameUnexpected, "MAX_PUSH_ID from a server");
                    var maxPush = await reader.ReadPayloadAsync(header.Length, cancellationToken).ConfigureAwait(false);
                    if (!Http3FrameCodec.TryReadSingleVarint(maxPush, out _, out var maxPushError))
                        throw new Http3Exception(maxPushError);
                    break; // we never push, so the limit does not matter
                case (ulong)Http3FrameType.CancelPush:
                    var cancel = await reader.ReadPayloadAsync(header.Length, cancellationToken).ConfigureAwait(false);
                    if (!Http3FrameCodec.TryReadSingleVarint(cancel, out _, out var cancelError))
                        throw new Http3Exception(cancelError);
                    // Client side: no push id was ever allowed, so any id references a push we did not permit (§7.2.3).
                    if (!_isServer)
                        throw new Http3Exception(Http3ErrorCode.IdError, "CANCEL_PUSH without MAX_PUSH_ID");
                    break; // server side: we promised nothing, so there is nothing to cancel
                case (ulong)Http3FrameType.Data:
                case (ulong)Http3FrameType.Headers:
                case (ulong)Http3FrameType.PushPromise:
                    throw new Http3Exception(Http3ErrorCode.FrameUnexpected, "request frame on the control stream");
                default:
                    if (Http3FrameCodec.IsHttp2Only(header.Type))
                        throw new Http3Exception(Http3ErrorCode.FrameUnexpected, "HTTP/2 frame type");
                    await reader.SkipAsync(header.Length, cancellationToken).ConfigureAwait(false);
                    break;
            }
            first = false;
        }
    }
}
