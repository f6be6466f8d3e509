using System.Net;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Http3.WebTransport;

namespace FastRelay.Protocols.Moq.Transport;

/// <summary>
/// <see cref="IMoqTransport"/> over a <see cref="WebTransportSession"/> whose WT-Protocol is the MoQ version (e.g.
/// <c>moqt-19</c>) — how browsers reach the relay. Failures surface as <see cref="WebTransportException"/> (an
/// <see cref="IOException"/>), e.g. Kind SessionClosed where the interface says "throws when the transport is closed".
/// MoQ session termination codes are 32-bit values on WebTransport (WT_CLOSE_SESSION carries a 32-bit code), so a
/// larger code is refused rather than silently truncated.
/// </summary>
public sealed class WebTransportMoqTransport : IMoqTransport
{
    private readonly WebTransportSession _session;

    /// <param name="session">An established session; its <see cref="WebTransportSession.Protocol"/> must be set.</param>
    public WebTransportMoqTransport(WebTransportSession session)
    {
        _session = session;
        Protocol = session.Protocol ?? throw new ArgumentException("the WebTransport session negotiated no protocol (WT-Protocol), so no MoQ version", nameof(session));
    }

    public string Protocol { get; }
    public MoqTransportKind Kind => MoqTransportKind.WebTransport;
    public EndPoint RemoteEndPoint => _session.RemoteEndPoint;
    public WebTransportSession Session => _session;

    public async ValueTask<IMoqStream> OpenStreamAsync(bool bidirectional, CancellationToken cancellationToken = default) =>
        new Stream(await _session.OpenStreamAsync(bidirectional, cancellationToken).ConfigureAwait(false));

    public async ValueTask<IMoqStream> AcceptStreamAsync(CancellationToken cancellationToken = default) =>
        new Stream(await _session.AcceptStreamAsync(cancellationToken).ConfigureAwait(false));

    public int MaxDatagramPayload => _session.MaxDatagramPayload;

    public bool TrySendDatagram(ReadOnlySpan<byte> payload) => _session.SendDatagram(payload) == DatagramSendResult.Queued;

    public ValueTask<ReadOnlyMemory<byte>> ReceiveDatagramAsync(CancellationToken cancellationToken = default) =>
        _session.ReceiveDatagramAsync(cancellationToken);

    public ValueTask CloseAsync(ulong errorCode, string reason, CancellationToken cancellationToken = default)
    {
        if (errorCode > uint.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(errorCode), errorCode, "WebTransport session close codes are 32-bit");
        return _session.CloseAsync((uint)errorCode, reason, cancellationToken);
    }

    public Task Closed => _session.Closed;

    /// <summary>The WT_CLOSE_SESSION code of whichever side closed the session; null while open or after an abrupt
    /// end (CONNECT stream reset, connection lost), which carries no code.</summary>
    public ulong? CloseErrorCode =>
        _session.Closed.IsCompletedSuccessfully && _session.Closed.Result is { Abrupt: false } info ? info.ErrorCode : null;

    public ValueTask DisposeAsync() => _session.DisposeAsync();

    /// <summary>One WebTransport stream as MoQ sees it. Stream error codes are 32-bit on WebTransport too.</summary>
    private sealed class Stream(WebTransportStream stream) : IMoqStream
    {
        public long Id => stream.Id;
        public bool IsBidirectional => stream.IsBidirectional;
        public bool CanRead => stream.CanRead;
        public bool CanWrite => stream.CanWrite;

        public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => stream.ReadAsync(buffer, cancellationToken);

        public ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, bool completeWrites = false, CancellationToken cancellationToken = default) =>
            stream.WriteAsync(buffer, completeWrites, cancellationToken);

        public void CompleteWrites() => stream.CompleteWrites();

        public Task WritesAcknowledged => stream.QuicStream.WritesClosed;

        public void Reset(ulong errorCode) => stream.Reset(ToStreamCode(errorCode));

        public void StopSending(ulong errorCode) => stream.StopSending(ToStreamCode(errorCode));

        /// <summary>The QUIC stream's send priority: lower leaves first across the whole connection.</summary>
        public int SendPriority
        {
            get => stream.SendPriority;
            set => stream.SendPriority = value;
        }

        public ValueTask DisposeAsync() => stream.DisposeAsync();

        private static uint ToStreamCode(ulong code) =>
            code <= uint.MaxValue ? (uint)code : throw new ArgumentOutOfRangeException(nameof(code), code, "WebTransport stream error codes are 32-bit");
    }
}
