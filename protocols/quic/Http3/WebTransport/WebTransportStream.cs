using FastRelay.Protocols.Quic.Api;

namespace FastRelay.Protocols.Quic.Http3.WebTransport;

/// <summary>
/// One WebTransport stream: a QUIC stream whose header (stream type or WT_STREAM signal, then the session id) has
/// already been written or read, so everything through this object is application payload. Reset and stop-sending
/// codes are the 32-bit WebTransport application codes; on the wire they are mapped into the HTTP/3 space.
/// </summary>
public sealed class WebTransportStream : IAsyncDisposable
{
    private readonly QuicStream _stream;
    private readonly WebTransportSession _session;

    internal WebTransportStream(WebTransportSession session, QuicStream stream, bool locallyOpened)
    {
        _session = session;
        _stream = stream;
        IsLocallyOpened = locallyOpened;
    }

    public long Id => _stream.Id;
    public bool IsBidirectional => _stream.Type == QuicStreamType.Bidirectional;
    public bool IsLocallyOpened { get; }
    public bool CanRead => _stream.CanRead;
    public bool CanWrite => _stream.CanWrite;
    public WebTransportSession Session => _session;

    /// <summary>Send priority among the connection's streams (lower leaves first, equal share round robin); the QUIC
    /// stream's own, so it orders this session's streams against every other stream on the connection.</summary>
    public int SendPriority
    {
        get => _stream.SendPriority;
        set => _stream.SendPriority = value;
    }

    /// <summary>The QUIC stream underneath (for transport-level knobs; its bytes are the application payload).</summary>
    public QuicStream QuicStream => _stream;

    /// <summary>Reads payload; 0 at FIN. A peer reset throws <see cref="WebTransportException"/> (StreamAborted, with the
    /// application code), a session that ended throws it with SessionClosed.</summary>
    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            return await _stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (QuicException e)
        {
            throw Translate(e);
        }
    }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, bool completeWrites = false, CancellationToken cancellationToken = default)
    {
        try
        {
            await _stream.WriteAsync(buffer, completeWrites, cancellationToken).ConfigureAwait(false);
        }
        catch (QuicException e)
        {
            throw Translate(e);
        }
    }

    public void CompleteWrites()
    {
        try
        {
            _stream.CompleteWrites();
        }
        catch (QuicException e)
        {
            throw Translate(e);
        }
    }

    /// <summary>RESET_STREAM with the application code (mapped). The draft asks for RESET_STREAM_AT so the header
    /// survives; our QUIC stack has no RESET_STREAM_AT yet, so a reset before the header arrived loses the stream.</summary>
    public void Reset(uint errorCode) => AbortQuietly(QuicAbortDirection.Write, WebTransportErrorCodes.ToHttp3(errorCode));

    /// <summary>STOP_SENDING with the application code (mapped).</summary>
    public void StopSending(uint errorCode) => AbortQuietly(QuicAbortDirection.Read, WebTransportErrorCodes.ToHttp3(errorCode));

    /// <summary>Session termination: both directions with WT_SESSION_GONE (draft §6).</summary>
    internal void AbortForSessionEnd() => AbortQuietly(QuicAbortDirection.Both, WebTransportHttp3Error.SessionGone);

    private void AbortQuietly(QuicAbortDirection direction, long code)
    {
        try
        {
            _stream.Abort(direction, code);
        }
        catch (Exception e) when (e is QuicException or ObjectDisposedException or InvalidOperationException)
        {
            // The connection is gone already: the stream is as aborted as it gets.
        }
    }

    private WebTransportException Translate(QuicException e)
    {
        if (e.Kind == QuicErrorKind.StreamAborted && e.ApplicationErrorCode is { } wire)
        {
            if (wire == WebTransportHttp3Error.SessionGone)
                return new WebTransportException(WebTransportErrorKind.SessionClosed, $"stream {Id}: the session is gone", http3ErrorCode: wire, inner: e);
            return WebTransportErrorCodes.TryFromHttp3(wire, out uint code)
                ? new WebTransportException(WebTransportErrorKind.StreamAborted, $"stream {Id} aborted by the peer with code {code}", code, wire, inner: e)
                : new WebTransportException(WebTransportErrorKind.StreamAborted, $"stream {Id} aborted by the peer (HTTP/3 code 0x{wire:x})", null, wire, inner: e);
        }
        if (_session.Closed.IsCompleted || e.Kind is QuicErrorKind.ConnectionAborted or QuicErrorKind.ConnectionIdle or QuicErrorKind.TransportError)
            return new WebTransportException(WebTransportErrorKind.SessionClosed, $"stream {Id}: {e.Message}", inner: e);
        return new WebTransportException(WebTransportErrorKind.StreamAborted, $"stream {Id}: {e.Message}", null, e.ApplicationErrorCode, inner: e);
    }

    /// <summary>Ends our side gracefully if still open (FIN); reading is left to the peer's FIN.</summary>
    public ValueTask DisposeAsync()
    {
        if (CanWrite)
        {
            try
            {
                _stream.CompleteWrites();
            }
            catch (Exception e) when (e is QuicException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }
        return ValueTask.CompletedTask;
    }
}
