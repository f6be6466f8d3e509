using System.Net;

namespace FastRelay.Protocols.Moq.Transport;

/// <summary>
/// What a MoQ session needs from the connection under it. Two implementations: a raw QUIC connection (ALPN
/// <c>moqt-19</c>) and a WebTransport session over HTTP/3 (WT-Protocol <c>moqt-19</c>). The session, the roles and the
/// relay only ever see this interface, so everything above it works the same for both.
/// </summary>
public interface IMoqTransport : IAsyncDisposable
{
    /// <summary>The negotiated MoQ version identifier (the ALPN or WT-Protocol), e.g. <c>moqt-19</c>.</summary>
    string Protocol { get; }

    /// <summary>Raw QUIC or WebTransport, for logs and the status view.</summary>
    MoqTransportKind Kind { get; }

    EndPoint RemoteEndPoint { get; }

    /// <summary>Opens a stream of ours. Waits for stream credit (MAX_STREAMS); throws when the transport is closed.</summary>
    ValueTask<IMoqStream> OpenStreamAsync(bool bidirectional, CancellationToken cancellationToken = default);

    /// <summary>The next stream the peer opened (either direction); throws when the transport is closed.</summary>
    ValueTask<IMoqStream> AcceptStreamAsync(CancellationToken cancellationToken = default);

    /// <summary>Largest datagram payload that can be sent now; 0 when the peer does not take datagrams.</summary>
    int MaxDatagramPayload { get; }

    /// <summary>Queues one unreliable datagram; false when it is too large or datagrams are not negotiated.</summary>
    bool TrySendDatagram(ReadOnlySpan<byte> payload);

    /// <summary>The next datagram the peer sent; throws when the transport is closed.</summary>
    ValueTask<ReadOnlyMemory<byte>> ReceiveDatagramAsync(CancellationToken cancellationToken = default);

    /// <summary>Closes with an application error code (MoQ session termination code) and a reason.</summary>
    ValueTask CloseAsync(ulong errorCode, string reason, CancellationToken cancellationToken = default);

    /// <summary>Completes when the transport has closed, for whatever reason.</summary>
    Task Closed { get; }

    /// <summary>
    /// Completes as soon as the transport starts closing (a QUIC connection enters closing or draining), which can be
    /// well before <see cref="Closed"/>. Streams still yield what arrived before the close; a read past it throws.
    /// <see cref="CloseErrorCode"/> is known by then. Defaults to <see cref="Closed"/>.
    /// </summary>
    Task Closing => Closed;

    /// <summary>
    /// The application error code the connection was closed with (by either side), once known; null when unknown or
    /// closed without one. Lets a session report the peer's MoQ termination code. Defaults to null, so existing
    /// implementations need not change.
    /// </summary>
    ulong? CloseErrorCode => null;

    /// <summary>
    /// How the transport closed, in words, once known (e.g. "connection closed: local transport error 0xa: ..."): a close
    /// without an application code (a transport error, an idle timeout, a stateless reset) otherwise reads as a clean one.
    /// Null when unknown. Defaults to null.
    /// </summary>
    string? CloseDescription => null;
}

public enum MoqTransportKind { Quic, WebTransport }

/// <summary>One QUIC or WebTransport stream as MoQ uses it.</summary>
public interface IMoqStream : IAsyncDisposable
{
    long Id { get; }
    bool IsBidirectional { get; }
    bool CanRead { get; }
    bool CanWrite { get; }

    /// <summary>Reads what has arrived; 0 at the end of the stream; throws when the peer reset it.</summary>
    ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);

    /// <summary>Writes (waits for flow-control credit), optionally ending the stream.</summary>
    ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, bool completeWrites = false, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes <paramref name="first"/> then <paramref name="second"/> (an object header and its payload). A transport
    /// that can queues both before sending, so the header does not go out in a packet of its own.
    /// </summary>
    async ValueTask WriteAsync(ReadOnlyMemory<byte> first, ReadOnlyMemory<byte> second, bool completeWrites, CancellationToken cancellationToken = default)
    {
        await WriteAsync(first, completeWrites && second.IsEmpty, cancellationToken).ConfigureAwait(false);
        if (!second.IsEmpty) await WriteAsync(second, completeWrites, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Ends the send side (FIN).</summary>
    void CompleteWrites();

    /// <summary>
    /// Completes when the peer acknowledged everything written on the send side, FIN included; faults when the send
    /// side was reset or the transport closed first. Lets a sender close only after its data arrived (a close discards
    /// what was not yet delivered). Defaults to completed (the transport cannot tell).
    /// </summary>
    Task WritesAcknowledged => Task.CompletedTask;

    /// <summary>Abandons the send side with an application error code (RESET_STREAM).</summary>
    void Reset(ulong errorCode);

    /// <summary>Asks the peer to stop sending with an application error code (STOP_SENDING).</summary>
    void StopSending(ulong errorCode);

    /// <summary>
    /// Send priority among this connection's streams: lower is sent first, equal values share round robin. MoQ maps
    /// subscriber priority, publisher priority and group order onto it (draft-19 §"Priorities").
    /// </summary>
    int SendPriority { get; set; }
}
