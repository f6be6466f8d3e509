using System.Net;
using FastRelay.Protocols.Quic.Api;

namespace FastRelay.Protocols.Moq.Transport;

/// <summary>
/// <see cref="IMoqTransport"/> over one of our raw QUIC connections (ALPN <c>moqt-19</c>). Streams map one to one;
/// application error codes pass through unchanged. The QUIC API has no DATAGRAM delivery yet, so datagrams report a
/// payload limit of 0 (the session then sends objects on streams only).
/// </summary>
public sealed class QuicMoqTransport : IMoqTransport
{
    /// <summary>The ALPN of MoQ transport draft-19 over raw QUIC.</summary>
    public const string Alpn = "moqt-19";

    private readonly QuicConnection _connection;
    private readonly bool _objectReadsOnReceiveThread;
    private ulong? _closeErrorCode;
    private string? _closeDescription;

    /// <param name="objectReadsOnReceiveThread">The peer's unidirectional streams (objects) are read on the connection's
    /// receive thread (<see cref="QuicStream.CompletesReadsOnReceiveThread"/>): one thread hand-off less per read, right
    /// for a subscriber. A relay passes false: its receive thread also serves every subscriber's ACKs and the kernel's
    /// registrations, and a burst of upstream chunks on it delays them (see RelayHost).</param>
    public QuicMoqTransport(QuicConnection connection, bool objectReadsOnReceiveThread = true)
    {
        _connection = connection;
        _objectReadsOnReceiveThread = objectReadsOnReceiveThread;
        Closing = CaptureCloseCodeAsync(connection);
        Closed = Task.WhenAll(Closing, connection.Closed);
    }

    /// <summary>
    /// Completes when the connection starts closing, after learning its application close code: the QUIC API reports it
    /// only through the exception of an operation on the closing connection, so one harmless open attempt asks for it.
    /// </summary>
    private async Task CaptureCloseCodeAsync(QuicConnection connection)
    {
        try { await connection.Closing.ConfigureAwait(false); } catch (Exception) { }
        try { await connection.OpenOutboundStreamAsync(QuicStreamType.Unidirectional).ConfigureAwait(false); }
        catch (QuicException e) { Remember(e); }
        catch (Exception) { }
    }

    public QuicConnection Connection => _connection;
    public string Protocol => string.IsNullOrEmpty(_connection.NegotiatedApplicationProtocol) ? Alpn : _connection.NegotiatedApplicationProtocol;
    public MoqTransportKind Kind => MoqTransportKind.Quic;
    public EndPoint RemoteEndPoint => _connection.RemoteEndPoint;
    public Task Closed { get; }
    public Task Closing { get; }
    public ulong? CloseErrorCode => _closeErrorCode;
    public string? CloseDescription => _closeDescription;

    public async ValueTask<IMoqStream> OpenStreamAsync(bool bidirectional, CancellationToken cancellationToken = default)
    {
        try
        {
            var stream = await _connection.OpenOutboundStreamAsync(bidirectional ? QuicStreamType.Bidirectional : QuicStreamType.Unidirectional, cancellationToken).ConfigureAwait(false);
            return new QuicMoqStream(stream, _objectReadsOnReceiveThread);
        }
        catch (QuicException e) { Remember(e); throw; }
    }

    public async ValueTask<IMoqStream> AcceptStreamAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return new QuicMoqStream(await _connection.AcceptInboundStreamAsync(cancellationToken).ConfigureAwait(false), _objectReadsOnReceiveThread);
        }
        catch (QuicException e) { Remember(e); throw; }
    }

    // No DATAGRAM delivery in the QUIC API yet: nothing can be sent or received.
    public int MaxDatagramPayload => 0;

    public bool TrySendDatagram(ReadOnlySpan<byte> payload) => false;

    public async ValueTask<ReadOnlyMemory<byte>> ReceiveDatagramAsync(CancellationToken cancellationToken = default)
    {
        // Never produces a datagram; ends (throws) when the connection closes, as the contract says.
        await Closed.WaitAsync(cancellationToken).ConfigureAwait(false);
        throw new QuicException(QuicErrorKind.OperationAborted, "the connection is closed");
    }

    public async ValueTask CloseAsync(ulong errorCode, string reason, CancellationToken cancellationToken = default)
    {
        _closeErrorCode ??= errorCode;
        // The QUIC API carries no reason phrase on close; the code is what reaches the peer.
        await _connection.CloseAsync((long)errorCode, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    private void Remember(QuicException e)
    {
        if (e.Kind == QuicErrorKind.ConnectionAborted && e.ApplicationErrorCode is { } code) _closeErrorCode ??= (ulong)code;
        // The connection's own account (who closed, transport or application, which code, idle timeout, stateless reset).
        if (e.Kind is QuicErrorKind.ConnectionAborted or QuicErrorKind.TransportError or QuicErrorKind.ConnectionIdle or QuicErrorKind.HandshakeFailed)
            _closeDescription ??= e.Message;
    }
}

/// <summary>One QUIC stream as an <see cref="IMoqStream"/>.</summary>
internal sealed class QuicMoqStream : IMoqStream
{
    private readonly QuicStream stream;

    public QuicMoqStream(QuicStream stream, bool objectReadsOnReceiveThread)
    {
        this.stream = stream;
        // The peer's unidirectional streams carry objects (subgroups, fetches): their readers only parse and hand on
        // through queues and awaits, so they may run on the receive thread, one thread hand-off less per read. Request
        // and control streams stay on the thread pool: their messages reach application handlers.
        if (objectReadsOnReceiveThread && stream.Type == QuicStreamType.Unidirectional && stream.CanRead) stream.CompletesReadsOnReceiveThread = true;
    }

    public long Id => stream.Id;
    public bool IsBidirectional => stream.Type == QuicStreamType.Bidirectional;
    public bool CanRead => stream.CanRead;
    public bool CanWrite => stream.CanWrite;

    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => stream.ReadAsync(buffer, cancellationToken);

    public ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, bool completeWrites = false, CancellationToken cancellationToken = default) =>
        stream.WriteAsync(buffer, completeWrites, cancellationToken);

    public ValueTask WriteAsync(ReadOnlyMemory<byte> first, ReadOnlyMemory<byte> second, bool completeWrites, CancellationToken cancellationToken = default) =>
        stream.WriteAsync(first, second, completeWrites, cancellationToken);

    public void CompleteWrites()
    {
        try { stream.CompleteWrites(); } catch (QuicException) { } // already closed: nothing left to end
    }

    public Task WritesAcknowledged => stream.WritesClosed;

    public void Reset(ulong errorCode)
    {
        try { stream.Abort(QuicAbortDirection.Write, (long)errorCode); } catch (QuicException) { }
    }

    public void StopSending(ulong errorCode)
    {
        try { stream.Abort(QuicAbortDirection.Read, (long)errorCode); } catch (QuicException) { }
    }

    /// <summary>The QUIC stream's send priority: lower leaves first across the whole connection.</summary>
    public int SendPriority
    {
        get => stream.SendPriority;
        set => stream.SendPriority = value;
    }

    public ValueTask DisposeAsync() => stream.DisposeAsync();
}
